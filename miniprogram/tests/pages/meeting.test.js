const path = require('path')
const simulate = require('miniprogram-simulate')
const { installWx, fakeServer, errorBody, renderPage, textOf, byClass, waitFor } = require('../helpers/wx')
const {
  BRIEFING, DETAIL, GROUP_LABELS, LOGGED_IN, calls, has, invitation, meeting,
  meetingServer, open, tap, type, START, useClock, tick,
} = require('../helpers/meeting')
const { resetSubscriptions } = require('../../utils/subscribe')

let pageId
beforeAll(() => {
  pageId = simulate.load(path.join(__dirname, '../../pages/meeting/meeting'))
})

beforeEach(() => resetSubscriptions())

// --- what an invitee sees --------------------------------------------------------------------

test('an invitee sees the meeting in China time, the agenda, their answer and the briefing', async () => {
  const env = installWx({ storage: LOGGED_IN })
  const server = meetingServer()
  const page = renderPage(simulate, pageId)

  await open(page)

  // The subscribe-message list is prefetched for the RSVP tap (utils/subscribe.js).
  expect(calls(server).sort()).toEqual([`GET ${DETAIL}`, `GET ${DETAIL}/briefing`, 'GET /api/me/subscriptions'])
  expect(server.calls[0].header.Authorization).toBe('Bearer tok-1')
  expect(textOf(page.querySelector('.meeting'))).toBe(
    '老旧小区加装电梯 已安排 时间 2026年12月10日（星期四）14:30–16:30 地点 现场（移动协商）：前进村文化广场 '
    + '人数 可容纳 60 人 议程 1. 通报调研情况 2. 居民发言 3. 形成意见',
  )
  expect(textOf(page.querySelector('.rsvp'))).toBe('我的邀请 身份 政协委员 答复 未答复 请告诉召集人您是否参加。 参加 请假')
  // "未答复" stands out.
  expect(page.querySelector('.my-answer').dom.className).toContain('answer-pending')
  // A member cannot send someone else.
  expect(has(page, 'substitute-btn')).toBe(false)
  expect(textOf(page.querySelector('.briefing'))).toBe(
    '会前通报 会前通报将于 2026年12月7日 09:00 发给参会人员，以下是目前的内容。 '
    + '议题：老旧小区加装电梯 老旧小区加装电梯的出资和维护办法 时间：2026年12月10日 14:30–16:30 '
    + '现场（移动协商）：前进村文化广场 议程：1. 通报调研情况；2. 居民发言；3. 形成意见 调研情况：入户走访——走访 20 户，18 户支持。',
  )
  expect(textOf(page.querySelector('.checkin'))).toContain('扫码签到')
  expect(textOf(page.querySelector('.calendar'))).toBe(
    '加入日历 2026年12月10日（星期四）14:30–16:30 现场（移动协商）：前进村文化广场 添加到手机日历 复制会议信息 会议时间或地点如有变更，会另行通知您。',
  )
  // Not the convenor: no attendance, no lock, no QR code.
  expect(has(page, 'convenor')).toBe(false)
  expect(env.toast).not.toHaveBeenCalled()
})

test('参加: PUT /rsvp {answer: accepted}; the page shows the new answer', async () => {
  const env = installWx({ storage: LOGGED_IN })
  const server = meetingServer({
    extra: req => req.path === `${DETAIL}/rsvp`
      ? { status: 200, body: meeting({ my_invitation: invitation({ answer: 'accepted', answer_label: '参加' }) }) }
      : undefined,
  })
  const page = renderPage(simulate, pageId)
  await open(page)

  tap(page, 'accept-btn')
  await waitFor(() => env.toast.mock.calls.length > 0)

  const [put] = server.to(`${DETAIL}/rsvp`)
  expect(put.method).toBe('PUT')
  expect(put.data).toEqual({ answer: 'accepted' })
  expect(put.header.Authorization).toBe('Bearer tok-1')
  expect(textOf(page.querySelector('.rsvp'))).toBe('我的邀请 身份 政协委员 答复 参加 召集人确认参会名单之前，您可以修改答复。 参加 请假')
  expect(page.querySelector('.my-answer').dom.className).not.toContain('answer-pending')
  expect(env.toastTitles()).toEqual(['已答复：参加'])
})

