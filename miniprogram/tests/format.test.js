const f = require('../utils/format')
const m = require('../utils/meetings_format')
const { newIdempotencyKey, actionKey } = require('../utils/idempotency')

describe('labels', () => {
  test('D1: the four platform kinds in Chinese', () => {
    expect(['room', 'contact_point', 'mobile', 'joint'].map(f.kindLabel)).toEqual([
      '协商议事室', '委员协商联系点', '流动协商议事室', '联合协商议事室',
    ])
    expect(f.kindLabel('something_new')).toBe('协商议事平台')
  })

  test('roles in Chinese, unknown roles shown as sent', () => {
    expect(f.roleLabel('member')).toBe('政协委员')
    expect(f.roleLabel('dept_handler')).toBe('承办部门经办人')
    expect(f.roleLabel('future_role')).toBe('future_role')
  })
})

test.each([
  [0.004, '10 米'],
  [0.347, '350 米'],
  [0.999, '1 公里'],
  [1, '1 公里'],
  [1.24, '1.2 公里'],
  [9.96, '10 公里'],
  [15.4, '15 公里'],
  [null, ''],
  [undefined, ''],
  ['abc', ''],
])('formatDistance(%p) → %p', (km, text) => {
  expect(f.formatDistance(km)).toBe(text)
})

test('list items: server kind label, address or else the region, distance', () => {
  expect(f.platformListItem({
    id: 1, name: 'A', kind: 'mobile', kind_label: '流动协商议事室', venue_address: '某路 1 号',
    region_name: '新浦街道', distance_km: 2.5,
  })).toEqual({ id: 1, name: 'A', kindLabel: '流动协商议事室', place: '地址：某路 1 号', distanceText: '2.5 公里' })
  const noVenue = f.platformListItem({ id: 2, name: 'B', kind: 'joint', venue_address: null, region_name: '朝阳社区', distance_km: null })
  expect(noVenue.place).toBe('所在：朝阳社区')
  expect(noVenue.distanceText).toBe('')
  // An older server without kind_label still gets the Chinese name.
  expect(f.platformListItem({ id: 3, name: 'C', kind: 'contact_point' }).kindLabel).toBe('委员协商联系点')
})

function sixMusts(statuses) {
  const labels = { organisation: '有组织', rules: '有制度', venue: '有场所', signage: '有标识', activities: '有活动', results: '有成效' }
  const statusLabels = { met: '已达标', claimed: '缺佐证', stale: '需复核', missing: '未达标' }
  const items = Object.keys(statuses).map(must => ({
    must, label: labels[must], status: statuses[must], status_label: statusLabels[statuses[must]], checked_on: null,
  }))
  return { is_compliant: items.every(i => i.status === 'met'), missing: [], items }
}

describe('D3: six musts summary', () => {
  test('six rows in the seed order; anything but "met" is shown with its reason', () => {
    const s = f.sixMustsSummary(sixMusts({
      venue: 'met', organisation: 'met', rules: 'claimed', signage: 'stale', activities: 'met', results: 'missing',
    }))
    expect(s.items.map(i => i.text)).toEqual([
      '✓ 有组织', '✗ 有制度（缺佐证）', '✓ 有场所', '✗ 有标识（需复核）', '✓ 有活动', '✗ 有成效（未达标）',
    ])
    expect(s.metCount).toBe(3)
    expect(s.text).toBe('六有建设：3/6 项已达标')
  })

  test('a must the server left out counts as not met', () => {
    const s = f.sixMustsSummary(sixMusts({ organisation: 'met' }))
    expect(s.metCount).toBe(1)
    expect(s.items[5].text).toBe('✗ 有成效（未达标）')
  })

  test('all six met', () => {
    const all = { organisation: 'met', rules: 'met', venue: 'met', signage: 'met', activities: 'met', results: 'met' }
    expect(f.sixMustsSummary(sixMusts(all)).text).toBe('六有建设：6 项全部达标')
  })

  test('nothing known → null', () => {
    expect(f.sixMustsSummary(undefined)).toBeNull()
    expect(f.sixMustsSummary({ is_compliant: false })).toBeNull()
  })
})

