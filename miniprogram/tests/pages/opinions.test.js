const path = require('path')
const simulate = require('miniprogram-simulate')
const { installWx, fakeServer, fakeDownloads, errorBody, renderPage, textOf, byClass, waitFor } = require('../helpers/wx')

const LOGGED_IN = { 'auth.token': 'tok-1', 'auth.expires_at': '2099-01-01T00:00:00Z' }
const KEY_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/
const OPINIONS = '/api/consultations/5/opinions'
const ROUTE = '/api/consultations/5/opinions/route'
const GROUP_LABELS = { member: '政协委员', resident: '群众代表', stakeholder: '利益相关方', official: '党政领导', department: '职能部门' }
const SCOPE_LABELS = { local: '本级可解决', county: '需县（区）解决', city: '需市级解决' }

// app/consultations/schemas.py OpinionItemOut / RoutingOut / OpinionListOut
function itemOut(seq, text, raised_by, scope) {
  return { seq, text, raised_by, raised_by_label: GROUP_LABELS[raised_by], scope, scope_label: SCOPE_LABELS[scope] }
}
function routingOut(id, body_name, scope, state, state_label, extra = {}) {
  return {
    id, scope, scope_label: SCOPE_LABELS[scope], stage: 1, action: 'receive', body_id: 40 + id, body_name,
    state, state_label, decided_at: null, note: null, ...extra,
  }
}
function listOut(items, overrides = {}) {
  return {
    consultation_id: 5, title: '老旧小区加装电梯', state: 'draft', routed_at: null, items, routings: [],
    word_url: '/api/consultations/5/opinions.docx', excel_url: '/api/consultations/5/opinions.xlsx', ...overrides,
  }
}
const DRAFT = listOut([itemOut(1, '按楼层分摊加装费用', 'resident', 'local'), itemOut(2, '申请市级加装补贴', 'member', 'city')])
const ROUTED = listOut(DRAFT.items, {
  state: 'routed', routed_at: '2026-12-11T02:00:00Z',
  routings: [
    routingOut(1, '前进镇党委', 'local', 'pending', '待处理'),
    routingOut(2, '市政协党组', 'city', 'pending', '待处理'),
    routingOut(3, '市委、市政府', 'city', 'waiting', '待上一环节转送', { stage: 2, action: 'receive' }),
  ],
})

let pageId
beforeAll(() => {
  pageId = simulate.load(path.join(__dirname, '../../pages/opinions/opinions'))
})

function opinionsServer({ list = { status: 200, body: DRAFT }, save, route } = {}) {
  return fakeServer(req => {
    if (req.method === 'GET' && req.path === OPINIONS) return typeof list === 'function' ? list(req) : list
    if (req.method === 'PUT' && req.path === OPINIONS) {
      return save ? save(req) : { status: 200, body: listOut(req.data.items.map((i, n) => itemOut(n + 1, i.text, i.raised_by, i.scope))) }
    }
    if (req.method === 'POST' && req.path === ROUTE) return route ? route(req) : { status: 200, body: ROUTED }
    return undefined
  })
}

const tap = node => node.dispatchEvent('tap')
const tapClass = (page, cls) => tap(page.querySelector(`.${cls}`))
async function fire(node, event, value) {
  node.dispatchEvent(event, { detail: { value } })
  await simulate.sleep(0)
}
const nth = (page, cls, n) => page.querySelectorAll(`.${cls}`)[n]

async function open(page, id = '5') {
  await page.instance.onLoad({ id })
}

