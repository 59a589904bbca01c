const path = require('path')
const simulate = require('miniprogram-simulate')
const { installWx, fakeServer, errorBody, renderPage, textOf, byClass, waitFor } = require('../helpers/wx')

const LOGGED_IN = { 'auth.token': 'tok-1', 'auth.expires_at': '2099-01-01T00:00:00Z' }
const KEY_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/
const MINUTES = '/api/consultations/5/minutes'
const GROUP_LABELS = { member: '政协委员', resident: '群众代表', stakeholder: '利益相关方', official: '党政领导', department: '职能部门' }

// app/consultations/schemas.py SpeechOut / MinutesOut
function speech(seq, speaker_name, group, text) {
  return { seq, speaker_name, group, group_label: GROUP_LABELS[group], text, created_at: `2026-12-10T06:4${seq}:00.123456Z` }
}
function minutesBody(items, notes = []) {
  return { items, notes }
}
const FIRST = speech(1, '钱委员', 'member', '介绍调研情况')
const D16 = 'D16：建议先请群众代表发言'

let pageId
beforeAll(() => {
  pageId = simulate.load(path.join(__dirname, '../../pages/minutes/minutes'))
})

function minutesServer({ list = minutesBody([FIRST], [D16]), add } = {}) {
  return fakeServer(req => {
    if (req.method === 'GET' && req.path === MINUTES) return { status: 200, body: list }
    if (req.method === 'POST' && req.path === MINUTES) {
      return add ? add(req) : { status: 201, body: minutesBody([FIRST, speech(2, req.data.speaker_name, req.data.group, req.data.text)], []) }
    }
    return undefined
  })
}

const tap = (page, cls) => page.querySelector(`.${cls}`).dispatchEvent('tap')
async function fire(page, cls, event, value) {
  page.querySelector(`.${cls}`).dispatchEvent(event, { detail: { value } })
  await simulate.sleep(0)
}

async function open(page, id = '5') {
  await page.instance.onLoad({ id })
}

test('the speeches in order with the D16 reminder; a new speech is POSTed and the list and reminders replaced', async () => {
  const env = installWx({ storage: LOGGED_IN })
  const server = minutesServer()
  const page = renderPage(simulate, pageId)
  await open(page)

  expect(server.calls.map(c => `${c.method} ${c.path}`).sort()).toEqual(['GET /api/consultations/5', `GET ${MINUTES}`])
  expect(textOf(page.querySelector('.notes'))).toBe(D16)
  expect(byClass(page, 'speech').map(textOf)).toEqual(['1. 钱委员 （政协委员） 介绍调研情况'])
  // Residents head the picker (D16).
  expect(textOf(page.querySelector('.group-picker'))).toBe('群众代表 ▾')

  await fire(page, 'speaker-input', 'input', ' 王 大爷 ')
  await fire(page, 'group-picker', 'change', '1')
  await fire(page, 'text-input', 'input', '  电梯费用按楼层分摊 \n')
  tap(page, 'submit-btn')
  await waitFor(() => env.toast.mock.calls.length > 0)

  const [post] = server.calls.filter(c => c.method === 'POST')
  expect(post.path).toBe(MINUTES)
  expect(post.header.Authorization).toBe('Bearer tok-1')
  expect(post.header['Idempotency-Key']).toMatch(KEY_RE)
  expect(post.data).toEqual({ group: 'stakeholder', text: '电梯费用按楼层分摊', speaker_name: '王 大爷' })
  expect(env.toastTitles()).toEqual(['发言已记录'])
  expect(byClass(page, 'speech').map(textOf)).toEqual([
    '1. 钱委员 （政协委员） 介绍调研情况',
    '2. 王 大爷 （利益相关方） 电梯费用按楼层分摊',
  ])
  expect(page.querySelector('.notes')).toBeFalsy()
  expect(page.instance.data.speaker).toBe('')
  expect(page.instance.data.text).toBe('')
})

test('speaker and text are required before sending', async () => {
  installWx({ storage: LOGGED_IN })
  const server = minutesServer()
  const page = renderPage(simulate, pageId)
  await open(page)
  tap(page, 'submit-btn')
  await simulate.sleep(0)
  expect(textOf(page.querySelector('.form-error'))).toBe('请填写发言人')
  await fire(page, 'speaker-input', 'input', '王大爷')
  tap(page, 'submit-btn')
  await simulate.sleep(0)
  expect(textOf(page.querySelector('.form-error'))).toBe('请填写发言内容')
  expect(server.calls.filter(c => c.method === 'POST')).toHaveLength(0)
})

test('409 research_required shows the server message and keeps the form', async () => {
  const env = installWx({ storage: LOGGED_IN })
  const message = '议题尚未完成调研，不能召开协商会议（不调研不协商）'
  minutesServer({ list: minutesBody([]), add: () => ({ status: 409, body: errorBody('research_required', message) }) })
  const page = renderPage(simulate, pageId)
  await open(page)
  expect(textOf(page.querySelector('.speeches'))).toBe('发言记录 还没有发言记录。请先请群众代表发言。')

  await fire(page, 'speaker-input', 'input', '王大爷')
  await fire(page, 'text-input', 'input', '希望尽快加装')
  tap(page, 'submit-btn')
  await waitFor(() => page.querySelector('.submit-error'))
  expect(textOf(page.querySelector('.submit-error'))).toBe(message)
  expect(env.toastTitles()).toEqual([message])
  expect(page.instance.data.speaker).toBe('王大爷')
  expect(page.instance.data.text).toBe('希望尽快加装')
})