test.each([
  ['accepts', { T_MEET: 'accept', T_STATUS: 'accept' }],
  ['refuses', 'fail'],
])('参加 asks for WeChat notices of the meeting within the tap; the answer goes through when the person %s', async (_, answer) => {
  const env = installWx({ storage: LOGGED_IN })
  const list = {
    kinds: ['meeting_notice', 'briefing', 'status_change', 'feedback'].map(kind => ({
      kind, kind_label: kind, template_id: kind === 'status_change' ? 'T_STATUS' : kind === 'feedback' ? 'T_FEED' : 'T_MEET',
      long_term: false, subscribed: false, credits: 0,
    })),
    max_per_request: 3,
    credit_cap: 50,
  }
  const server = meetingServer({
    extra: req => {
      if (req.path === '/api/me/subscriptions') return { status: 200, body: list }
      if (req.path === `${DETAIL}/rsvp`) {
        return { status: 200, body: meeting({ my_invitation: invitation({ answer: 'accepted', answer_label: '参加' }) }) }
      }
      return undefined
    },
  })
  const dialog = jest.spyOn(wx, 'requestSubscribeMessage').mockImplementation(opts => {
    setTimeout(() => (answer === 'fail'
      ? opts.fail({ errMsg: 'requestSubscribeMessage:fail cancel' })
      : opts.success({ errMsg: 'requestSubscribeMessage:ok', ...answer })), 0)
  })
  const page = renderPage(simulate, pageId)
  await open(page)
  await waitFor(() => server.to('/api/me/subscriptions').length === 1)
  await simulate.sleep(0)

  tap(page, 'accept-btn')
  await waitFor(() => env.toast.mock.calls.length > 0)

  expect(dialog).toHaveBeenCalledTimes(1)
  expect(dialog.mock.calls[0][0].tmplIds).toEqual(['T_MEET', 'T_STATUS'])
  expect(server.to(`${DETAIL}/rsvp`)[0].data).toEqual({ answer: 'accepted' })
  expect(env.toastTitles()).toEqual(['已答复：参加'])
  await simulate.sleep(10)
  const posts = server.calls.filter(c => c.method === 'POST' && c.path === '/api/me/subscriptions')
  expect(posts.map(c => c.data)).toEqual(answer === 'fail' ? [] : [answer])
})

test('请假 needs a reason: an empty one gets a hint and no request; a reason is sent', async () => {
  const env = installWx({ storage: LOGGED_IN })
  const server = meetingServer({
    extra: req => req.path === `${DETAIL}/rsvp`
      ? { status: 200, body: meeting({ my_invitation: invitation({ answer: 'declined', answer_label: '请假', reason: req.data.reason }) }) }
      : undefined,
  })
  const page = renderPage(simulate, pageId)
  await open(page)

  tap(page, 'decline-btn')
  await simulate.sleep(0)
  expect(textOf(page.querySelector('.decline-form'))).toBe('请假原因（必填） 确认请假 取消')

  await type(page, 'reason-input', '   ')
  await page.instance.onSubmitDecline()
  expect(textOf(page.querySelector('.form-error'))).toBe('请写明请假原因，方便召集人安排')
  expect(server.to(`${DETAIL}/rsvp`)).toHaveLength(0)

  await type(page, 'reason-input', ' 当天外出，\n无法参加 ')
  expect(has(page, 'form-error')).toBe(false) // typing clears the hint
  tap(page, 'submit-decline-btn')
  await waitFor(() => env.toast.mock.calls.length > 0)

  const puts = server.to(`${DETAIL}/rsvp`)
  expect(puts).toHaveLength(1)
  expect(puts[0].data).toEqual({ answer: 'declined', reason: '当天外出， 无法参加' })
  expect(textOf(page.querySelector('.my-answer'))).toBe('请假（原因：当天外出， 无法参加）')
  expect(has(page, 'decline-form')).toBe(false)
  expect(env.toastTitles()).toEqual(['已答复：请假'])
})

test('a refused answer keeps the reason in the form and shows the server message', async () => {
  const env = installWx({ storage: LOGGED_IN })
  meetingServer({
    extra: req => req.path === `${DETAIL}/rsvp` ? { status: 422, body: errorBody('validation_failed', 'reason：内容过长（最多 200 字）') } : undefined,
  })
  const page = renderPage(simulate, pageId)
  await open(page)
  await page.instance.onStartDecline()
  await type(page, 'reason-input', '家里有事')

  await page.instance.onSubmitDecline()

  expect(textOf(page.querySelector('.rsvp-error'))).toBe('reason：内容过长（最多 200 字）')
  expect(page.instance.data.reason).toBe('家里有事')
  expect(has(page, 'decline-form')).toBe(true)
  expect(env.toastTitles()).toEqual(['reason：内容过长（最多 200 字）'])
})

