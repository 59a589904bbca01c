const path = require('path')
const simulate = require('miniprogram-simulate')
const { installWx, errorBody, renderPage, textOf, byClass, waitFor } = require('../helpers/wx')
const {
  DETAIL, LOGGED_IN, QR_1, QR_2, attendanceBody, calls, codeBody, has,
  invited, meeting, meetingServer, open, tally, tap, tick, useClock, BEFORE_START, START,
} = require('../helpers/meeting')

let pageId
beforeAll(() => {
  pageId = simulate.load(path.join(__dirname, '../../pages/meeting/meeting'))
})

// --- the convenor ----------------------------------------------------------------------------

function convenorMeeting(overrides = {}) {
  return meeting({ my_invitation: null, can_manage: true, ...overrides })
}

// The convenor's meeting, answering the check-in code requests with a new code each time.
function codeServer () {
  let n = 0
  return meetingServer({
    body: convenorMeeting(),
    extra: req => {
      if (req.path !== `${DETAIL}/checkin-code`) return undefined
      n += 1
      return { status: 200, body: codeBody(n) }
    },
  })
}

test('the convenor sees the answers by group, with names and decline reasons', async () => {
  installWx({ storage: LOGGED_IN })
  const server = meetingServer({ body: convenorMeeting() })
  const page = renderPage(simulate, pageId)
  await open(page)

  expect(calls(server).sort()).toEqual([`GET ${DETAIL}`, `GET ${DETAIL}/briefing`, `GET ${DETAIL}/invitations`])
  expect(has(page, 'rsvp')).toBe(false) // not invited
  expect(has(page, 'checkin')).toBe(false)
  expect(byClass(page, 'group').map(textOf)).toEqual([
    '政协委员 邀请 1 · 参加 1 · 请假 0 · 未答复 0 钱委员 参加',
    '群众代表 邀请 2 · 参加 0 · 请假 1 · 未答复 1 张居民 请假（原因：外出） 王大爷 未答复',
    '利益相关方 邀请 1 · 参加 0 · 请假 0 · 未答复 1 赵店主 未答复',
    '党政领导 邀请 1 · 参加 0 · 请假 0 · 委派 1 · 未答复 0 周镇长 委派他人参加：陈副镇长（副镇长）',
    '职能部门 邀请 1 · 参加 0 · 请假 0 · 未答复 1 郑科长 未答复',
  ])
  expect(byClass(page, 'person-answer').filter(n => n.className.includes('answer-pending')).map(textOf)).toEqual(['未答复', '未答复', '未答复'])
  expect(textOf(page.querySelector('.lock'))).toBe('确认参会名单 确认后，受邀人员不能再修改答复。')
  expect(textOf(page.querySelector('.show-code-btn'))).toBe('显示签到二维码')
})

test('D9 warnings are shown to the convenor, and 刷新参会情况 reloads the list', async () => {
  installWx({ storage: LOGGED_IN })
  let answered = false
  const server = meetingServer({
    body: convenorMeeting(),
    extra: req => {
      if (req.path !== `${DETAIL}/invitations`) return undefined
      const body = attendanceBody({
        groups: [tally('official', answered ? { accepted: 1 } : { pending: 1 })],
        invitations: [invited(5, '周镇长', 'official', answered ? 'accepted' : 'pending')],
        warnings: ['尚未邀请政协委员', '尚未邀请群众代表', '尚未邀请利益相关方（D9：议题的利益相关方必须参加）'],
      })
      return { status: 200, body }
    },
  })
  const page = renderPage(simulate, pageId)
  await open(page)
  expect(byClass(page, 'warning').map(textOf)).toEqual([
    '尚未邀请政协委员', '尚未邀请群众代表', '尚未邀请利益相关方（D9：议题的利益相关方必须参加）',
  ])
  expect(byClass(page, 'group').map(textOf)).toEqual(['党政领导 邀请 1 · 参加 0 · 请假 0 · 未答复 1 周镇长 未答复'])

  answered = true
  tap(page, 'refresh-attendance-btn')
  await waitFor(() => server.to(`${DETAIL}/invitations`).length === 2 && !page.instance.data.attendanceLoading)
  expect(byClass(page, 'group').map(textOf)).toEqual(['党政领导 邀请 1 · 参加 1 · 请假 0 · 未答复 0 周镇长 参加'])
})