test('a retry after a network failure sends the same Idempotency-Key; the next speech a new one', async () => {
  const env = installWx({ storage: LOGGED_IN })
  let n = 0
  const server = minutesServer({
    add: req => {
      n += 1
      return n === 1 ? { fail: 'timeout' } : { status: 201, body: minutesBody([FIRST, speech(n, req.data.speaker_name, req.data.group, req.data.text)]) }
    },
  })
  const page = renderPage(simulate, pageId)
  await open(page)
  await fire(page, 'speaker-input', 'input', '王大爷')
  await fire(page, 'text-input', 'input', '希望尽快加装')
  tap(page, 'submit-btn')
  await waitFor(() => page.querySelector('.submit-error'))
  expect(textOf(page.querySelector('.submit-error'))).toBe('网络不佳，请稍后重试')
  tap(page, 'submit-btn')
  await waitFor(() => env.toastTitles().includes('发言已记录'))

  await fire(page, 'speaker-input', 'input', '赵店主')
  await fire(page, 'text-input', 'input', '施工期间影响生意')
  tap(page, 'submit-btn')
  await waitFor(() => env.toastTitles().filter(t => t === '发言已记录').length === 2)

  const keys = server.calls.filter(c => c.method === 'POST').map(c => c.header['Idempotency-Key'])
  expect(keys).toHaveLength(3)
  expect(keys[1]).toBe(keys[0])
  expect(keys[2]).not.toBe(keys[0])
})

test('a list that cannot be read can be reloaded; an invalid id sends nothing', async () => {
  installWx({ storage: LOGGED_IN })
  let fail = true
  fakeServer(req => (req.path === MINUTES
    ? (fail ? { status: 404, body: errorBody('consultation_not_found', '该协商活动不存在') } : { status: 200, body: minutesBody([FIRST]) })
    : undefined))
  const page = renderPage(simulate, pageId)
  await open(page)
  expect(textOf(page.querySelector('.load-error'))).toBe('该协商活动不存在')
  fail = false
  tap(page, 'retry-btn')
  await waitFor(() => page.instance.data.speeches.length === 1)

  const server = minutesServer()
  const other = renderPage(simulate, pageId)
  const before = server.calls.length
  await other.instance.onLoad({ id: 'x' })
  expect(textOf(other)).toBe('会议链接无效，请从会议页面重新打开')
  expect(server.calls.length).toBe(before)
})

// --- once the opinion list is routed (issue 10 item 5) -------------------------------------

const DETAIL = '/api/consultations/5'
function detail(state) {
  return { id: 5, topic_title: '老旧小区加装电梯', state, state_label: state === 'concluded' ? '已形成意见清单' : '已召开', can_manage: true }
}

test('concluded: the speeches read-only, with a line saying the opinion list was sent and the record is closed', async () => {
  installWx({ storage: LOGGED_IN })
  const server = fakeServer(req => {
    if (req.method === 'GET' && req.path === MINUTES) return { status: 200, body: minutesBody([FIRST], [D16]) }
    if (req.method === 'GET' && req.path === DETAIL) return { status: 200, body: detail('concluded') }
    return undefined
  })
  const page = renderPage(simulate, pageId)
  await open(page)

  expect(byClass(page, 'speech').map(textOf)).toEqual(['1. 钱委员 （政协委员） 介绍调研情况'])
  expect(textOf(page.querySelector('.record-closed'))).toBe('意见清单已报送，会议记录已关闭，只能查看，不能再签到或记录发言。')
  for (const cls of ['add', 'submit-btn', 'speaker-input', 'text-input', 'notes']) expect(page.querySelector(`.${cls}`)).toBeFalsy()
  expect(server.calls.filter(c => c.method !== 'GET')).toHaveLength(0)
})

test('409 consultation_concluded on a new speech (routed meanwhile): the page turns read-only, the list kept', async () => {
  installWx({ storage: LOGGED_IN })
  const message = '意见清单已报送，会议记录已关闭，不能再签到或记录发言'
  let routed = false
  fakeServer(req => {
    if (req.method === 'GET' && req.path === MINUTES) return { status: 200, body: minutesBody([FIRST]) }
    if (req.method === 'GET' && req.path === DETAIL) return { status: 200, body: detail(routed ? 'concluded' : 'held') }
    if (req.method === 'POST' && req.path === MINUTES) {
      routed = true
      return { status: 409, body: errorBody('consultation_concluded', message) }
    }
    return undefined
  })
  const page = renderPage(simulate, pageId)
  await open(page)
  expect(page.querySelector('.record-closed')).toBeFalsy()
  await fire(page, 'speaker-input', 'input', '王大爷')
  await fire(page, 'text-input', 'input', '希望尽快加装')
  tap(page, 'submit-btn')
  await waitFor(() => page.querySelector('.record-closed'))
  expect(textOf(page.querySelector('.record-closed'))).toBe('意见清单已报送，会议记录已关闭，只能查看，不能再签到或记录发言。')
  expect(page.querySelector('.submit-btn')).toBeFalsy()
  expect(byClass(page, 'speech').map(textOf)).toEqual(['1. 钱委员 （政协委员） 介绍调研情况'])
})