test.each([
  ['member', false],
  ['resident', false],
  ['stakeholder', false],
  ['official', true],
  ['department', true],
])('委派他人参加 for an invitee of group %s: %p', async (group, offered) => {
  installWx({ storage: LOGGED_IN })
  meetingServer({ body: meeting({ my_invitation: invitation({ group, group_label: GROUP_LABELS[group] }) }) })
  const page = renderPage(simulate, pageId)
  await open(page)

  expect(textOf(page.querySelector('.rsvp'))).toContain(`身份 ${GROUP_LABELS[group]}`)
  expect(has(page, 'substitute-btn')).toBe(offered)
})

test('an official sends a substitute: the name is required, the title optional', async () => {
  const env = installWx({ storage: LOGGED_IN })
  const official = invitation({ group: 'official', group_label: '党政领导' })
  const server = meetingServer({
    body: meeting({ my_invitation: official }),
    extra: req => req.path === `${DETAIL}/rsvp`
      ? { status: 200, body: meeting({ my_invitation: { ...official, answer: 'substitute', answer_label: '委派他人参加', substitute_name: req.data.substitute_name } }) }
      : undefined,
  })
  const page = renderPage(simulate, pageId)
  await open(page)

  tap(page, 'substitute-btn')
  await simulate.sleep(0)
  expect(textOf(page.querySelector('.substitute-form'))).toBe('代为参加人员姓名（必填） 职务（可不填） 确认委派 取消')
  await type(page, 'title-input', '副镇长')
  await page.instance.onSubmitSubstitute()
  expect(textOf(page.querySelector('.form-error'))).toBe('请填写代为参加人员的姓名')
  expect(server.to(`${DETAIL}/rsvp`)).toHaveLength(0)

  await type(page, 'name-input', ' 陈副镇长 ')
  tap(page, 'submit-substitute-btn')
  await waitFor(() => env.toast.mock.calls.length > 0)

  expect(server.to(`${DETAIL}/rsvp`).map(c => c.data)).toEqual([
    { answer: 'substitute', substitute_name: '陈副镇长', substitute_title: '副镇长' },
  ])
  expect(textOf(page.querySelector('.my-answer'))).toBe('委派他人参加：陈副镇长')
  expect(env.toastTitles()).toEqual(['已答复：委派他人参加'])
})

test('a department sends a substitute without a title: no substitute_title is sent', async () => {
  installWx({ storage: LOGGED_IN })
  const dept = invitation({ group: 'department', group_label: '职能部门' })
  const server = meetingServer({
    body: meeting({ my_invitation: dept }),
    extra: req => req.path === `${DETAIL}/rsvp` ? { status: 200, body: meeting({ my_invitation: { ...dept, answer: 'substitute', answer_label: '委派他人参加', substitute_name: '李科员' } }) } : undefined,
  })
  const page = renderPage(simulate, pageId)
  await open(page)
  await page.instance.onStartSubstitute()
  await type(page, 'name-input', '李科员')

  await page.instance.onSubmitSubstitute()

  expect(server.to(`${DETAIL}/rsvp`)[0].data).toEqual({ answer: 'substitute', substitute_name: '李科员' })
})

test('409 list_locked: the server message is shown and the buttons go, with the explanation', async () => {
  const env = installWx({ storage: LOGGED_IN })
  let locked = false
  const server = fakeServer(req => {
    if (req.path === `${DETAIL}/rsvp`) {
      locked = true
      return { status: 409, body: errorBody('list_locked', '召集人已确认参会名单，如需变更请直接联系召集人') }
    }
    if (req.path === DETAIL) return { status: 200, body: meeting(locked ? { list_locked_at: '2026-12-08T02:00:00Z' } : {}) }
    if (req.path === `${DETAIL}/briefing`) return { status: 200, body: BRIEFING }
    return undefined
  })
  const page = renderPage(simulate, pageId)
  await open(page)

  await page.instance.onAccept()

  expect(env.toastTitles()).toEqual(['召集人已确认参会名单，如需变更请直接联系召集人'])
  expect(server.to(DETAIL)).toHaveLength(2) // the page reloads the meeting as it now is
  expect(has(page, 'accept-btn')).toBe(false)
  expect(has(page, 'decline-btn')).toBe(false)
  expect(textOf(page.querySelector('.rsvp'))).toBe(
    '我的邀请 身份 政协委员 答复 未答复 召集人已确认参会名单，答复不能再修改。如需变更，请直接联系召集人。 '
    + '召集人已确认参会名单，如需变更请直接联系召集人',
  )
})

