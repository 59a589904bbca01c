// Display of consultation meetings (app/consultations): state, answers and groups, China-time
// dates, the meeting page and the convenor's attendance view. Split from format.js.
const { pad2, formatTime, count } = require('./format')

// Labels follow app/consultations/models.py and rules.py; the server sends its own
// *_label fields and these are the fallbacks.

const MEETING_STATE_LABELS = {
  scheduled: '已安排',
  held: '已召开',
  concluded: '已形成意见清单',
  cancelled: '已取消',
}

const ANSWER_LABELS = {
  pending: '未答复',
  accepted: '参加',
  declined: '请假',
  substitute: '委派他人参加',
}

const GROUP_LABELS = {
  member: '政协委员',
  resident: '群众代表',
  stakeholder: '利益相关方',
  official: '党政领导',
  department: '职能部门',
}

// Invitees of these groups may send someone in their place (rules.py SUBSTITUTABLE).
const SUBSTITUTE_GROUPS = ['official', 'department']

const WEEKDAYS = ['日', '一', '二', '三', '四', '五', '六']

/** Milliseconds since the epoch of a server time ('' or unreadable: NaN). Same reading as
 *  formatTime: microseconds cut, no zone means UTC. */
function parseTime(iso) {
  if (!iso) return NaN
  let text = String(iso).replace(/(\.\d{3})\d+/, '$1')
  if (!/(Z|[+-]\d{2}:?\d{2})$/i.test(text)) text += 'Z'
  return Date.parse(text)
}

// The parts of a time in China time (UTC+8, no daylight saving).
function chinaParts(iso) {
  const ms = parseTime(iso)
  if (Number.isNaN(ms)) return null
  const d = new Date(ms + 8 * 3600 * 1000)
  return {
    date: `${d.getUTCFullYear()}年${d.getUTCMonth() + 1}月${d.getUTCDate()}日（星期${WEEKDAYS[d.getUTCDay()]}）`,
    clock: `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}`,
  }
}

/** "14:30" in China time ('' when unreadable). */
function clockText(iso) {
  const p = chinaParts(iso)
  return p ? p.clock : ''
}

/** A meeting's time in China time: "2026年12月10日（星期四）14:30–16:30", or both dates when it
 *  ends on another day. */
function meetingTimeText(startsAt, endsAt) {
  const start = chinaParts(startsAt)
  if (!start) return ''
  const end = chinaParts(endsAt)
  if (!end) return `${start.date}${start.clock}`
  if (end.date === start.date) return `${start.date}${start.clock}–${end.clock}`
  return `${start.date}${start.clock} 至 ${end.date}${end.clock}`
}

function meetingPlaceText(body) {
  const label = body.place_label || ''
  const place = body.place || ''
  if (label && place) return `${label}：${place}`
  return label || place
}

function answerText(inv) {
  const label = inv.answer_label || ANSWER_LABELS[inv.answer] || ''
  if (inv.answer === 'declined' && inv.reason) return `${label}（原因：${inv.reason}）`
  if (inv.answer === 'substitute' && inv.substitute_name) {
    const title = inv.substitute_title ? `（${inv.substitute_title}）` : ''
    return `${label}：${inv.substitute_name}${title}`
  }
  return label
}

/** One item of GET /api/me/consultations (ConsultationOut) for "我的会议". `pending` (shown as a
 *  call to answer) only while an answer can still be given: scheduled and before starts_at by the
 *  device clock `now` (ms). */
function meetingListItem(item, now = Date.now()) {
  const mine = item.my_invitation || null
  const startMs = parseTime(item.starts_at)
  const open = item.state === 'scheduled' && !(now >= startMs)
  return {
    id: item.id,
    title: item.topic_title || '',
    timeText: meetingTimeText(item.starts_at, item.ends_at),
    placeText: meetingPlaceText(item),
    state: item.state,
    stateLabel: item.state_label || MEETING_STATE_LABELS[item.state] || '',
    answerLabel: mine ? mine.answer_label || ANSWER_LABELS[mine.answer] || '' : '',
    pending: Boolean(mine && mine.answer === 'pending') && open,
  }
}

const STARTED_TEXT = '会议已开始，不能再更改答复。'
const RECORD_CLOSED_TEXT = '意见清单已报送，会议记录已关闭，只能查看，不能再签到或记录发言。'

// Invitation groups who give the resident rating (D27) from the meeting page.
const RATING_GROUPS = ['resident', 'stakeholder']

/** GET /api/consultations/<id> (ConsultationOut) for the meeting page: what is shown and which
 *  actions the state and the time allow (the server refuses the others all the same). `now`
 *  (ms, the device clock): answers and new invitations close at starts_at even while the state
 *  is still `scheduled` (nobody has checked in yet). */
