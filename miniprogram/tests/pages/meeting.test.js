const path = require('path')
const simulate = require('miniprogram-simulate')
const { installWx, fakeServer, errorBody, renderPage, textOf, byClass, waitFor } = require('../helpers/wx')

const LOGGED_IN = { 'auth.token': 'tok-1', 'auth.expires_at': '2099-01-01T00:00:00Z' }
const KEY_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/
const DETAIL = '/api/consultations/5'

// app/consultations/schemas.py MyAnswer
function invitation(overrides = {}) {
  return {
    group: 'member', group_label: '政协委员', answer: 'pending', answer_label: '未答复',
    reason: null, substitute_name: null, ...overrides,
  }
}
const GROUP_LABELS = { member: '政协委员', resident: '群众代表', stakeholder: '利益相关方', official: '党政领导', department: '职能部门' }
const ANSWER_LABELS = { pending: '未答复', accepted: '参加', declined: '请假', substitute: '委派他人参加' }

// app/consultations/schemas.py ConsultationOut (the detail, the RSVP's answer, /me/consultations items)
function meeting(overrides = {}) {
  return {
    id: 5, topic_id: 2, topic_title: '老旧小区加装电梯', platform_id: 2,
    state: 'scheduled', state_label: '已安排',
    starts_at: '2026-12-10T06:30:00Z', ends_at: '2026-12-10T08:30:00Z',
    place_kind: 'mobile', place_label: '现场（移动协商）', place: '前进村文化广场',
    online_url: null, agenda: ['通报调研情况', '居民发言', '形成意见'], capacity: 60, version: 1,
    notice_sent_at: '2026-12-01T02:00:00Z', briefing_due_at: '2026-12-07T01:00:00Z',
    briefing_sent_at: null, list_locked_at: null, cancelled_reason: null,
    calendar_url: '/api/consultations/5/calendar.ics', link: '/pages/meeting/meeting?id=5',
    my_invitation: invitation(), can_manage: false,
    ...overrides,
  }
}

// BriefingOut
const BRIEFING = {
  consultation_id: 5,
  text: '议题：老旧小区加装电梯\n老旧小区加装电梯的出资和维护办法\n时间：2026年12月10日 14:30–16:30\n现场（移动协商）：前进村文化广场\n议程：1. 通报调研情况；2. 居民发言；3. 形成意见\n调研情况：入户走访——走访 20 户，18 户支持。',
  research_done: true,
}

// AttendanceOut: GroupTally per group, InvitationOut per person
function invited(id, name, group, answer, extra = {}) {
  return {
    group, group_label: GROUP_LABELS[group], answer, answer_label: ANSWER_LABELS[answer],
    reason: null, substitute_name: null, id, person_id: 20 + id, name, substitute_title: null,
    answered_at: answer === 'pending' ? null : '2026-12-02T01:00:00.352257Z', ...extra,
  }
}
function tally(group, counts) {
  const c = { accepted: 0, declined: 0, substitute: 0, pending: 0, ...counts }
  return { group, label: GROUP_LABELS[group], invited: c.accepted + c.declined + c.substitute + c.pending, ...c }
}
function attendanceBody(overrides = {}) {
  return {
    groups: [
      tally('member', { accepted: 1 }),
      tally('resident', { declined: 1, pending: 1 }),
      tally('stakeholder', { pending: 1 }),
      tally('official', { substitute: 1 }),
      tally('department', { pending: 1 }),
    ],
    invitations: [
      invited(1, '钱委员', 'member', 'accepted'),
      invited(2, '张居民', 'resident', 'declined', { reason: '外出' }),
      invited(3, '王大爷', 'resident', 'pending'),
      invited(4, '赵店主', 'stakeholder', 'pending'),
      invited(5, '周镇长', 'official', 'substitute', { substitute_name: '陈副镇长', substitute_title: '副镇长' }),
      invited(6, '郑科长', 'department', 'pending'),
    ],
    warnings: [],
    list_locked_at: null,
    ...overrides,
  }
}