describe('meView (GET /api/me)', () => {
  test('roles with their scope, de-duplicated; platforms with the relation', () => {
    const v = f.meView({
      id: 1,
      name: '李**',
      phone_masked: '139****0001',
      home_region: { id: 3, name: '新浦街道' },
      roles: [
        { role: 'member', label: '政协委员', scope_type: 'region', scope_id: 2, scope_name: '海州区', implicit: false },
        { role: 'member', label: '政协委员', scope_type: 'region', scope_id: 2, scope_name: '海州区', implicit: false },
        { role: 'convenor', label: '召集人', scope_type: 'platform', scope_id: 4, scope_name: '新浦街道协商议事室', implicit: false },
        { role: 'resident', label: '群众', scope_type: null, scope_id: null, scope_name: null, implicit: true },
      ],
      platforms: [{ id: 4, name: '新浦街道协商议事室', relation: 'convenor', relation_label: '召集人' }],
      session: { kind: 'mp', expires_at: '2099-01-01T00:00:00Z' },
    })
    expect(v).toEqual({
      name: '李**',
      phoneMasked: '139****0001',
      roles: ['政协委员（海州区）', '召集人（新浦街道协商议事室）', '群众'],
      platforms: [{ id: 4, name: '新浦街道协商议事室', relationLabel: '召集人' }],
    })
  })

  test('no phone, a role without a label gets the Chinese name', () => {
    const v = f.meView({ name: '张**', phone_masked: null, roles: [{ role: 'dept_handler' }], platforms: [] })
    expect(v.roles).toEqual(['承办部门经办人'])
    expect(v.phoneMasked).toBe('')
    expect(v.platforms).toEqual([])
  })
})

describe('idempotency keys', () => {
  test('look like UUID v4 and do not repeat', () => {
    const keys = new Set()
    for (let i = 0; i < 2000; i++) {
      const key = newIdempotencyKey()
      expect(key).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
      keys.add(key)
    }
    expect(keys.size).toBe(2000)
  })

  test('one key per user action: reused until reset', () => {
    const k = actionKey()
    const first = k.current()
    expect(k.current()).toBe(first)
    k.reset()
    const second = k.current()
    expect(second).not.toBe(first)
    expect(k.current()).toBe(second)
  })
})

describe('suggestions', () => {
  test.each([
    ['2026-11-27T02:01:19.853404Z', '2026年11月27日 10:01'],
    ['2026-11-27T02:01:19.853404+00:00', '2026年11月27日 10:01'],
    ['2026-12-31T16:30:00+00:00', '2027年1月1日 00:30'], // China date, whatever the phone's zone
    ['2026-11-27T02:01:19', '2026年11月27日 10:01'], // no zone: UTC, as stored
    ['', ''],
    ['not a time', ''],
  ])('formatTime(%p) → %p', (iso, text) => {
    expect(f.formatTime(iso)).toBe(text)
  })

  test('D6 categories and suggestion states in Chinese', () => {
    expect(f.CATEGORY_OPTIONS.map(o => `${o.value}:${o.label}`)).toEqual(['major:要事', 'livelihood:实事', 'difficulty:难事'])
    expect(f.categoryLabel('difficulty')).toBe('难事')
    expect(f.SUGGESTION_STATE_LABELS.taken_up).toBe('已列为议题')
  })

  test('a list item: labels, counts, voted_by_me (null when anonymous), absolute cover URL', () => {
    const item = f.suggestionListItem({
      id: 3, title: '路口缺少红绿灯', category: 'major', category_label: '要事', state: 'open', state_label: '征集中',
      proposer: '李*', vote_count: 4, comment_count: 0, cover_url: '/api/uploads/abc', voted_by_me: null,
      created_at: '2026-11-27T02:01:19Z',
    })
    expect(item).toMatchObject({
      id: 3, categoryLabel: '要事', proposer: '李*', voteText: '4 人支持', commentText: '', votedByMe: false,
      coverUrl: 'http://127.0.0.1:5000/api/uploads/abc',
    })
  })

  test('the detail: held notice for the proposer, decline reason only when declined, photo URLs', () => {
    const base = {
      id: 9, title: '河道垃圾', description: '', category: 'difficulty', category_label: '难事', state: 'held', state_label: '审核中',
      platform: { id: 11, name: '某平台' }, proposer: '王**', attachments: [{ id: 1, url: '/api/uploads/k1' }],
      vote_count: 0, comment_count: 0, latitude: null, longitude: null, is_mine: true, notice: null, decline_reason: 'x',
    }
    const held = f.suggestionDetail(base)
    expect(held).toMatchObject({ isPublic: false, isOpen: false, notice: '已提交，审核通过后公开', declineReason: '', latitude: null })
    expect(held.photos).toEqual([{ id: 1, url: 'http://127.0.0.1:5000/api/uploads/k1' }])
    const declined = f.suggestionDetail({ ...base, state: 'declined', state_label: '暂不采纳', is_mine: false, decline_reason: '已有计划' })
    expect(declined).toMatchObject({ isPublic: true, isOpen: false, notice: '', declineReason: '已有计划' })
  })

  test('comments: own and held ones cannot be reported; held ones carry the notice', () => {
    const c = (over) => ({ id: 1, parent_id: null, body: 'b', author: '李*', author_badge: null, is_mine: false, state: 'visible', state_label: '已公开', notice: null, created_at: null, ...over })
    expect(f.commentView(c()).canReport).toBe(true)
    expect(f.commentView(c({ is_mine: true })).canReport).toBe(false)
    expect(f.commentView(c({ is_mine: true, state: 'held', state_label: '审核中', notice: '已提交，审核通过后公开' }))).toMatchObject({
      canReport: false, held: true, stateLabel: '审核中', notice: '已提交，审核通过后公开',
    })
  })
})