test('a draft is shown in the form; edits, an added and a removed line are saved with PUT as the whole list', async () => {
  const env = installWx({ storage: LOGGED_IN })
  const server = opinionsServer()
  const page = renderPage(simulate, pageId)
  await open(page)

  expect(byClass(page, 'item').map(textOf)).toEqual([
    '第 1 条 删除 提出方 群众代表 ▾ 解决层级 本级可解决 ▾',
    '第 2 条 删除 提出方 政协委员 ▾ 解决层级 需市级解决 ▾',
  ])
  expect(page.instance.data.items.map(i => i.text)).toEqual(['按楼层分摊加装费用', '申请市级加装补贴'])

  await fire(nth(page, 'item-text', 1), 'input', '申请县级加装补贴 ')
  await fire(nth(page, 'item-scope', 1), 'change', '1')
  tapClass(page, 'add-btn')
  await simulate.sleep(0)
  await fire(nth(page, 'item-text', 2), 'input', '施工期间保障商户通行')
  await fire(nth(page, 'item-group', 2), 'change', '1')
  tap(nth(page, 'remove-btn', 0))
  await simulate.sleep(0)
  expect(textOf(page)).toContain('有尚未保存的修改。')

  tapClass(page, 'save-btn')
  await waitFor(() => env.toast.mock.calls.length > 0)
  const [put] = server.calls.filter(c => c.method === 'PUT')
  expect(put.path).toBe(OPINIONS)
  expect(put.header.Authorization).toBe('Bearer tok-1')
  expect(put.data).toEqual({ items: [
    { text: '申请县级加装补贴', raised_by: 'member', scope: 'county' },
    { text: '施工期间保障商户通行', raised_by: 'stakeholder', scope: 'local' },
  ] })
  expect(env.toastTitles()).toEqual(['意见清单已保存'])
  expect(textOf(page)).not.toContain('有尚未保存的修改。')
})

test('no list yet (404 opinion_list_not_found) starts with one empty line; an empty line is not sent', async () => {
  installWx({ storage: LOGGED_IN })
  const server = opinionsServer({ list: { status: 404, body: errorBody('opinion_list_not_found', '尚未整理意见清单') } })
  const page = renderPage(simulate, pageId)
  await open(page)
  expect(byClass(page, 'item')).toHaveLength(1)
  tapClass(page, 'save-btn')
  await simulate.sleep(0)
  expect(textOf(page.querySelector('.form-error'))).toBe('第 1 条意见内容为空')
  // Nothing saved yet: 报送 asks to save first.
  tapClass(page, 'route-btn')
  await simulate.sleep(0)
  expect(textOf(page.querySelector('.route-error'))).toBe('请先保存修改，再报送')
  expect(server.calls.filter(c => c.method !== 'GET')).toHaveLength(0)
})

test('a refused save (409 consultation_not_held) shows the message and keeps the form', async () => {
  const env = installWx({ storage: LOGGED_IN })
  const message = '协商会议召开后才能整理意见清单'
  opinionsServer({ save: () => ({ status: 409, body: errorBody('consultation_not_held', message) }) })
  const page = renderPage(simulate, pageId)
  await open(page)
  await fire(nth(page, 'item-text', 0), 'input', '改过的意见')
  tapClass(page, 'save-btn')
  await waitFor(() => page.querySelector('.save-error'))
  expect(textOf(page.querySelector('.save-error'))).toBe(message)
  expect(env.toastTitles()).toEqual([message])
  expect(page.instance.data.items[0].text).toBe('改过的意见')
  expect(page.instance.data.dirty).toBe(true)
})

test('报送 after confirming: POST …/route with an Idempotency-Key, then the list is read-only with its routings', async () => {
  const env = installWx({ storage: LOGGED_IN, modal: { confirm: true } })
  const server = opinionsServer()
  const page = renderPage(simulate, pageId)
  await open(page)

  tapClass(page, 'route-btn')
  await waitFor(() => env.toast.mock.calls.length > 0)

  expect(env.showModal).toHaveBeenCalledTimes(1)
  expect(env.showModal.mock.calls[0][0].content).toBe('共 2 条意见。报送后清单不能再修改，将按解决层级送交相关党委、政府和部门。确定报送吗？')
  const [post] = server.calls.filter(c => c.method === 'POST')
  expect(post.path).toBe(ROUTE)
  expect(post.header['Idempotency-Key']).toMatch(KEY_RE)
  expect(env.toastTitles()).toEqual(['意见清单已报送'])
  expect(page.querySelector('.save-btn')).toBeFalsy()
  expect(textOf(page.querySelector('.read-list'))).toBe(
    '老旧小区加装电梯 已于 2026年12月11日 10:00 报送 1. 按楼层分摊加装费用 群众代表提出 · 本级可解决 2. 申请市级加装补贴 政协委员提出 · 需市级解决',
  )
  expect(byClass(page, 'routing').map(textOf)).toEqual([
    '前进镇党委 本级可解决 · 待处理',
    '市政协党组 需市级解决 · 待处理',
    '市委、市政府 需市级解决 · 待上一环节转送',
  ])
})