const QR_1 = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg=='
const QR_2 = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGP4z8DwHwAFAAH/iZk9HQAAAABJRU5ErkJggg=='
// CheckinCodeOut
function codeBody(n) {
  return n === 1
    ? { code: 'yshsl-checkin:5:5986137:b0b541e0e297e0b25da3', expires_at: '2026-12-10T06:25:00Z', qr_png: QR_1 }
    : { code: 'yshsl-checkin:5:5986138:9f1c22d07a64e5b3c811', expires_at: '2026-12-10T06:30:00Z', qr_png: QR_2 }
}
// AttendeeOut
const CHECKED_IN = {
  id: 1, person_id: 21, name: '钱委员', group: 'member', group_label: '政协委员', method: 'qr',
  checked_in_at: '2026-12-10T06:21:50Z',
}

let pageId
beforeAll(() => {
  pageId = simulate.load(path.join(__dirname, '../../pages/meeting/meeting'))
})

afterEach(() => {
  jest.useRealTimers()
})

/** The detail, the briefing and the convenor's list; `extra(req)` answers anything else first. */
function meetingServer({ body = meeting(), briefing = BRIEFING, attendance = attendanceBody(), extra } = {}) {
  return fakeServer(req => {
    const own = extra && extra(req)
    if (own) return own
    if (req.method === 'GET' && req.path === DETAIL) return { status: 200, body }
    if (req.method === 'GET' && req.path === `${DETAIL}/briefing`) return { status: 200, body: briefing }
    if (req.method === 'GET' && req.path === `${DETAIL}/invitations`) {
      return body.can_manage
        ? { status: 200, body: attendance }
        : { status: 403, body: errorBody('not_topic_manager', '只有本平台召集人或政协工作人员可以办理') }
    }
    return undefined
  })
}

const calls = server => server.calls.map(c => `${c.method} ${c.path}`)
const has = (page, cls) => Boolean(page.querySelector(`.${cls}`))
const tap = (page, cls) => page.querySelector(`.${cls}`).dispatchEvent('tap')

/** Type into a rendered control (the simulator delivers events on the next turn). */
async function type(page, cls, value) {
  page.querySelector(`.${cls}`).dispatchEvent('input', { detail: { value } })
  await simulate.sleep(0)
}

/** With jest's fake timers: let `ms` pass, then let the answers that became due arrive (a
 *  zero-delay timer set while timers run is due 1 ms later). */
async function tick(ms) {
  await jest.advanceTimersByTimeAsync(ms)
  for (let i = 0; i < 3; i++) await jest.advanceTimersByTimeAsync(1)
}

async function open(page, id = '5') {
  await page.instance.onLoad({ id })
}

// --- what an invitee sees --------------------------------------------------------------------