describe('consultation meetings', () => {
  test('a meeting time in China time with the weekday; both dates when it ends on another day', () => {
    expect(m.meetingTimeText('2026-12-10T06:30:00Z', '2026-12-10T08:30:00Z')).toBe('2026年12月10日（星期四）14:30–16:30')
    expect(m.meetingTimeText('2026-12-10T14:30:00Z', '2026-12-10T17:00:00Z')).toBe('2026年12月10日（星期四）22:30 至 2026年12月11日（星期五）01:00')
    expect(m.meetingTimeText('2026-12-13T00:00:00+08:00', null)).toBe('2026年12月13日（星期日）00:00')
    expect(m.meetingTimeText('', '')).toBe('')
    expect(m.clockText('2026-12-10T06:25:00.123456Z')).toBe('14:25')
  })

  const base = {
    id: 5, topic_title: '加装电梯', state: 'scheduled', state_label: '已安排',
    starts_at: '2026-12-10T06:30:00Z', ends_at: '2026-12-10T08:30:00Z', place_label: '议事室', place: '人民路 8 号',
    online_url: null, agenda: [], capacity: null, briefing_due_at: '2026-12-07T01:00:00Z', briefing_sent_at: null,
    list_locked_at: null, cancelled_reason: null, can_manage: false,
    my_invitation: { group: 'official', group_label: '党政领导', answer: 'pending', answer_label: '未答复', reason: null, substitute_name: null },
  }

  // The device clock, a week before the meeting (meetingView's `now`).
  const BEFORE = Date.parse('2026-12-03T00:00:00Z')

  test('what the state allows an invitee: answer while scheduled and unlocked, check in until held', () => {
    expect(m.meetingView(base, BEFORE)).toMatchObject({
      canAnswer: true, canSubstitute: true, canCheckIn: true, showCalendar: true, answerClosed: '', pending: true,
      canManage: false, canLock: false, canShowCode: false,
      startUnix: Date.UTC(2026, 11, 10, 6, 30) / 1000, placeText: '议事室：人民路 8 号',
    })
    const locked = m.meetingView({ ...base, list_locked_at: '2026-12-08T02:00:00Z' }, BEFORE)
    expect(locked).toMatchObject({ canAnswer: false, canCheckIn: true, lockedText: '参会名单已于 2026年12月8日 10:00 确认' })
    expect(locked.answerClosed).toBe('召集人已确认参会名单，答复不能再修改。如需变更，请直接联系召集人。')
    expect(m.meetingView({ ...base, state: 'held' }, BEFORE)).toMatchObject({ canAnswer: false, canCheckIn: true, showCalendar: false, answerClosed: '会议已召开，答复不能再修改。' })
    expect(m.meetingView({ ...base, state: 'concluded' }, BEFORE)).toMatchObject({ canCheckIn: false })
    expect(m.meetingView({ ...base, state: 'cancelled', cancelled_reason: '下雨' }, BEFORE)).toMatchObject({
      canAnswer: false, canCheckIn: false, showCalendar: false, cancelled: true, cancelledReason: '下雨', answerClosed: '该协商活动已取消，无需答复。',
    })
    const resident = { ...base.my_invitation, group: 'resident' }
    expect(m.meetingView({ ...base, my_invitation: resident }, BEFORE).canSubstitute).toBe(false)
    expect(m.meetingView({ ...base, my_invitation: null, can_manage: true }, BEFORE)).toMatchObject({
      invited: false, canAnswer: false, canCheckIn: false, canManage: true, canLock: true, canShowCode: true,
      canInvite: true, canRecord: false,
    })
    const manager = { ...base, my_invitation: null, can_manage: true }
    expect(m.meetingView({ ...manager, list_locked_at: '2026-12-08T02:00:00Z' }, BEFORE)).toMatchObject({ canInvite: false, canRecord: false })
    expect(m.meetingView({ ...manager, state: 'held' }, BEFORE)).toMatchObject({ canInvite: false, canRecord: true, canViewRecord: true, recordClosedText: '' })
    expect(m.meetingView({ ...manager, state: 'cancelled' }, BEFORE)).toMatchObject({ canInvite: false, canRecord: false })
    expect(m.meetingView({ ...base, state: 'held' }, BEFORE)).toMatchObject({ canInvite: false, canRecord: false })
  })

  test('answers and new invitations close at the start time by the device clock, whatever the state says', () => {
    const start = Date.parse(base.starts_at)
    // A minute before: still open.
    expect(m.meetingView(base, start - 60 * 1000)).toMatchObject({ canAnswer: true, answerClosed: '' })
    // From the start on (nobody has checked in: still `scheduled`): no 参加/请假/委派, a plain line.
    for (const now of [start, start + 60 * 1000]) {
      const view = m.meetingView(base, now)
      expect(view).toMatchObject({ state: 'scheduled', canAnswer: false, canCheckIn: true, answerClosed: '会议已开始，不能再更改答复。' })
      expect(m.meetingView({ ...base, list_locked_at: '2026-12-08T02:00:00Z' }, now).answerClosed).toBe('会议已开始，不能再更改答复。')
      const manager = m.meetingView({ ...base, my_invitation: null, can_manage: true }, now)
      expect(manager).toMatchObject({ canInvite: false, canShowCode: true, answerClosed: '' })
    }
    expect(m.meetingView({ ...base, my_invitation: null, can_manage: true }, start - 1)).toMatchObject({ canInvite: true })
    // Held stays as it was.
    expect(m.meetingView({ ...base, state: 'held' }, start + 60 * 1000).answerClosed).toBe('会议已召开，答复不能再修改。')
  })

  test('我的会议 marks an unanswered invitation as waiting only while it can still be answered', () => {
    const start = Date.parse(base.starts_at)
    expect(m.meetingListItem(base, start - 60 * 1000)).toMatchObject({ answerLabel: '未答复', pending: true })
    // From the start on the answer is closed: still 未答复, but no longer a call to act.
    expect(m.meetingListItem(base, start)).toMatchObject({ answerLabel: '未答复', pending: false })
    expect(m.meetingListItem({ ...base, state: 'held' }, start - 60 * 1000).pending).toBe(false)
    expect(m.meetingListItem({ ...base, state: 'cancelled' }, start - 60 * 1000).pending).toBe(false)
  })

  test('once the opinion list is routed (concluded) the record is read-only for the convenor', () => {
    const manager = { ...base, my_invitation: null, can_manage: true }
    const after = Date.parse('2026-12-11T00:00:00Z')
    expect(m.meetingView({ ...manager, state: 'held' }, after)).toMatchObject({ canRecord: true, canViewRecord: true, recordClosedText: '' })
    expect(m.meetingView({ ...manager, state: 'concluded' }, after)).toMatchObject({
      canRecord: false, canViewRecord: true, canShowCode: false, canInvite: false,
      recordClosedText: '意见清单已报送，会议记录已关闭，只能查看，不能再签到或记录发言。',
    })
    // Not the convenor: nothing of the record.
    expect(m.meetingView({ ...base, state: 'concluded' }, after)).toMatchObject({ canRecord: false, canViewRecord: false, recordClosedText: '' })
  })

  test("the convenor's tallies: 委派 only when someone sent a substitute, the number unanswered", () => {
    const view = m.attendanceView({
      groups: [
        { group: 'member', label: '政协委员', invited: 2, accepted: 1, declined: 0, substitute: 0, pending: 1 },
        { group: 'department', label: '职能部门', invited: 1, accepted: 0, declined: 0, substitute: 1, pending: 0 },
      ],
      invitations: [
        { id: 1, name: '钱委员', group: 'member', answer: 'accepted', answer_label: '参加' },
        { id: 2, name: '孙委员', group: 'member', answer: 'pending', answer_label: '未答复' },
        { id: 3, name: '郑科长', group: 'department', answer: 'substitute', answer_label: '委派他人参加', substitute_name: '李科员', substitute_title: null },
      ],
      warnings: ['尚未邀请群众代表'],
      list_locked_at: null,
    })
    expect(view.groups.map(g => g.countsText)).toEqual(['邀请 2 · 参加 1 · 请假 0 · 未答复 1', '邀请 1 · 参加 0 · 请假 0 · 委派 1 · 未答复 0'])
    expect(view.groups[1].people).toEqual([{ id: 3, name: '郑科长', answerText: '委派他人参加：李科员', pending: false }])
    expect(view.pending).toBe(1)
    expect(view.warnings).toEqual(['尚未邀请群众代表'])
  })
})

test('dateText: an API date in Chinese, empty when missing or unreadable', () => {
  expect(f.dateText('2026-10-10')).toBe('2026年10月10日')
  expect(f.dateText('2026-01-05')).toBe('2026年1月5日')
  expect(f.dateText(null)).toBe('')
  expect(f.dateText('soon')).toBe('')
})