test('a copy nobody reads shows 无人接收 on its routing (blocked_reason; staff have been alerted)', async () => {
  installWx({ storage: LOGGED_IN })
  const routings = ROUTED.routings.map(r => ({ ...r, blocked_reason: null }))
  routings[0] = { ...routings[0], blocked_reason: '无人接收' }
  opinionsServer({ list: { status: 200, body: { ...ROUTED, routings } } })
  const page = renderPage(simulate, pageId)
  await open(page)
  expect(byClass(page, 'routing').map(textOf)).toEqual([
    '前进镇党委 本级可解决 · 待处理 无人接收：该机构暂无审核人，已提醒政协工作人员',
    '市政协党组 需市级解决 · 待处理',
    '市委、市政府 需市级解决 · 待上一环节转送',
  ])
})

test('报送 cancelled in the modal sends nothing', async () => {
  const env = installWx({ storage: LOGGED_IN, modal: { confirm: false } })
  const server = opinionsServer()
  const page = renderPage(simulate, pageId)
  await open(page)
  tapClass(page, 'route-btn')
  await waitFor(() => env.showModal.mock.calls.length > 0)
  await simulate.sleep(10)
  expect(server.calls.filter(c => c.method === 'POST')).toHaveLength(0)
  expect(page.querySelector('.save-btn')).toBeTruthy()
})

test('报送 with unsaved edits asks to save first, without the modal', async () => {
  const env = installWx({ storage: LOGGED_IN })
  const server = opinionsServer()
  const page = renderPage(simulate, pageId)
  await open(page)
  await fire(nth(page, 'item-text', 0), 'input', '改过的意见')
  tapClass(page, 'route-btn')
  await simulate.sleep(0)
  expect(textOf(page.querySelector('.route-error'))).toBe('请先保存修改，再报送')
  expect(env.showModal).not.toHaveBeenCalled()
  expect(server.calls.filter(c => c.method === 'POST')).toHaveLength(0)
})

test('a refused 报送 (409 routing_incomplete) shows the message; a retry after a network failure reuses the key', async () => {
  const env = installWx({ storage: LOGGED_IN, modal: { confirm: true } })
  const message = '意见清单的报送机构尚未登记（乡镇党委），请联系政协工作人员完善组织信息'
  let n = 0
  const server = opinionsServer({
    route: () => {
      n += 1
      if (n === 1) return { fail: 'timeout' }
      if (n === 2) return { status: 409, body: errorBody('routing_incomplete', message) }
      return { status: 200, body: ROUTED }
    },
  })
  const page = renderPage(simulate, pageId)
  await open(page)

  tapClass(page, 'route-btn')
  await waitFor(() => page.querySelector('.route-error'))
  expect(textOf(page.querySelector('.route-error'))).toBe('网络不佳，请稍后重试')
  tapClass(page, 'route-btn')
  await waitFor(() => page.querySelector('.route-error') && textOf(page.querySelector('.route-error')) === message)
  tapClass(page, 'route-btn')
  await waitFor(() => env.toastTitles().includes('意见清单已报送'))

  const keys = server.calls.filter(c => c.method === 'POST').map(c => c.header['Idempotency-Key'])
  expect(keys).toHaveLength(3)
  expect(keys[1]).toBe(keys[0])
  expect(env.showModal).toHaveBeenCalledTimes(3)
})

