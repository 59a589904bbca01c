const path = require('path')
const simulate = require('miniprogram-simulate')
const { installWx, fakeServer, errorBody, renderPage, textOf, waitFor } = require('../helpers/wx')

const LOGGED_IN = { 'auth.token': 'tok-1', 'auth.expires_at': '2099-01-01T00:00:00Z' }
const KEY_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/
const TOPIC = '/api/topics/2'
const CREATE = '/api/topics/2/consultations'

// app/topics/schemas.py TopicOut
function topic(overrides = {}) {
  return {
    id: 2, platform_id: 2, title: '老旧小区加装电梯', description: '加装电梯的出资和维护办法',
    category: 'livelihood', category_label: '实事', source: 'suggestion', source_label: '群众建议',
    state: 'approved', state_label: '已审定', approval_round: 1, approved_at: '2026-11-20T02:00:00Z',
    created_at: '2026-11-10T02:00:00Z', steps: [], ...overrides,
  }
}

// app/consultations/schemas.py ConsultationOut (the 201 answer)
function created(overrides = {}) {
  return {
    id: 9, topic_id: 2, topic_title: '老旧小区加装电梯', platform_id: 2,
    state: 'scheduled', state_label: '已安排',
    starts_at: '2027-03-10T06:30:00Z', ends_at: '2027-03-10T08:30:00Z',
    place_kind: 'mobile', place_label: '现场（移动协商）', place: '前进村文化广场',
    online_url: null, agenda: ['通报调研情况', '居民发言'], capacity: 60, version: 1,
    notice_sent_at: null, briefing_due_at: '2027-03-07T01:00:00Z', briefing_sent_at: null,
    list_locked_at: null, cancelled_reason: null, calendar_url: '/api/consultations/9/calendar.ics',
    link: '/pages/meeting/meeting?id=9', my_invitation: null, checked_in_at: null,
    platform_name: '前进村协商议事室', convenor_name: '李*', can_manage: true, ...overrides,
  }
}

let pageId
beforeAll(() => {
  pageId = simulate.load(path.join(__dirname, '../../pages/schedule/schedule'))
})

function scheduleServer({ create, topicBody = topic() } = {}) {
  return fakeServer(req => {
    if (req.method === 'GET' && req.path === TOPIC) return { status: 200, body: topicBody }
    if (req.method === 'POST' && req.path === CREATE) return create ? create(req) : { status: 201, body: created() }
    return undefined
  })
}

const tap = (page, cls) => page.querySelector(`.${cls}`).dispatchEvent('tap')
async function fire(node, event, value) {
  node.dispatchEvent(event, { detail: { value } })
  await simulate.sleep(0)
}
const pick = (page, cls, value) => fire(page.querySelector(`.${cls}`), 'change', value)
const type = (page, cls, value) => fire(page.querySelector(`.${cls}`), 'input', value)

async function open(page, topicId = '2') {
  await page.instance.onLoad({ topic_id: topicId })
}

/** A complete on-site meeting: 2027-03-10 14:30–16:30, two agenda lines, 60 people. */
async function fillMobile(page) {
  await pick(page, 'start-date', '2027-03-10')
  await pick(page, 'start-time', '14:30')
  await pick(page, 'end-time', '16:30')
  tap(page, 'kind-mobile')
  await simulate.sleep(0)
  await type(page, 'place-input', '  前进村 文化广场 ')
  await type(page, 'agenda-input', '通报调研情况')
  tap(page, 'add-agenda-btn')
  await simulate.sleep(0)
  await fire(page.querySelectorAll('.agenda-input')[1], 'input', '居民发言')
  tap(page, 'add-agenda-btn')
  await simulate.sleep(0)
  await type(page, 'capacity-input', '60')
}

test('the form shows the topic; a complete form is POSTed in China time with an Idempotency-Key, then the meeting opens', async () => {
  const env = installWx({ storage: LOGGED_IN })
  const server = scheduleServer()
  const page = renderPage(simulate, pageId)
  await open(page)

  expect(textOf(page.querySelector('.topic'))).toBe('议题 老旧小区加装电梯')
  expect(page.instance.data.briefingDays).toBe('3')
  await fillMobile(page)
  // The end date follows the start date.
  expect(textOf(page.querySelector('.end-date'))).toBe('2027-03-10')

  tap(page, 'submit-btn')
  await waitFor(() => env.redirectTo.mock.calls.length > 0)

  const [post] = server.to(CREATE)
  expect(post.method).toBe('POST')
  expect(post.header.Authorization).toBe('Bearer tok-1')
  expect(post.header['Idempotency-Key']).toMatch(KEY_RE)
  // The empty third agenda line is left out.
  expect(post.data).toEqual({
    starts_at: '2027-03-10T14:30:00+08:00',
    ends_at: '2027-03-10T16:30:00+08:00',
    place_kind: 'mobile',
    place: '前进村 文化广场',
    agenda: ['通报调研情况', '居民发言'],
    capacity: 60,
    briefing_days_before: 3,
  })
  expect(env.redirectTo).toHaveBeenCalledWith({ url: '/pages/meeting/meeting?id=9' })
  expect(env.toastTitles()).toEqual(['协商会议已安排'])
})