test('确认参会名单 asks first (with the number still unanswered), then POST /lock', async () => {
  const env = installWx({ storage: LOGGED_IN, modal: { confirm: true } })
  const server = meetingServer({
    body: convenorMeeting(),
    extra: req => req.path === `${DETAIL}/lock`
      ? { status: 200, body: attendanceBody({ list_locked_at: '2026-12-08T02:00:00Z' }) }
      : undefined,
  })
  const page = renderPage(simulate, pageId)
  await open(page)

  tap(page, 'lock-btn')
  await waitFor(() => env.toast.mock.calls.length > 0)

  expect(env.showModal).toHaveBeenCalledTimes(1)
  expect(env.showModal.mock.calls[0][0]).toMatchObject({
    title: '确认参会名单',
    content: '还有 3 人未答复。确认后，受邀人员不能再修改答复，也不能再邀请新的人员。确定要确认参会名单吗？',
    confirmText: '确认',
    cancelText: '取消',
  })
  const [lock] = server.to(`${DETAIL}/lock`)
  expect(lock.method).toBe('POST')
  expect(lock.header.Authorization).toBe('Bearer tok-1')
  expect(textOf(page.querySelector('.lock'))).toBe('参会名单已于 2026年12月8日 10:00 确认')
  expect(has(page, 'lock-btn')).toBe(false)
  expect(env.toastTitles()).toEqual(['参会名单已确认'])
})

test('cancelling the confirmation sends nothing', async () => {
  const env = installWx({ storage: LOGGED_IN, modal: { confirm: false } })
  const server = meetingServer({ body: convenorMeeting() })
  const page = renderPage(simulate, pageId)
  await open(page)

  await page.instance.onLock()

  expect(env.showModal).toHaveBeenCalledTimes(1)
  expect(server.to(`${DETAIL}/lock`)).toHaveLength(0)
  expect(has(page, 'lock-btn')).toBe(true)
})

test('a lock refused because the meeting was held shows the server message', async () => {
  installWx({ storage: LOGGED_IN })
  let held = false
  const server = meetingServer({
    body: convenorMeeting(),
    extra: req => {
      if (req.path === `${DETAIL}/lock`) {
        held = true
        return { status: 409, body: errorBody('consultation_held', '协商活动已召开，不能再修改安排') }
      }
      if (req.path === DETAIL && held) return { status: 200, body: convenorMeeting({ state: 'held', state_label: '已召开' }) }
      return undefined
    },
  })
  const page = renderPage(simulate, pageId)
  await open(page)

  await page.instance.onLock()

  expect(server.to(`${DETAIL}/lock`)).toHaveLength(1)
  expect(textOf(page.querySelector('.lock'))).toBe('协商活动已召开，不能再修改安排')
  expect(textOf(page.querySelector('.state-label'))).toBe('已召开')
})

test('显示签到二维码 shows the QR image and its expiry, refreshed every 60 s while shown', async () => {
  const env = installWx({ storage: LOGGED_IN })
  const server = codeServer()
  const page = renderPage(simulate, pageId)
  await open(page)
  const src = () => page.querySelector('.qr-image').toJSON().attrs.find(a => a.name === 'src').value

  useClock(BEFORE_START, { timers: true })
  tap(page, 'show-code-btn')
  await tick(0)

  expect(server.to(`${DETAIL}/checkin-code`)).toHaveLength(1)
  expect(src()).toBe(QR_1)
  expect(textOf(page.querySelector('.qr'))).toBe(
    '当前二维码有效至 14:25 请参会人员在小程序会议页面点“扫码签到”扫描。二维码每 5 分钟更换，本页每分钟自动刷新。 关闭签到二维码',
  )
  expect(env.setKeepScreenOn).toHaveBeenLastCalledWith({ keepScreenOn: true })

  await tick(59 * 1000)
  expect(server.to(`${DETAIL}/checkin-code`)).toHaveLength(1)
  await tick(1000)
  expect(server.to(`${DETAIL}/checkin-code`)).toHaveLength(2)
  expect(src()).toBe(QR_2)
  expect(textOf(page.querySelector('.qr-expires'))).toBe('当前二维码有效至 14:30')

  // Closed: no more refreshes.
  tap(page, 'hide-code-btn')
  await tick(5 * 60 * 1000)
  expect(server.to(`${DETAIL}/checkin-code`)).toHaveLength(2)
  expect(has(page, 'qr-image')).toBe(false)
  expect(has(page, 'show-code-btn')).toBe(true)
  expect(env.setKeepScreenOn).toHaveBeenLastCalledWith({ keepScreenOn: false })
})

