/**
 * Chinese labels and the shaping of API data for display (kept out of the pages so it can be
 * tested without rendering). Labels follow app/org/models.py, app/topics/models.py and
 * app/suggestions/models.py.
 */
const config = require('./config')

// D1: the four kinds of platform.
const KIND_LABELS = {
  room: '协商议事室',
  contact_point: '委员协商联系点',
  mobile: '流动协商议事室',
  joint: '联合协商议事室',
}

const ROLE_LABELS = {
  resident: '群众',
  member: '政协委员',
  convenor: '召集人',
  liaison: '联络员',
  reviewer: '审核人',
  dept_handler: '承办部门经办人',
  staff: '政协工作人员',
  admin: '系统管理员',
}

// D3: the six musts (六有), in the seed's order.
const SIX_MUSTS = [
  ['organisation', '有组织'],
  ['rules', '有制度'],
  ['venue', '有场所'],
  ['signage', '有标识'],
  ['activities', '有活动'],
  ['results', '有成效'],
]

function kindLabel(kind) {
  return KIND_LABELS[kind] || '协商议事平台'
}

function roleLabel(role) {
  return ROLE_LABELS[role] || role
}

/** "350 米" under one kilometre, "1.2 公里" up to 10 km, "15 公里" beyond; '' when unknown. */
function formatDistance(km) {
  if (km === null || km === undefined || km === '' || Number.isNaN(Number(km))) return ''
  const value = Number(km)
  const metres = Math.max(10, Math.round(value * 100) * 10)
  if (metres < 1000) return `${metres} 米`
  if (value < 9.95) return `${value.toFixed(1).replace(/\.0$/, '')} 公里`
  return `${Math.round(value)} 公里`
}

/** One item of GET /api/platforms (app/org/schemas.py PlatformSummary), ready for the list. */
function platformListItem(item) {
  let place = ''
  if (item.venue_address) place = `地址：${item.venue_address}`
  else if (item.region_name) place = `所在：${item.region_name}`
  return {
    id: item.id,
    name: item.name,
    kindLabel: item.kind_label || kindLabel(item.kind),
    place,
    distanceText: formatDistance(item.distance_km),
  }
}

/** D3: the six musts of a platform detail — the server's
 *  {is_compliant, missing, items: [{must, label, status, status_label}]} — as six display rows
 *  in the seed's order (status met / claimed 缺佐证 / stale 需复核 / missing 未达标) and a
 *  one-line summary. Null when the server sent nothing. */
function sixMustsSummary(raw) {
  if (!raw || !Array.isArray(raw.items)) return null
  const byMust = {}
  raw.items.forEach(entry => {
    if (entry && entry.must) byMust[entry.must] = entry
  })
  const items = SIX_MUSTS.map(([key, label]) => {
    const entry = byMust[key] || {}
    const met = entry.status === 'met'
    const note = met ? '' : entry.status_label || '未达标'
    return {
      key,
      label: entry.label || label,
      met,
      text: met ? `✓ ${entry.label || label}` : `✗ ${entry.label || label}（${note}）`,
    }
  })
  const metCount = items.filter(i => i.met).length
  const text = metCount === items.length
    ? '六有建设：6 项全部达标'
    : `六有建设：${metCount}/${items.length} 项已达标`
  return { items, metCount, total: items.length, text }
}

/** GET /api/platforms/<id> (PlatformDetail), ready for the detail page. */
function platformDetail(body) {
  const convenor = body.convenor && body.convenor.name ? body.convenor : null
  return {
    id: body.id,
    name: body.name,
    secondaryName: body.secondary_name || '',
    kindLabel: body.kind_label || kindLabel(body.kind),
    hostName: body.host_name || '',
    regionName: body.region_name || '',
    address: body.venue_address || '',
    latitude: typeof body.latitude === 'number' ? body.latitude : null,
    longitude: typeof body.longitude === 'number' ? body.longitude : null,
    convenorRole: convenor ? convenor.role || '召集人' : '',
    convenorName: convenor ? convenor.name : '',
    memberText: typeof body.member_count === 'number' ? `${body.member_count} 位` : '',
    sixMusts: sixMustsSummary(body.six_musts),
  }
}

