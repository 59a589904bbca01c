const path = require('path')
const simulate = require('miniprogram-simulate')
const { installWx, fakeServer, errorBody, renderPage, textOf, byClass, waitFor } = require('../helpers/wx')
// The device clock pinned before the first meeting (2026-12-10): 未答复 stands out only while an
// answer can still be given (utils/meetings_format.js meetingListItem).
require('../helpers/meeting')

const LOGGED_IN = { 'auth.token': 'tok-1', 'auth.expires_at': '2099-01-01T00:00:00Z' }
const LIST = '/api/me/consultations'

// app/consultations/schemas.py ConsultationOut, as the items of ConsultationList.
function item(id, overrides = {}) {
  return {
    id, topic_id: id + 100, topic_title: `议题 ${id}`, platform_id: 2,
    state: 'scheduled', state_label: '已安排',
    starts_at: '2026-12-10T06:30:00Z', ends_at: '2026-12-10T08:30:00Z',
    place_kind: 'venue', place_label: '议事室', place: '新浦街道协商议事室（人民路 8 号）',
    online_url: null, agenda: [], capacity: null, version: 1,
    notice_sent_at: '2026-12-01T02:00:00Z', briefing_due_at: '2026-12-07T01:00:00Z',
    briefing_sent_at: null, list_locked_at: null, cancelled_reason: null,
    calendar_url: `/api/consultations/${id}/calendar.ics`, link: `/pages/meeting/meeting?id=${id}`,
    my_invitation: {
      group: 'resident', group_label: '群众代表', answer: 'pending', answer_label: '未答复',
      reason: null, substitute_name: null,
    },
    can_manage: false,
    ...overrides,
  }
}
const ITEMS = [
  item(7, {
    topic_title: '老旧小区加装电梯', starts_at: '2026-12-10T06:30:00Z', ends_at: '2026-12-10T08:30:00Z',
    place_kind: 'mobile', place_label: '现场（移动协商）', place: '前进村文化广场',
  }),
  item(6, {
    topic_title: '农贸市场周边停车', starts_at: '2026-11-20T01:00:00Z', ends_at: '2026-11-20T03:00:00Z',
    state: 'held', state_label: '已召开',
    my_invitation: { group: 'member', group_label: '政协委员', answer: 'accepted', answer_label: '参加', reason: null, substitute_name: null },
  }),
  item(5, {
    topic_title: '背街小巷路灯', starts_at: '2026-11-05T11:00:00Z', ends_at: '2026-11-05T12:30:00Z',
    place_kind: 'online', place_label: '网上', place: '腾讯会议', online_url: 'https://meeting.tencent.com/dm/x1',
    state: 'cancelled', state_label: '已取消', cancelled_reason: '天气原因',
    my_invitation: { group: 'resident', group_label: '群众代表', answer: 'declined', answer_label: '请假', reason: '外出', substitute_name: null },
  }),
]

let pageId
beforeAll(() => {
  pageId = simulate.load(path.join(__dirname, '../../pages/meetings/meetings'))
})

test('lists my meetings: topic, China time, place, state and my answer ("未答复" stands out)', async () => {
  const env = installWx({ storage: LOGGED_IN })
  const server = fakeServer(req => req.path === LIST ? { status: 200, body: { items: ITEMS } } : undefined)
  const page = renderPage(simulate, pageId)

  await page.instance.onLoad({})

  expect(server.calls.map(c => `${c.method} ${c.path}`)).toEqual([`GET ${LIST}`])
  expect(server.calls[0].header.Authorization).toBe('Bearer tok-1')
  expect(byClass(page, 'meeting').map(textOf)).toEqual([
    '老旧小区加装电梯 时间 2026年12月10日（星期四）14:30–16:30 地点 现场（移动协商）：前进村文化广场 已安排 我的答复：未答复',
    '农贸市场周边停车 时间 2026年11月20日（星期五）09:00–11:00 地点 议事室：新浦街道协商议事室（人民路 8 号） 已召开 我的答复：参加',
    '背街小巷路灯 时间 2026年11月5日（星期四）19:00–20:30 地点 网上：腾讯会议 已取消 我的答复：请假',
  ])
  const answers = byClass(page, 'answer')
  expect(answers.map(a => a.className.includes('answer-pending'))).toEqual([true, false, false])
  expect(env.toast).not.toHaveBeenCalled()
})