test('the QR refresh stops when the page is hidden or closed, and restarts when it is shown again', async () => {
  const env = installWx({ storage: LOGGED_IN })
  const server = codeServer()
  const page = renderPage(simulate, pageId)
  await open(page)
  await page.instance.onShow() // WeChat's first onShow, right after onLoad

  useClock(BEFORE_START, { timers: true })
  page.instance.onShowCode()
  await tick(0)
  expect(server.to(`${DETAIL}/checkin-code`)).toHaveLength(1)

  page.instance.onHide()
  await tick(3 * 60 * 1000)
  expect(server.to(`${DETAIL}/checkin-code`)).toHaveLength(1)

  page.instance.onShow() // back on the page: a fresh code at once, then every minute
  await tick(0)
  expect(server.to(`${DETAIL}/checkin-code`)).toHaveLength(2)
  await tick(60 * 1000)
  expect(server.to(`${DETAIL}/checkin-code`)).toHaveLength(3)

  page.detach()
  await tick(5 * 60 * 1000)
  expect(server.to(`${DETAIL}/checkin-code`)).toHaveLength(3)
  expect(env.setKeepScreenOn).toHaveBeenLastCalledWith({ keepScreenOn: false })
})

test('409 checkin_closed: the message under the button, no image, no refreshing', async () => {
  installWx({ storage: LOGGED_IN })
  const server = meetingServer({
    body: convenorMeeting(),
    extra: req => req.path === `${DETAIL}/checkin-code`
      ? { status: 409, body: errorBody('checkin_closed', '不在签到时间内（会前 1 小时至会后 30 分钟）') }
      : undefined,
  })
  const page = renderPage(simulate, pageId)
  await open(page)

  useClock(BEFORE_START, { timers: true })
  tap(page, 'show-code-btn')
  await tick(0)
  expect(has(page, 'qr-image')).toBe(false)
  expect(textOf(page.querySelector('.qr'))).toBe('显示签到二维码 不在签到时间内（会前 1 小时至会后 30 分钟）')

  await tick(5 * 60 * 1000)
  expect(server.to(`${DETAIL}/checkin-code`)).toHaveLength(1)
})

test('a refresh lost to the network keeps the code on the screen and tries again', async () => {
  installWx({ storage: LOGGED_IN })
  let n = 0
  const server = meetingServer({
    body: convenorMeeting(),
    extra: req => {
      if (req.path !== `${DETAIL}/checkin-code`) return undefined
      n += 1
      return n === 2 ? { fail: 'timeout' } : { status: 200, body: codeBody(n === 1 ? 1 : 2) }
    },
  })
  const page = renderPage(simulate, pageId)
  await open(page)
  const src = () => page.querySelector('.qr-image').toJSON().attrs.find(a => a.name === 'src').value

  useClock(BEFORE_START, { timers: true })
  page.instance.onShowCode()
  await tick(0)
  await tick(60 * 1000)
  expect(src()).toBe(QR_1)
  expect(textOf(page.querySelector('.qr-error'))).toBe('二维码刷新失败（网络不佳，请稍后重试），稍后自动重试')

  await tick(60 * 1000)
  expect(server.to(`${DETAIL}/checkin-code`)).toHaveLength(3)
  expect(src()).toBe(QR_2)
  expect(has(page, 'qr-error')).toBe(false)
})

// --- deep links --------------------------------------------------------------------------------

test.each([
  [undefined],
  [''],
  ['abc'],
  ['0'],
  ['5x'],
  ['-5'],
  ['99999999999'],
])('a bad id (%p) gets a friendly message and no request', async id => {
  installWx({ storage: LOGGED_IN })
  const server = meetingServer()
  const page = renderPage(simulate, pageId)

  await page.instance.onLoad(id === undefined ? {} : { id })

  expect(server.calls).toHaveLength(0)
  expect(textOf(page)).toBe('会议链接无效，请从“我的会议”中打开 查看我的会议')
})

