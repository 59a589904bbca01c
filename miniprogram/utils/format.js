/**
 * Chinese labels and the shaping of API data for display (kept out of the pages so it can be
 * tested without rendering). Labels follow app/org/models.py.
 */

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

module.exports = {
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