test('a list routed elsewhere meanwhile (409 opinion_list_routed) is read again', async () => {
  installWx({ storage: LOGGED_IN, modal: { confirm: true } })
  let routed = false
  opinionsServer({
    list: () => ({ status: 200, body: routed ? ROUTED : DRAFT }),
    route: () => {
      routed = true
      return { status: 409, body: errorBody('opinion_list_routed', '意见清单已报送') }
    },
  })
  const page = renderPage(simulate, pageId)
  await open(page)
  tapClass(page, 'route-btn')
  await waitFor(() => page.querySelector('.routings'))
  expect(byClass(page, 'routing')).toHaveLength(3)
})

test('an unreadable list can be reloaded; an invalid id sends nothing', async () => {
  installWx({ storage: LOGGED_IN })
  let fail = true
  opinionsServer({ list: () => (fail ? { status: 403, body: errorBody('not_topic_manager', '只有本平台召集人或政协工作人员可以办理') } : { status: 200, body: DRAFT }) })
  const page = renderPage(simulate, pageId)
  await open(page)
  expect(textOf(page.querySelector('.load-error'))).toBe('只有本平台召集人或政协工作人员可以办理')
  fail = false
  tapClass(page, 'retry-btn')
  await waitFor(() => page.instance.data.items.length === 2)

  const server = opinionsServer()
  const other = renderPage(simulate, pageId)
  const before = server.calls.length
  await other.instance.onLoad({ id: '' })
  expect(textOf(other)).toBe('会议链接无效，请从会议页面重新打开')
  expect(server.calls.length).toBe(before)
})

test('a reviewer\'s notice link (?routing=<id>) goes to the item-decide page without loading the list', async () => {
  const env = installWx({ storage: LOGGED_IN })
  const server = opinionsServer()
  const page = renderPage(simulate, pageId)
  await page.instance.onLoad({ routing: '12' })
  expect(env.redirectTo).toHaveBeenCalledWith({ url: '/pages/item-decide/item-decide?routing=12' })
  expect(server.calls).toEqual([])
})

// --- the feedback list (D21), app/followup/feedback_routes.py FeedbackListOut ------------------------

const FEEDBACK_LIST = '/api/consultations/5/feedback-list'
const FEEDBACK = {
  consultation_id: 5, topic_id: 7, title: '关于“老旧小区加装电梯”的结果反馈清单', platform_name: '前进镇协商议事室',
  held_on: '2026年12月10日', compiled_at: '2027-01-20T02:30:00Z',
  summary: '共2条意见，采纳1条、部分采纳0条、不予采纳1条，已办结1条',
  items_count: 2, adopted: 1, partly: 0, not_adopted: 1, done: 1, on_time: 1, items: [],
  word_url: `${FEEDBACK_LIST}.docx`, excel_url: `${FEEDBACK_LIST}.xlsx`, results_page: '/pages/results/results?id=7',
}
function feedbackServer({ list = { status: 200, body: ROUTED }, feedback = { status: 200, body: FEEDBACK } } = {}) {
  return fakeServer(req => {
    if (req.method === 'GET' && req.path === OPINIONS) return list
    if (req.method === 'GET' && req.path === FEEDBACK_LIST) return feedback
    return undefined
  })
}

test('a routed list with its feedback list: a 结果反馈清单 card; 下载 Word / 下载 Excel download and open the files', async () => {
  const env = installWx({ storage: LOGGED_IN })
  const server = feedbackServer()
  const files = fakeDownloads(() => ({ status: 200, body: 'PK…' }))
  const page = renderPage(simulate, pageId)
  await open(page)

  expect(server.to(FEEDBACK_LIST)).toHaveLength(1)
  expect(server.to(FEEDBACK_LIST)[0].header.Authorization).toBe('Bearer tok-1')
  expect(textOf(page.querySelector('.feedback-card .section-title'))).toBe('结果反馈清单')
  expect(textOf(page.querySelector('.feedback-summary'))).toBe('共2条意见，采纳1条、部分采纳0条、不予采纳1条，已办结1条')
  expect(textOf(page.querySelector('.feedback-time'))).toBe('2027年1月20日 10:30 形成')
  expect(byClass(page, 'routing')).toHaveLength(3) // the list and its routings are still there

  tapClass(page, 'feedback-word')
  await waitFor(() => files.opened.length === 1)
  tapClass(page, 'feedback-excel')
  await waitFor(() => files.opened.length === 2)
  expect(files.calls.map(c => [c.path, c.header.Authorization])).toEqual([
    [`${FEEDBACK_LIST}.docx`, 'Bearer tok-1'], [`${FEEDBACK_LIST}.xlsx`, 'Bearer tok-1']])
  expect(files.opened.map(o => [o.fileType, o.showMenu])).toEqual([['docx', true], ['xlsx', true]])
  expect(files.opened[0].filePath).toMatch(/关于“老旧小区加装电梯”的结果反馈清单\.docx$/)
  expect(env.toastTitles()).toEqual([])
})