/** GET /api/me (app/auth/schemas.py MeResponse): name, masked phone, roles in Chinese with
 *  their scope, and the platforms the person convenes or is linked to. */
function meView(body) {
  const me = body || {}
  const seen = {}
  const roles = []
  ;(me.roles || []).forEach(entry => {
    const role = typeof entry === 'string' ? entry : entry && entry.role
    if (!role) return
    const label = (entry && entry.label) || roleLabel(role)
    const scope = (entry && entry.scope_name) || ''
    const text = scope ? `${label}（${scope}）` : label
    if (!seen[text]) {
      seen[text] = true
      roles.push(text)
    }
  })
  const platforms = (me.platforms || []).map(p => ({
    id: p.id,
    name: p.name,
    relationLabel: p.relation_label || '',
  }))
  return {
    name: me.name || '',
    phoneMasked: me.phone_masked || '',
    roles,
    platforms,
  }
}

// --- suggestions ----------------------------------------------------------------------------

// D6: the three categories (app/topics/models.py CATEGORY_LABELS), with a one-line explanation
// for the propose form.
const CATEGORY_LABELS = {
  major: '要事',
  livelihood: '实事',
  difficulty: '难事',
}

const CATEGORY_OPTIONS = [
  { value: 'major', label: '要事', hint: '关系本地发展、大家都关心的大事' },
  { value: 'livelihood', label: '实事', hint: '身边的民生实事，如道路、停车、养老、环境' },
  { value: 'difficulty', label: '难事', hint: '群众反映多、长期没有解决的难题' },
]

// app/suggestions/models.py SUGGESTION_STATE_LABELS
const SUGGESTION_STATE_LABELS = {
  held: '审核中',
  open: '征集中',
  taken_up: '已列为议题',
  declined: '暂不采纳',
  rejected: '未通过审核',
}

const HELD_NOTICE = '已提交，审核通过后公开' // app/suggestions/safety.py HELD_MESSAGE

function categoryLabel(category) {
  return CATEGORY_LABELS[category] || ''
}

function pad2(n) {
  return n < 10 ? `0${n}` : String(n)
}

/** An ISO time from the server as China time, "2026年11月27日 10:01" ('' when unreadable).
 *  Fractions beyond milliseconds are cut (not every phone's Date.parse takes microseconds);
 *  a time without a zone is UTC, as the server stores it. */
function formatTime(iso) {
  if (!iso) return ''
  let text = String(iso).replace(/(\.\d{3})\d+/, '$1')
  if (!/(Z|[+-]\d{2}:?\d{2})$/i.test(text)) text += 'Z'
  const ms = Date.parse(text)
  if (Number.isNaN(ms)) return ''
  const d = new Date(ms + 8 * 3600 * 1000)
  return `${d.getUTCFullYear()}年${d.getUTCMonth() + 1}月${d.getUTCDate()}日 ${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}`
}