test('tapping a meeting opens its page', async () => {
  const env = installWx({ storage: LOGGED_IN })
  fakeServer(req => req.path === LIST ? { status: 200, body: { items: ITEMS } } : undefined)
  const page = renderPage(simulate, pageId)
  await page.instance.onLoad({})

  page.querySelectorAll('.meeting')[1].dispatchEvent('tap')
  await simulate.sleep(0)

  expect(env.navigateTo).toHaveBeenCalledWith({ url: '/pages/meeting/meeting?id=6' })
})

test('no meetings: a plain explanation', async () => {
  installWx({ storage: LOGGED_IN })
  fakeServer(req => req.path === LIST ? { status: 200, body: { items: [] } } : undefined)
  const page = renderPage(simulate, pageId)

  await page.instance.onLoad({})

  expect(textOf(page)).toBe('您目前没有受邀参加的协商会议。 收到会议通知后，会议会显示在这里。')
})

test('a failure shows the message and 重新加载 loads again', async () => {
  installWx({ storage: LOGGED_IN })
  let up = false
  const server = fakeServer(req => {
    if (req.path !== LIST) return undefined
    return up ? { status: 200, body: { items: ITEMS.slice(0, 1) } } : { status: 503, body: errorBody('service_unavailable', '服务暂时不可用，请稍后再试') }
  })
  const page = renderPage(simulate, pageId)
  await page.instance.onLoad({})
  expect(textOf(page)).toBe('服务暂时不可用，请稍后再试 重新加载')

  up = true
  page.querySelector('.btn').dispatchEvent('tap')
  await waitFor(() => byClass(page, 'meeting').length === 1)
  expect(server.to(LIST)).toHaveLength(2)
  expect(textOf(page)).toContain('老旧小区加装电梯')
})

test('not logged in: logs in on the 401 and lists the meetings', async () => {
  const env = installWx()
  const server = fakeServer(req => {
    if (req.path === '/api/auth/wx-login') {
      return { status: 200, body: { token: 'tok-2', expires_at: '2099-01-01T00:00:00Z', is_new: false, person: { id: 9, name: '王**', roles: [] } } }
    }
    if (req.path !== LIST) return undefined
    return req.header.Authorization === 'Bearer tok-2'
      ? { status: 200, body: { items: ITEMS } }
      : { status: 401, body: errorBody('unauthorized', '请先登录') }
  })
  const page = renderPage(simulate, pageId)

  await page.instance.onLoad({})

  expect(env.login).toHaveBeenCalledTimes(1)
  expect(server.calls.map(c => c.path)).toEqual([LIST, '/api/auth/wx-login', LIST])
  expect(byClass(page, 'meeting')).toHaveLength(3)
})

test('coming back from a meeting reloads the list (the answer may have changed); the first show does not', async () => {
  installWx({ storage: LOGGED_IN })
  let answered = false
  const server = fakeServer(req => {
    if (req.path !== LIST) return undefined
    const first = answered
      ? item(7, { topic_title: '老旧小区加装电梯', my_invitation: { ...ITEMS[0].my_invitation, answer: 'accepted', answer_label: '参加' } })
      : ITEMS[0]
    return { status: 200, body: { items: [first] } }
  })
  const page = renderPage(simulate, pageId)
  await page.instance.onLoad({})
  await page.instance.onShow()
  expect(server.to(LIST)).toHaveLength(1)

  answered = true
  await page.instance.onShow()

  expect(server.to(LIST)).toHaveLength(2)
  expect(textOf(page.querySelector('.answer'))).toBe('我的答复：参加')
  expect(page.querySelector('.answer').dom.className).not.toContain('answer-pending')
})