test('a locked list: the answer is shown, no buttons, and why', async () => {
  installWx({ storage: LOGGED_IN })
  meetingServer({
    body: meeting({ list_locked_at: '2026-12-08T02:00:00Z', my_invitation: invitation({ answer: 'accepted', answer_label: '参加' }) }),
  })
  const page = renderPage(simulate, pageId)
  await open(page)

  expect(textOf(page.querySelector('.rsvp'))).toBe(
    '我的邀请 身份 政协委员 答复 参加 召集人已确认参会名单，答复不能再修改。如需变更，请直接联系召集人。',
  )
  expect(byClass(page, 'rsvp-btn').filter(b => !b.className.includes('scan-btn'))).toHaveLength(0)
  // Check-in and the calendar are still there.
  expect(has(page, 'scan-btn')).toBe(true)
  expect(has(page, 'calendar')).toBe(true)
})

test('a cancelled meeting: the reason, no answering, check-in, calendar or briefing', async () => {
  installWx({ storage: LOGGED_IN })
  const server = meetingServer({
    body: meeting({ state: 'cancelled', state_label: '已取消', cancelled_reason: '天气原因，另行安排', version: 2 }),
  })
  const page = renderPage(simulate, pageId)
  await open(page)

  expect(calls(server)).toEqual([`GET ${DETAIL}`])
  expect(textOf(page.querySelector('.meeting'))).toContain('老旧小区加装电梯 已取消 该协商活动已取消。 原因：天气原因，另行安排')
  expect(textOf(page.querySelector('.rsvp'))).toBe('我的邀请 身份 政协委员 答复 未答复 该协商活动已取消，无需答复。')
  for (const cls of ['accept-btn', 'checkin', 'calendar', 'briefing']) expect(has(page, cls)).toBe(false)
})

test('409 consultation_cancelled while answering: the message, then the cancelled meeting', async () => {
  installWx({ storage: LOGGED_IN })
  let cancelled = false
  fakeServer(req => {
    if (req.path === `${DETAIL}/rsvp`) {
      cancelled = true
      return { status: 409, body: errorBody('consultation_cancelled', '该协商活动已取消') }
    }
    if (req.path === DETAIL) {
      return { status: 200, body: cancelled ? meeting({ state: 'cancelled', state_label: '已取消', cancelled_reason: '场地维修' }) : meeting() }
    }
    if (req.path === `${DETAIL}/briefing`) return { status: 200, body: BRIEFING }
    return undefined
  })
  const page = renderPage(simulate, pageId)
  await open(page)

  await page.instance.onAccept()

  expect(textOf(page.querySelector('.rsvp-error'))).toBe('该协商活动已取消')
  expect(textOf(page.querySelector('.meeting'))).toContain('已取消 该协商活动已取消。 原因：场地维修')
  expect(has(page, 'accept-btn')).toBe(false)
  expect(has(page, 'checkin')).toBe(false)
})

test('the briefing before research is done says the research part will follow', async () => {
  installWx({ storage: LOGGED_IN })
  meetingServer({ briefing: { ...BRIEFING, text: '议题：老旧小区加装电梯\n调研情况：', research_done: false } })
  const page = renderPage(simulate, pageId)
  await open(page)

  expect(textOf(page.querySelector('.briefing-text'))).toBe('议题：老旧小区加装电梯 调研情况：')
  expect(textOf(page.querySelector('.research-note'))).toBe('议题调研尚未完成，调研情况将在完成后补充。')
})

test('a sent briefing has no "will be sent" note; a failed one can be loaded again', async () => {
  installWx({ storage: LOGGED_IN })
  let up = false
  fakeServer(req => {
    if (req.path === DETAIL) return { status: 200, body: meeting({ briefing_sent_at: '2026-12-07T01:00:05Z' }) }
    if (req.path === `${DETAIL}/briefing`) return up ? { status: 200, body: BRIEFING } : { fail: 'timeout' }
    return undefined
  })
  const page = renderPage(simulate, pageId)
  await open(page)
  expect(textOf(page.querySelector('.briefing'))).toBe('会前通报 网络不佳，请稍后重试 重新加载会前通报')

  up = true
  await page.instance.onRetryBriefing()
  expect(textOf(page.querySelector('.briefing'))).toMatch(/^会前通报 议题：老旧小区加装电梯 /)
  expect(has(page, 'briefing-note')).toBe(false)
})