test('议事室 needs no place; 网上 sends the link; a removed agenda line is not sent; briefing days may be 0', async () => {
  const env = installWx({ storage: LOGGED_IN })
  const server = scheduleServer({ create: () => ({ status: 201, body: created({ id: 10 }) }) })
  const page = renderPage(simulate, pageId)
  await open(page)
  await pick(page, 'start-date', '2027-03-10')
  await pick(page, 'end-date', '2027-03-11')
  await pick(page, 'start-time', '20:00')
  await pick(page, 'end-time', '07:30')
  await type(page, 'agenda-input', '不要的议程')
  tap(page, 'remove-agenda-btn')
  await simulate.sleep(0)
  expect(page.querySelectorAll('.agenda-input')).toHaveLength(0)
  await type(page, 'briefing-input', '0')

  // 议事室: the place may stay empty.
  expect(textOf(page.querySelector('.place'))).toContain('地点（可不填）')
  tap(page, 'submit-btn')
  await waitFor(() => env.redirectTo.mock.calls.length > 0)
  expect(server.to(CREATE)[0].data).toEqual({
    starts_at: '2027-03-10T20:00:00+08:00',
    ends_at: '2027-03-11T07:30:00+08:00',
    place_kind: 'venue',
    agenda: [],
    briefing_days_before: 0,
  })
  expect(env.redirectTo).toHaveBeenCalledWith({ url: '/pages/meeting/meeting?id=10' })
})

test('网上: the link is required and must be https; then place_kind online with online_url is sent', async () => {
  const env = installWx({ storage: LOGGED_IN })
  const server = scheduleServer()
  const page = renderPage(simulate, pageId)
  await open(page)
  await pick(page, 'start-date', '2027-03-10')
  tap(page, 'kind-online')
  await simulate.sleep(0)
  await type(page, 'place-input', '腾讯会议')

  tap(page, 'submit-btn')
  await simulate.sleep(0)
  expect(textOf(page.querySelector('.form-error'))).toBe('网上协商需要填写会议链接')
  await type(page, 'url-input', 'http://meeting.example.cn/123')
  tap(page, 'submit-btn')
  await simulate.sleep(0)
  expect(textOf(page.querySelector('.form-error'))).toBe('会议链接应以 https:// 开头，且不含空格')
  expect(server.to(CREATE)).toHaveLength(0)

  await type(page, 'url-input', 'https://meeting.example.cn/123')
  tap(page, 'submit-btn')
  await waitFor(() => env.redirectTo.mock.calls.length > 0)
  const data = server.to(CREATE)[0].data
  expect(data.place_kind).toBe('online')
  expect(data.online_url).toBe('https://meeting.example.cn/123')
  expect(data.place).toBe('腾讯会议')
})

test('checked before sending: no date, end before start, 现场 without a place, bad capacity', async () => {
  installWx({ storage: LOGGED_IN })
  const server = scheduleServer()
  const page = renderPage(simulate, pageId)
  await open(page)
  const errorAfterSubmit = async () => {
    tap(page, 'submit-btn')
    await simulate.sleep(0)
    return textOf(page.querySelector('.form-error'))
  }

  expect(await errorAfterSubmit()).toBe('请选择开始日期和时间')
  await pick(page, 'start-date', '2027-03-10')
  await pick(page, 'end-time', '14:00')
  expect(await errorAfterSubmit()).toBe('结束时间应晚于开始时间')
  await pick(page, 'end-time', '16:30')
  tap(page, 'kind-mobile')
  await simulate.sleep(0)
  expect(await errorAfterSubmit()).toBe('请填写协商地点')
  await type(page, 'place-input', '文化广场')
  await type(page, 'capacity-input', '0')
  expect(await errorAfterSubmit()).toBe('可容纳人数应为 1–2000 的整数')
  await pick(page, 'start-date', '2020-01-01')
  await pick(page, 'end-date', '2020-01-01')
  await type(page, 'capacity-input', '')
  expect(await errorAfterSubmit()).toBe('协商时间应晚于现在')
  expect(server.to(CREATE)).toHaveLength(0)
})