function meetingView(body, now = Date.now()) {
  const state = body.state
  const mine = body.my_invitation || null
  const scheduled = state === 'scheduled'
  const cancelled = state === 'cancelled'
  const concluded = state === 'concluded'
  const startMs = parseTime(body.starts_at)
  const started = !Number.isNaN(startMs) && now >= startMs
  const listLocked = Boolean(body.list_locked_at)
  const canManage = body.can_manage === true
  let answerClosed = ''
  if (mine) {
    if (cancelled) answerClosed = '该协商活动已取消，无需答复。'
    else if (!scheduled) answerClosed = '会议已召开，答复不能再修改。'
    else if (started) answerClosed = STARTED_TEXT
    else if (listLocked) answerClosed = '召集人已确认参会名单，答复不能再修改。如需变更，请直接联系召集人。'
  }
  let briefingNote = ''
  if (!body.briefing_sent_at && body.briefing_due_at && scheduled) {
    briefingNote = `会前通报将于 ${formatTime(body.briefing_due_at)} 发给参会人员，以下是目前的内容。`
  }
  return {
    id: body.id,
    title: body.topic_title || '',
    state,
    stateLabel: body.state_label || MEETING_STATE_LABELS[state] || '',
    cancelled,
    cancelledReason: cancelled ? body.cancelled_reason || '' : '',
    timeText: meetingTimeText(body.starts_at, body.ends_at),
    startUnix: Math.floor(parseTime(body.starts_at) / 1000),
    endUnix: Math.floor(parseTime(body.ends_at) / 1000),
    placeText: meetingPlaceText(body),
    onlineUrl: body.online_url || '',
    agenda: (body.agenda || []).map((text, i) => ({ key: `${i}`, text: `${i + 1}. ${text}` })),
    capacityText: typeof body.capacity === 'number' ? `${body.capacity} 人` : '',
    listLocked,
    lockedText: listLocked ? `参会名单已于 ${formatTime(body.list_locked_at)} 确认` : '',
    invited: Boolean(mine),
    groupLabel: mine ? mine.group_label || GROUP_LABELS[mine.group] || '' : '',
    answer: mine ? mine.answer : '',
    answerLabel: mine ? mine.answer_label || ANSWER_LABELS[mine.answer] || '' : '',
    answerText: mine ? answerText(mine) : '',
    pending: Boolean(mine && mine.answer === 'pending'),
    canAnswer: Boolean(mine) && scheduled && !started && !listLocked,
    // When the answers close by the clock: the page shows the meeting again then.
    startMs: Number.isNaN(startMs) ? 0 : startMs,
    answerClosed,
    canSubstitute: Boolean(mine) && SUBSTITUTE_GROUPS.indexOf(mine.group) >= 0,
    canCheckIn: Boolean(mine) && (scheduled || state === 'held'),
    // D27 群众评价: residents and stakeholders rate a held consultation (pages/rate).
    canRate: Boolean(mine) && RATING_GROUPS.indexOf(mine.group) >= 0 && (state === 'held' || concluded),
    showCalendar: scheduled,
    briefingNote,
    canManage,
    canLock: canManage && scheduled && !listLocked,
    canShowCode: canManage && (scheduled || state === 'held'),
    // The convenor's other pages: inviting until the list is confirmed or the meeting starts
    // (409 consultation_held from starts_at; walk-ins are recorded at check-in); the minutes
    // and the opinion list once the meeting is held. Once the opinion list is routed
    // (`concluded`) the record is closed (409 consultation_concluded): read-only.
    canInvite: canManage && scheduled && !started && !listLocked,
    canRecord: canManage && state === 'held',
    canViewRecord: canManage && (state === 'held' || concluded),
    recordClosedText: canManage && concluded ? RECORD_CLOSED_TEXT : '',
  }
}

/** GET /api/consultations/<id>/invitations and POST …/lock (AttendanceOut) for the convenor:
 *  the answers of each group and who gave them. */
function attendanceView(body) {
  const invitations = body.invitations || []
  const groups = (body.groups || []).map(g => {
    const label = g.label || GROUP_LABELS[g.group] || g.group
    const people = invitations
      .filter(i => i.group === g.group)
      .map(i => ({ id: i.id, name: i.name || '', answerText: answerText(i), pending: i.answer === 'pending' }))
    const parts = [`邀请 ${count(g.invited)}`, `参加 ${count(g.accepted)}`, `请假 ${count(g.declined)}`]
    if (count(g.substitute)) parts.push(`委派 ${count(g.substitute)}`)
    parts.push(`未答复 ${count(g.pending)}`)
    return { group: g.group, label, countsText: parts.join(' · '), pending: count(g.pending), people }
  })
  const pending = groups.reduce((sum, g) => sum + g.pending, 0)
  return {
    groups,
    pending,
    invitedCount: invitations.length,
    warnings: (body.warnings || []).slice(),
    listLockedAt: body.list_locked_at || null,
  }
}

/** The meeting as plain text for the clipboard ("复制会议信息"). */
function meetingInfoText(view) {
  const lines = [`协商会议：${view.title}`, `时间：${view.timeText}`, `地点：${view.placeText}`]
  if (view.onlineUrl) lines.push(`会议链接：${view.onlineUrl}`)
  if (view.agenda.length) lines.push(`议程：${view.agenda.map(a => a.text).join('；')}`)
  return lines.join('\n')
}

module.exports = {
  MEETING_STATE_LABELS,
  RECORD_CLOSED_TEXT,
  ANSWER_LABELS,
  GROUP_LABELS,
  SUBSTITUTE_GROUPS,
  parseTime,
  clockText,
  meetingTimeText,
  meetingListItem,
  meetingView,
  attendanceView,
  meetingInfoText,
}