// --- errors ---------------------------------------------------------------------------------

test('404: "该协商活动不存在或您没有受邀", and a way to my meetings', async () => {
  const env = installWx({ storage: LOGGED_IN })
  const server = fakeServer(req => req.path === DETAIL
    ? { status: 404, body: errorBody('topic_not_found', '该议题不存在') }
    : undefined)
  const page = renderPage(simulate, pageId)
  await open(page)

  expect(calls(server)).toEqual([`GET ${DETAIL}`])
  expect(textOf(page)).toBe('该协商活动不存在或您没有受邀 查看我的会议')
  expect(env.toast).not.toHaveBeenCalled()

  tap(page, 'my-meetings-btn')
  await simulate.sleep(0)
  expect(env.redirectTo).toHaveBeenCalledWith({ url: '/pages/meetings/meetings' })
})

test('opened from a notice without a login: logs in (401 → wx-login) and shows the meeting', async () => {
  const env = installWx()
  const server = meetingServer({
    extra: req => {
      if (req.path === '/api/auth/wx-login') {
        return { status: 200, body: { token: 'tok-2', expires_at: '2099-01-01T00:00:00Z', is_new: false, person: { id: 21, name: '钱委员', roles: [] } } }
      }
      if (req.header.Authorization !== 'Bearer tok-2') return { status: 401, body: errorBody('unauthorized', '请先登录') }
      return undefined
    },
  })
  const page = renderPage(simulate, pageId)
  await open(page)

  expect(env.login).toHaveBeenCalledTimes(1)
  expect(calls(server).slice(0, 3)).toEqual([`GET ${DETAIL}`, 'POST /api/auth/wx-login', `GET ${DETAIL}`])
  expect(textOf(page.querySelector('.topic'))).toBe('老旧小区加装电梯')
})

test('a network failure shows the message and 重新加载 tries again', async () => {
  installWx({ storage: LOGGED_IN })
  let up = false
  fakeServer(req => {
    if (!up) return { fail: 'timeout' }
    if (req.path === DETAIL) return { status: 200, body: meeting() }
    if (req.path === `${DETAIL}/briefing`) return { status: 200, body: BRIEFING }
    return undefined
  })
  const page = renderPage(simulate, pageId)
  await open(page)
  expect(textOf(page)).toBe('网络不佳，请稍后重试 重新加载')

  up = true
  tap(page, 'btn')
  await waitFor(() => has(page, 'topic'))
  expect(textOf(page.querySelector('.topic'))).toBe('老旧小区加装电梯')
})

// --- links to the convenor's other pages --------------------------------------------------------

// --- answers close at the start time (issue 10 item 4, by the device clock) -------------------

test('after the start time no 参加/请假/委派 buttons, even while the meeting is still scheduled: a plain line instead', async () => {
  useClock(START + 60 * 1000)
  installWx({ storage: LOGGED_IN })
  const official = invitation({ group: 'official', group_label: '党政领导' })
  const server = meetingServer({ body: meeting({ my_invitation: official }) })
  const page = renderPage(simulate, pageId)
  await open(page)

  for (const cls of ['accept-btn', 'decline-btn', 'substitute-btn']) expect(has(page, cls)).toBe(false)
  expect(textOf(page.querySelector('.answer-closed'))).toBe('会议已开始，不能再更改答复。')
  expect(textOf(page.querySelector('.rsvp'))).toBe('我的邀请 身份 党政领导 答复 未答复 会议已开始，不能再更改答复。')
  // Check-in stays open; nothing is asked of the server about answers.
  expect(has(page, 'scan-btn')).toBe(true)
  expect(calls(server)).not.toContain('GET /api/me/subscriptions')
})

test('a page left open across the start time takes the buttons away at the start', async () => {
  useClock(START - 60 * 1000, { timers: true })
  installWx({ storage: LOGGED_IN })
  meetingServer()
  const page = renderPage(simulate, pageId)
  const loading = open(page)
  await tick(0)
  await loading
  expect(has(page, 'accept-btn')).toBe(true)

  await tick(59 * 1000)
  expect(has(page, 'accept-btn')).toBe(true)
  await tick(1000)
  expect(has(page, 'accept-btn')).toBe(false)
  expect(textOf(page.querySelector('.answer-closed'))).toBe('会议已开始，不能再更改答复。')
})