test.each([
  [409, 'topic_not_approved', '议题审定后才能安排协商'],
  [409, 'consultation_exists', '该议题已有安排中的协商活动'],
  [422, 'starts_in_past', '协商时间应晚于现在'],
  [422, 'place_required', '本平台尚未登记议事场所地址，请填写地点'],
])('a refusal (%i %s) shows the server message and keeps the form', async (status, code, message) => {
  const env = installWx({ storage: LOGGED_IN })
  const server = scheduleServer({ create: () => ({ status, body: errorBody(code, message) }) })
  const page = renderPage(simulate, pageId)
  await open(page)
  await fillMobile(page)

  tap(page, 'submit-btn')
  await waitFor(() => env.toast.mock.calls.length > 0)
  await waitFor(() => !page.instance.data.submitting)

  expect(server.to(CREATE)).toHaveLength(1)
  expect(env.toastTitles()).toEqual([message])
  expect(textOf(page.querySelector('.submit-error'))).toBe(`${message}。您填写的内容已保留，修改后可以再次提交。`)
  expect(env.redirectTo).not.toHaveBeenCalled()
  expect(page.instance.data.place).toBe('  前进村 文化广场 ')
  expect(page.instance.data.agenda.map(a => a.text)).toEqual(['通报调研情况', '居民发言', ''])
})

test('a retry after a network failure sends the same Idempotency-Key; a new meeting after success gets a new one', async () => {
  const env = installWx({ storage: LOGGED_IN })
  let n = 0
  const server = scheduleServer({
    create: () => {
      n += 1
      return n === 1 ? { fail: 'timeout' } : { status: 201, body: created() }
    },
  })
  const page = renderPage(simulate, pageId)
  await open(page)
  await fillMobile(page)

  tap(page, 'submit-btn')
  await waitFor(() => env.toast.mock.calls.length > 0)
  await waitFor(() => !page.instance.data.submitting)
  expect(textOf(page.querySelector('.submit-error'))).toContain('网络不佳，请稍后重试')

  tap(page, 'submit-btn')
  await waitFor(() => env.redirectTo.mock.calls.length > 0)
  const tries = server.to(CREATE)
  expect(tries).toHaveLength(2)
  expect(tries[1].header['Idempotency-Key']).toBe(tries[0].header['Idempotency-Key'])
  expect(tries[1].data).toEqual(tries[0].data)

  tap(page, 'submit-btn')
  await waitFor(() => env.redirectTo.mock.calls.length === 2)
  expect(server.to(CREATE)).toHaveLength(3)
  expect(server.to(CREATE)[2].header['Idempotency-Key']).not.toBe(tries[0].header['Idempotency-Key'])
})

test('idempotency_key_reused starts a new key for the next try', async () => {
  const env = installWx({ storage: LOGGED_IN })
  let n = 0
  const server = scheduleServer({
    create: () => {
      n += 1
      return n === 1
        ? { status: 422, body: errorBody('idempotency_key_reused', '请求已变化，请重新提交') }
        : { status: 201, body: created() }
    },
  })
  const page = renderPage(simulate, pageId)
  await open(page)
  await fillMobile(page)
  tap(page, 'submit-btn')
  await waitFor(() => !page.instance.data.submitting && env.toast.mock.calls.length > 0)
  tap(page, 'submit-btn')
  await waitFor(() => env.redirectTo.mock.calls.length > 0)
  const tries = server.to(CREATE)
  expect(tries).toHaveLength(2)
  expect(tries[1].header['Idempotency-Key']).not.toBe(tries[0].header['Idempotency-Key'])
})

test('a topic not yet approved is pointed out; an unreadable topic still leaves the form', async () => {
  installWx({ storage: LOGGED_IN })
  scheduleServer({ topicBody: topic({ state: 'reviewing', state_label: '审核中' }) })
  const page = renderPage(simulate, pageId)
  await open(page)
  expect(textOf(page.querySelector('.topic-note'))).toBe('该议题目前为“审核中”，议题审定后才能安排协商。')

  installWx({ storage: LOGGED_IN })
  fakeServer(() => ({ status: 404, body: errorBody('topic_not_found', '议题不存在') }))
  const other = renderPage(simulate, pageId)
  await open(other)
  expect(other.querySelector('.topic')).toBeFalsy()
  expect(other.querySelector('.submit-btn')).toBeTruthy()
})

test('an invalid topic_id shows a message and sends nothing', async () => {
  installWx({ storage: LOGGED_IN })
  const server = scheduleServer()
  const page = renderPage(simulate, pageId)
  await open(page, 'abc')
  expect(textOf(page)).toBe('议题链接无效，请从议题页面重新打开')
  expect(server.calls).toHaveLength(0)
})