test('an invitee sees the meeting in China time, the agenda, their answer and the briefing', async () => {
  const env = installWx({ storage: LOGGED_IN })
  const server = meetingServer()
  const page = renderPage(simulate, pageId)

  await open(page)

  expect(calls(server).sort()).toEqual([`GET ${DETAIL}`, `GET ${DETAIL}/briefing`])
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

// --- calendar and place ----------------------------------------------------------------------

test('添加到手机日历 hands the meeting to the phone calendar; 复制会议信息 copies it as text', async () => {
  const env = installWx({ storage: LOGGED_IN })
  meetingServer()
  const page = renderPage(simulate, pageId)
  await open(page)

  tap(page, 'add-calendar-btn')
  await waitFor(() => env.toast.mock.calls.length > 0)
  const info = '协商会议：老旧小区加装电梯\n时间：2026年12月10日（星期四）14:30–16:30\n地点：现场（移动协商）：前进村文化广场\n'
    + '议程：1. 通报调研情况；2. 居民发言；3. 形成意见'
  expect(env.addPhoneCalendar.mock.calls[0][0]).toMatchObject({
    title: '协商会议：老旧小区加装电梯',
    startTime: Date.UTC(2026, 11, 10, 6, 30) / 1000,
    endTime: Date.UTC(2026, 11, 10, 8, 30) / 1000,
    location: '现场（移动协商）：前进村文化广场',
    description: info,
    alarm: true,
    alarmOffset: 3600,
  })
  expect(env.toastTitles()).toEqual(['已添加到手机日历'])

  tap(page, 'copy-info-btn')
  await simulate.sleep(0)
  expect(env.setClipboardData.mock.calls[0][0].data).toBe(info)
})

test('a refused calendar permission points to copying; a cancel says nothing', async () => {
  const env = installWx({ storage: LOGGED_IN, calendar: 'deny' })
  meetingServer()
  const page = renderPage(simulate, pageId)
  await open(page)

  page.instance.onAddCalendar()
  await waitFor(() => env.toast.mock.calls.length > 0)
  expect(env.toastTitles()).toEqual(['未能添加到手机日历，您可以点“复制会议信息”自己记下'])
})

test('an online meeting: the link is shown and can be copied', async () => {
  const env = installWx({ storage: LOGGED_IN })
  meetingServer({
    body: meeting({ place_kind: 'online', place_label: '网上', place: '腾讯会议', online_url: 'https://meeting.tencent.com/dm/abc123' }),
  })
  const page = renderPage(simulate, pageId)
  await open(page)

  expect(textOf(page.querySelector('.meeting'))).toContain('地点 网上：腾讯会议 链接 https://meeting.tencent.com/dm/abc123 复制会议链接')
  tap(page, 'copy-link-btn')
  await simulate.sleep(0)
  expect(env.setClipboardData).toHaveBeenCalledTimes(1)
  expect(env.setClipboardData.mock.calls[0][0].data).toBe('https://meeting.tencent.com/dm/abc123')
  // The copied meeting information carries the link too.
  page.instance.onCopyInfo()
  expect(env.setClipboardData.mock.calls[1][0].data).toContain('会议链接：https://meeting.tencent.com/dm/abc123')
})

// --- check-in --------------------------------------------------------------------------------

test('扫码签到: the camera reads the code, POST /checkin, success with the group label', async () => {
  const env = installWx({ storage: LOGGED_IN, scan: 'yshsl-checkin:5:5986137:b0b541e0e297e0b25da3' })
  const server = meetingServer({
    extra: req => req.path === `${DETAIL}/checkin` ? { status: 200, body: CHECKED_IN } : undefined,
  })
  const page = renderPage(simulate, pageId)
  await open(page)

  tap(page, 'scan-btn')
  await waitFor(() => has(page, 'checkin-done'))

  expect(env.scanCode.mock.calls[0][0]).toMatchObject({ onlyFromCamera: true, scanType: ['qrCode'] })
  const [post] = server.to(`${DETAIL}/checkin`)
  expect(post.method).toBe('POST')
  expect(post.data).toEqual({ code: 'yshsl-checkin:5:5986137:b0b541e0e297e0b25da3' })
  expect(post.header.Authorization).toBe('Bearer tok-1')
  expect(post.header['Idempotency-Key']).toMatch(KEY_RE)
  expect(textOf(page.querySelector('.checkin'))).toBe('扫码签到 签到成功 参会身份：政协委员 签到时间：2026年12月10日 14:21')
  expect(has(page, 'scan-btn')).toBe(false)
  expect(env.toastTitles()).toEqual(['签到成功'])
})

test.each([
  [422, 'checkin_code_invalid', '签到码无效或已过期，请扫描会场现场的二维码'],
  [409, 'research_required', '议题尚未完成调研，不能召开协商会议（不调研不协商）'],
  [409, 'checkin_closed', '不在签到时间内（会前 1 小时至会后 30 分钟）'],
])('a check-in refused with %i %s shows the server message', async (status, code, message) => {
  const env = installWx({ storage: LOGGED_IN, scan: 'yshsl-checkin:5:5986100:0000000000aaaaaaaaaa' })
  const server = meetingServer({
    extra: req => req.path === `${DETAIL}/checkin` ? { status, body: errorBody(code, message) } : undefined,
  })
  const page = renderPage(simulate, pageId)
  await open(page)

  await page.instance.onScan()

  expect(server.to(`${DETAIL}/checkin`)).toHaveLength(1)
  expect(textOf(page.querySelector('.checkin-error'))).toBe(message)
  expect(has(page, 'checkin-done')).toBe(false)
  expect(has(page, 'scan-btn')).toBe(true) // try again
  expect(env.toastTitles()).toEqual([message])
})

test('a retried check-in after a lost answer sends the same code with the same key', async () => {
  installWx({ storage: LOGGED_IN, scan: 'yshsl-checkin:5:5986137:b0b541e0e297e0b25da3' })
  let online = false
  const server = meetingServer({
    extra: req => req.path === `${DETAIL}/checkin` ? (online ? { status: 200, body: CHECKED_IN } : { fail: 'timeout' }) : undefined,
  })
  const page = renderPage(simulate, pageId)
  await open(page)

  await page.instance.onScan()
  expect(textOf(page.querySelector('.checkin-error'))).toBe('网络不佳，请稍后重试')
  online = true
  await page.instance.onScan()

  const [first, retry] = server.to(`${DETAIL}/checkin`)
  expect(retry.header['Idempotency-Key']).toBe(first.header['Idempotency-Key'])
  expect(has(page, 'checkin-done')).toBe(true)
})

test('cancelling the scan sends nothing; a failed scan says so and sends nothing', async () => {
  let outcome = null
  installWx({ storage: LOGGED_IN, scan: () => outcome })
  const server = meetingServer()
  const page = renderPage(simulate, pageId)
  await open(page)

  await page.instance.onScan()
  expect(has(page, 'checkin-error')).toBe(false)

  outcome = { fail: 'scanCode:fail camera unavailable' }
  await page.instance.onScan()
  expect(textOf(page.querySelector('.checkin-error'))).toBe('未能识别二维码，请对准会场的签到二维码重试')

  outcome = '   '
  await page.instance.onScan()
  expect(textOf(page.querySelector('.checkin-error'))).toBe('未能识别二维码，请对准会场的签到二维码重试')

  expect(server.to(`${DETAIL}/checkin`)).toHaveLength(0)
})

// --- the convenor ----------------------------------------------------------------------------

function convenorMeeting(overrides = {}) {
  return meeting({ my_invitation: null, can_manage: true, ...overrides })
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
  let n = 0
  const server = meetingServer({
    body: convenorMeeting(),
    extra: req => {
      if (req.path !== `${DETAIL}/checkin-code`) return undefined
      n += 1
      return { status: 200, body: codeBody(n) }
    },
  })
  const page = renderPage(simulate, pageId)
  await open(page)
  const src = () => page.querySelector('.qr-image').toJSON().attrs.find(a => a.name === 'src').value

  jest.useFakeTimers()
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
  let n = 0
  const server = meetingServer({
    body: convenorMeeting(),
    extra: req => {
      if (req.path !== `${DETAIL}/checkin-code`) return undefined
      n += 1
      return { status: 200, body: codeBody(n) }
    },
  })
  const page = renderPage(simulate, pageId)
  await open(page)
  await page.instance.onShow() // WeChat's first onShow, right after onLoad

  jest.useFakeTimers()
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

  jest.useFakeTimers()
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

  jest.useFakeTimers()
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
  tap(page, 'minutes-btn')
  await waitFor(() => env.navigateTo.mock.calls.length === 1)
  tap(page, 'opinions-btn')
  await waitFor(() => env.navigateTo.mock.calls.length === 2)
  expect(env.navigateTo.mock.calls.map(c => c[0].url)).toEqual(['/pages/minutes/minutes?id=5', '/pages/opinions/opinions?id=5'])
})
