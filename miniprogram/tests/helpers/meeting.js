// Fixtures of the meeting page tests, shaped like app/consultations/schemas.py.
const simulate = require('miniprogram-simulate')
const { fakeServer, errorBody } = require('./wx')

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

// The device clock of these tests: before the meeting (2026-12-10 06:30Z) unless a test sets
// its own — the page closes the answers at the start time by this clock. Only Date is faked
// here; tests that need timers call useClock themselves.
const BEFORE_START = Date.parse('2026-12-05T00:00:00Z')
const START = Date.parse('2026-12-10T06:30:00Z')
const TIMERS = ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'setImmediate',
  'clearImmediate', 'nextTick', 'queueMicrotask', 'hrtime', 'performance',
  'requestAnimationFrame', 'cancelAnimationFrame', 'requestIdleCallback', 'cancelIdleCallback']

/** Fake the clock at `now` (ms); with `timers`, jest's fake timers as well. */
function useClock(now, { timers = false } = {}) {
  jest.useFakeTimers({ now, doNotFake: timers ? [] : TIMERS })
}

beforeEach(() => {
  useClock(BEFORE_START)
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


module.exports = {
  BEFORE_START,
  START,
  useClock,
  BRIEFING,
  CHECKED_IN,
  DETAIL,
  GROUP_LABELS,
  KEY_RE,
  LOGGED_IN,
  QR_1,
  QR_2,
  attendanceBody,
  calls,
  codeBody,
  has,
  invitation,
  invited,
  meeting,
  meetingServer,
  open,
  tally,
  tap,
  tick,
  type,
}