/** Photo URLs come as server paths (/api/uploads/<key>): make them absolute for <image>. */
function absoluteUrl(url) {
  if (!url) return ''
  if (/^https?:\/\//.test(url)) return url
  return config.apiBaseUrl() + url
}

function count(value) {
  const n = Number(value)
  return Number.isFinite(n) && n > 0 ? Math.floor(n) : 0
}

/** One item of GET /api/suggestions (app/suggestions/listing.py SuggestionListItem). */
function suggestionListItem(item) {
  const voteCount = count(item.vote_count)
  const commentCount = count(item.comment_count)
  return {
    id: item.id,
    title: item.title,
    categoryLabel: item.category_label || categoryLabel(item.category),
    stateLabel: item.state_label || SUGGESTION_STATE_LABELS[item.state] || '',
    proposer: item.proposer || '',
    voteCount,
    voteText: `${voteCount} 人支持`,
    commentText: commentCount ? `${commentCount} 条评论` : '',
    votedByMe: item.voted_by_me === true,
    coverUrl: absoluteUrl(item.cover_url),
    timeText: formatTime(item.created_at),
    // The public stage (征集中 … 已办结); a taken-up suggestion shows it on its card.
    stage: item.stage || '',
    stageLabel: item.stage && item.stage !== 'open' ? item.stage_label || '' : '',
    topicId: item.topic_id || null,
  }
}

/** One item of GET /api/platforms/<id>/suggestions/similar (SimilarItem). */
function similarItem(item) {
  const voteCount = count(item.vote_count)
  return {
    id: item.id,
    title: item.title,
    categoryLabel: item.category_label || categoryLabel(item.category),
    voteText: `${voteCount} 人支持`,
  }
}

/** GET /api/suggestions/<id> (app/suggestions/schemas.py SuggestionOut), for the detail page. */
function suggestionDetail(body) {
  const state = body.state || ''
  const voteCount = count(body.vote_count)
  const platform = body.platform || {}
  const hasPlace = typeof body.latitude === 'number' && typeof body.longitude === 'number'
  return {
    id: body.id,
    title: body.title || '',
    description: body.description || '',
    categoryLabel: body.category_label || categoryLabel(body.category),
    sourceLabel: body.source_label || '',
    state,
    stateLabel: body.state_label || SUGGESTION_STATE_LABELS[state] || '',
    isOpen: state === 'open',
    isPublic: state === 'open' || state === 'taken_up' || state === 'declined',
    platformId: platform.id || null,
    platformName: platform.name || '',
    proposer: body.proposer || '',
    assignedBy: body.assigned_by || '',
    campaignTitle: body.campaign && body.campaign.title ? body.campaign.title : '',
    address: body.address || '',
    latitude: hasPlace ? body.latitude : null,
    longitude: hasPlace ? body.longitude : null,
    voteCount,
    voteText: `${voteCount} 人支持`,
    commentCount: count(body.comment_count),
    photos: (body.attachments || []).map(a => ({ id: a.id, url: absoluteUrl(a.url) })),
    timeText: formatTime(body.created_at),
    declineReason: state === 'declined' ? body.decline_reason || '' : '',
    isMine: body.is_mine === true,
    votedByMe: body.voted_by_me === true,
    followedByMe: body.followed_by_me === true,
    notice: body.notice || (state === 'held' && body.is_mine ? HELD_NOTICE : ''),
    // Taken up: the public stage and, once the topic is approved, its results page.
    stageLabel: state === 'taken_up' ? body.stage_label || '' : '',
    resultsTopicId: state === 'taken_up' && body.results_topic_id ? body.results_topic_id : null,
  }
}

/** One comment or reply (app/suggestions/comment_routes.py CommentOut). */
function commentView(c) {
  const held = c.state === 'held'
  return {
    id: c.id,
    parentId: c.parent_id || null,
    body: c.body || '',
    author: c.author || '',
    badge: c.author_badge || '',
    isMine: c.is_mine === true,
    held,
    stateLabel: held ? c.state_label || '审核中' : '',
    notice: held ? c.notice || HELD_NOTICE : '',
    timeText: formatTime(c.created_at),
    // A resident reports others' public comments (the server refuses one's own: 422).
    canReport: c.is_mine !== true && c.state === 'visible',
    reported: false,
  }
}

/** A top-level comment with its replies (ThreadOut). */
function threadView(t) {
  const replies = (t.replies || []).map(commentView)
  return {
    ...commentView(t),
    replies,
    replyCount: count(t.reply_count),
    hasMoreReplies: t.has_more_replies === true,
    repliesCursor: null,
  }
}

/** A date of the API, "2026-12-05" → "2026年12月5日" ('' when missing or unreadable). */
function dateText(value) {
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(value || '')
  return m ? `${m[1]}年${Number(m[2])}月${Number(m[3])}日` : ''
}

/** One entry of the public trail (TimelineOut.items). */
function timelineItem(entry, index) {
  return { key: `${index}`, timeText: formatTime(entry.at), text: entry.text || '' }
}

module.exports = {
  pad2,
  count,
  CATEGORY_LABELS,
  CATEGORY_OPTIONS,
  SUGGESTION_STATE_LABELS,
  HELD_NOTICE,
  categoryLabel,
  formatTime,
  dateText,
  absoluteUrl,
  suggestionListItem,
  similarItem,
  suggestionDetail,
  commentView,
  threadView,
  timelineItem,
  KIND_LABELS,
  ROLE_LABELS,
  SIX_MUSTS,
  kindLabel,
  roleLabel,
  formatDistance,
  platformListItem,
  sixMustsSummary,
  platformDetail,
  meView,
}