test('no feedback list yet (404 feedback_list_not_found) shows nothing and is not an error', async () => {
  const env = installWx({ storage: LOGGED_IN })
  const server = feedbackServer({ feedback: { status: 404, body: errorBody('feedback_list_not_found', '该协商意见尚未全部办结，结果反馈清单尚未形成') } })
  const page = renderPage(simulate, pageId)
  await open(page)
  expect(server.to(FEEDBACK_LIST)).toHaveLength(1)
  expect(page.querySelector('.feedback-card')).toBeFalsy()
  expect(page.querySelector('.load-error')).toBeFalsy()
  expect(textOf(page)).not.toContain('尚未形成')
  expect(env.toastTitles()).toEqual([])
  expect(byClass(page, 'routing')).toHaveLength(3)
})

test('a draft asks nothing about a feedback list', async () => {
  installWx({ storage: LOGGED_IN })
  const server = feedbackServer({ list: { status: 200, body: DRAFT } })
  const page = renderPage(simulate, pageId)
  await open(page)
  expect(server.to(FEEDBACK_LIST)).toHaveLength(0)
  expect(page.querySelector('.feedback-card')).toBeFalsy()
})

test('a handler from the feedback notice, who may read the feedback list but not the opinion list, sees the card', async () => {
  installWx({ storage: LOGGED_IN })
  feedbackServer({ list: { status: 404, body: errorBody('consultation_not_found', '该协商活动不存在') } })
  const files = fakeDownloads(() => ({ status: 200, body: 'PK…' }))
  const page = renderPage(simulate, pageId)
  await open(page)
  expect(page.querySelector('.load-error')).toBeFalsy()
  expect(textOf(page.querySelector('.feedback-title'))).toBe('关于“老旧小区加装电梯”的结果反馈清单')
  expect(page.querySelector('.save-btn')).toBeFalsy()
  tapClass(page, 'feedback-excel')
  await waitFor(() => files.opened.length === 1)
  expect(files.calls[0].path).toBe(`${FEEDBACK_LIST}.xlsx`)
})

test('neither list readable: the opinion list\'s error, as before', async () => {
  installWx({ storage: LOGGED_IN })
  feedbackServer({
    list: { status: 404, body: errorBody('consultation_not_found', '该协商活动不存在') },
    feedback: { status: 404, body: errorBody('consultation_not_found', '该协商活动不存在') },
  })
  const page = renderPage(simulate, pageId)
  await open(page)
  expect(textOf(page.querySelector('.load-error'))).toBe('该协商活动不存在')
  expect(page.querySelector('.feedback-card')).toBeFalsy()
})

test('a refused download shows the server message; the card stays', async () => {
  const env = installWx({ storage: LOGGED_IN })
  feedbackServer()
  fakeDownloads(() => ({ status: 404, body: errorBody('consultation_not_found', '该协商活动不存在') }))
  const page = renderPage(simulate, pageId)
  await open(page)
  tapClass(page, 'feedback-word')
  await waitFor(() => env.toast.mock.calls.length > 0)
  expect(env.toastTitles()).toEqual(['该协商活动不存在'])
  expect(page.querySelector('.feedback-card')).toBeTruthy()
})