test('the convenor opens 邀请参加人员 while the list is open; no minutes or opinions before the meeting', async () => {
  const env = installWx({ storage: LOGGED_IN })
  meetingServer({ body: convenorMeeting() })
  const page = renderPage(simulate, pageId)
  await open(page)

  expect(textOf(page.querySelector('.invite-btn'))).toBe('邀请参加人员、发送会议通知')
  expect(has(page, 'minutes-btn')).toBe(false)
  expect(has(page, 'opinions-btn')).toBe(false)
  tap(page, 'invite-btn')
  await waitFor(() => env.navigateTo.mock.calls.length > 0)
  expect(env.navigateTo).toHaveBeenCalledWith({ url: '/pages/invite/invite?id=5' })
})

test('back from the invite page, the meeting and the answers are read again (once)', async () => {
  const env = installWx({ storage: LOGGED_IN })
  let invitedMore = false
  const server = meetingServer({
    body: convenorMeeting(),
    extra: req => (req.path === `${DETAIL}/invitations` && invitedMore
      ? { status: 200, body: attendanceBody({ warnings: ['人员构成缺少利益相关方'] }) }
      : undefined),
  })
  const page = renderPage(simulate, pageId)
  await open(page)
  await page.instance.onShow() // WeChat's first onShow, right after onLoad
  const before = server.calls.length

  tap(page, 'invite-btn')
  await waitFor(() => env.navigateTo.mock.calls.length > 0)
  invitedMore = true
  await page.instance.onShow()
  expect(server.calls.slice(before).map(c => `${c.method} ${c.path}`).sort()).toEqual([
    `GET ${DETAIL}`, `GET ${DETAIL}/briefing`, `GET ${DETAIL}/invitations`,
  ])
  expect(textOf(page.querySelector('.convenor'))).toContain('人员构成缺少利益相关方')
  const after = server.calls.length
  await page.instance.onShow()
  expect(server.calls.length).toBe(after)
})

test('after the list is confirmed there is no invite link; an invitee sees none of the links', async () => {
  installWx({ storage: LOGGED_IN })
  meetingServer({ body: convenorMeeting({ list_locked_at: '2026-12-08T02:00:00Z' }) })
  const page = renderPage(simulate, pageId)
  await open(page)
  expect(has(page, 'convenor')).toBe(true)
  expect(has(page, 'invite-btn')).toBe(false)

  installWx({ storage: LOGGED_IN })
  meetingServer({ body: meeting({ state: 'held', state_label: '已召开' }) })
  const other = renderPage(simulate, pageId)
  await open(other)
  for (const cls of ['invite-btn', 'minutes-btn', 'opinions-btn']) expect(has(other, cls)).toBe(false)
})

test.each([
  ['held', '已召开'],
  ['concluded', '已形成意见清单'],
])('once the meeting is %s the convenor opens 会议记录 and 意见清单', async (state, label) => {
  const env = installWx({ storage: LOGGED_IN })
  meetingServer({ body: convenorMeeting({ state, state_label: label }) })
  const page = renderPage(simulate, pageId)
  await open(page)

  expect(has(page, 'invite-btn')).toBe(false)
  // Held: the recording tools; concluded: read-only (below).
  expect(has(page, 'record-closed')).toBe(state === 'concluded')
  expect(has(page, 'show-code-btn')).toBe(state === 'held')
  tap(page, 'minutes-btn')
  await waitFor(() => env.navigateTo.mock.calls.length === 1)
  tap(page, 'opinions-btn')
  await waitFor(() => env.navigateTo.mock.calls.length === 2)
  expect(env.navigateTo.mock.calls.map(c => c[0].url)).toEqual(['/pages/minutes/minutes?id=5', '/pages/opinions/opinions?id=5'])
})

test('concluded (the opinion list routed): the record read-only with a line saying so, no write tools', async () => {
  useClock(START + 3 * 3600 * 1000)
  installWx({ storage: LOGGED_IN })
  meetingServer({ body: convenorMeeting({ state: 'concluded', state_label: '已形成意见清单' }) })
  const page = renderPage(simulate, pageId)
  await open(page)
  expect(textOf(page.querySelector('.record-closed'))).toBe('意见清单已报送，会议记录已关闭，只能查看，不能再签到或记录发言。')
  expect(textOf(page.querySelector('.minutes-btn'))).toBe('查看会议记录')
  expect(textOf(page.querySelector('.opinions-btn'))).toBe('查看意见清单')
  // No write tools: no check-in code, no invitations, no lock.
  for (const cls of ['show-code-btn', 'invite-btn', 'lock-btn']) expect(has(page, cls)).toBe(false)
})
