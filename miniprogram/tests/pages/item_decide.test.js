const path = require('path')
const simulate = require('miniprogram-simulate')
const { installWx, fakeServer, errorBody, renderPage, textOf, byClass, waitFor } = require('../helpers/wx')

const LOGGED_IN = { 'auth.token': 'tok-1', 'auth.expires_at': '2099-01-01T00:00:00Z' }
const QUEUE = '/api/opinion-items/queue'
const DEPARTMENTS = '/api/departments'
const ROUTING_ITEMS = '/api/routings/7/items'

// app/followup/decision_schemas.py ItemOut / QueueItemOut / TaskBrief / ExtensionOut
function itemOut(id, seq, text, extra = {}) {
  return {
    id, seq, text, raised_by_label: '群众代表', scope: 'county', scope_label: '需县（区）解决',
    current_scope: 'county', current_scope_label: '需县（区）解决', state: 'awaiting', state_label: '待研究',
    outcome: null, outcome_label: null, decisions: [], task: null, can_decide: true, can_assign: false,
    consultation_id: 5, topic_title: '公交进村', platform_name: '前进村协商议事室', routing_id: 7, ...extra,
  }
}
const AWAITING = itemOut(11, 1, '增开通往县城的公交线路')
const ADOPTED = itemOut(12, 2, '公交站台加装雨棚', {
  state: 'assigning', state_label: '待交办', outcome: 'adopted', outcome_label: '采纳', can_decide: false, can_assign: true,
  decisions: [{ scope: 'county', scope_label: '需县（区）解决', body_id: 4, body_name: '东县县政府', outcome: 'adopted', outcome_label: '采纳', explanation: null, decided_at: '2026-09-28T02:00:00Z' }],
})
const ASSIGNED = {
  ...ADOPTED, state: 'handling', state_label: '办理中', can_assign: false,
  task: {
    id: 3, lead_body_id: 9, lead_body_name: '东县住房和城乡建设局', co_bodies: [{ id: 10, name: '东县交通运输局' }],
    assigned_on: '2026-09-28', workdays: 5, due_on: '2026-10-10', due_estimated: false, estimate_notice: null,
    state: 'assigned', state_label: '已交办',
  },
}
const EXTENSION = {
  id: 21, task_id: 3, item_id: 12, seq: 2, item_text: '公交站台加装雨棚', topic_title: '公交进村',
  lead_body_id: 9, lead_body_name: '东县住房和城乡建设局', due_on: '2026-10-10', requested_due_on: '2026-10-30',
  reason: '雨棚需招标', requested_at: '2026-10-08T02:00:00Z', state: 'pending', state_label: '待答复', note: null, decided_at: null,
}
const DEPTS = { items: [
  { id: 9, name: '东县住房和城乡建设局', region_name: '东县' },
  { id: 10, name: '东县交通运输局', region_name: '东县' },
] }
const ok = body => ({ status: 200, body })

let pageId
beforeAll(() => {
  pageId = simulate.load(path.join(__dirname, '../../pages/item-decide/item-decide'))
})

function server(state, handlers = {}) {
  return fakeServer(req => {
    if (req.method === 'GET' && req.path === QUEUE) return state.queue
    if (req.method === 'GET' && req.path === ROUTING_ITEMS) return state.routing
    if (req.method === 'GET' && req.path === DEPARTMENTS) return ok(DEPTS)
    if (req.method === 'POST' && /^\/api\/opinion-items\/\d+\/decision$/.test(req.path)) return handlers.decision(req)
    if (req.method === 'POST' && /^\/api\/opinion-items\/\d+\/assignment$/.test(req.path)) return handlers.assignment(req)
    if (req.method === 'POST' && /^\/api\/extension-requests\/\d+\/decision$/.test(req.path)) return handlers.extension(req)
    return undefined
  })
}
const queue = (awaiting = [AWAITING], toAssign = [ADOPTED], extensions = [EXTENSION]) => ok({ awaiting, to_assign: toAssign, extensions })

const tap = node => node.dispatchEvent('tap')
const nth = (page, cls, n) => page.querySelectorAll(`.${cls}`)[n]
const posts = s => s.calls.filter(c => c.method === 'POST')
async function fire(node, event, value) {
  node.dispatchEvent(event, { detail: { value } })
  await simulate.sleep(0)
}

test('the queue shows items to decide, items to assign and extension requests', async () => {
  installWx({ storage: LOGGED_IN })
  const s = server({ queue: queue() })
  const page = renderPage(simulate, pageId)
  await page.instance.onLoad({})
  const cards = byClass(page, 'item').map(textOf)
  expect(cards[0]).toContain('公交进村 1. 增开通往县城的公交线路 群众代表提出 · 需县（区）解决 · 待研究')
  expect(cards[0]).toContain('采纳 部分采纳 不予采纳 向上级政协反映')
  expect(cards[1]).toContain('东县县政府：采纳')
  expect(cards[1]).toContain('牵头承办部门')
  expect(textOf(page.querySelector('.extension'))).toContain('东县住房和城乡建设局申请把办理期限从2026年10月10日延至2026年10月30日 理由：雨棚需招标')
  expect(s.calls.map(c => c.path)).toEqual([QUEUE, DEPARTMENTS]) // departments only when something can be assigned
})

test('?routing=<id> reads that received list; a bad id reads nothing', async () => {
  installWx({ storage: LOGGED_IN })
  const s = server({ routing: ok({ routing: {}, consultation_id: 5, title: '关于“公交进村”的协商意见清单', platform_name: 'x', items: [AWAITING] }) })
  const page = renderPage(simulate, pageId)
  await page.instance.onLoad({ routing: '7' })
  expect(textOf(page)).toContain('关于“公交进村”的协商意见清单')
  expect(s.calls.map(c => c.path)).toEqual([ROUTING_ITEMS])
  const bad = renderPage(simulate, pageId)
  await bad.instance.onLoad({ routing: 'abc' })
  expect(textOf(bad)).toBe('链接无效，请从待办中重新打开')
  expect(s.calls.length).toBe(1)
})

test('不予采纳 needs the explanation before anything is sent (D23), then posts it', async () => {
  const env = installWx({ storage: LOGGED_IN })
  const state = { queue: queue([AWAITING], [], []) }
  const s = server(state, { decision: () => ok({ ...AWAITING, state: 'not_adopted' }) })
  const page = renderPage(simulate, pageId)
  await page.instance.onLoad({})
  tap(page.querySelector('.decide-btn'))
  await simulate.sleep(0)
  expect(textOf(page.querySelector('.item-error'))).toBe('请选择研究结果')
  tap(nth(page, 'outcome-btn', 2)) // 不予采纳
  await simulate.sleep(0)
  tap(page.querySelector('.decide-btn'))
  await simulate.sleep(0)
  expect(textOf(page.querySelector('.item-error'))).toBe('请写明给群众的解释说明')
  expect(posts(s)).toEqual([])
  await fire(page.querySelector('.explanation-input'), 'input', '  县财政今年无此预算  ')
  state.queue = queue([], [], [])
  tap(page.querySelector('.decide-btn'))
  await waitFor(() => posts(s).length === 1 && env.toastTitles().length)
  expect(posts(s)[0].path).toBe('/api/opinion-items/11/decision')
  expect(posts(s)[0].data).toEqual({ outcome: 'not_adopted', explanation: '县财政今年无此预算' })
  expect(env.toastTitles()).toEqual(['已作出决定'])
  await waitFor(() => textOf(page).includes('暂无待研究的意见'))
})

test('采纳 and 向上级政协反映 go without an explanation; cancelling the modal sends nothing', async () => {
  installWx({ storage: LOGGED_IN, modal: { confirm: false } })
  const s = server({ queue: queue([AWAITING], [], []) }, { decision: () => ok(AWAITING) })
  const page = renderPage(simulate, pageId)
  await page.instance.onLoad({})
  tap(nth(page, 'outcome-btn', 3))
  await simulate.sleep(0)
  tap(page.querySelector('.decide-btn'))
  await simulate.sleep(5)
  expect(posts(s)).toEqual([])
})

test('a decision taken meanwhile (409 item_decided) shows the message and reloads', async () => {
  installWx({ storage: LOGGED_IN })
  const s = server({ queue: queue([AWAITING], [], []) }, {
    decision: () => ({ status: 409, body: errorBody('item_decided', '该意见已有研究结果，不能再作不同的决定') }),
  })
  const page = renderPage(simulate, pageId)
  await page.instance.onLoad({})
  tap(nth(page, 'outcome-btn', 0))
  await simulate.sleep(0)
  tap(page.querySelector('.decide-btn'))
  await waitFor(() => s.calls.filter(c => c.path === QUEUE).length === 2)
  await waitFor(() => page.querySelector('.notice'))
  expect(textOf(page.querySelector('.notice'))).toBe('该意见已有研究结果，不能再作不同的决定')
  expect(posts(s)[0].data).toEqual({ outcome: 'adopted' })
})

test('assigning: lead department, co-handler, working days; the due date comes from the server', async () => {
  const env = installWx({ storage: LOGGED_IN })
  const state = { queue: queue([], [ADOPTED], []) }
  const s = server(state, { assignment: () => ok(ASSIGNED) })
  const page = renderPage(simulate, pageId)
  await page.instance.onLoad({})
  tap(page.querySelector('.assign-btn'))
  await simulate.sleep(0)
  expect(textOf(page.querySelector('.item-error'))).toBe('请选择牵头承办部门')
  await fire(page.querySelector('.lead-picker'), 'change', '0')
  expect(textOf(page.querySelector('.lead-picker'))).toBe('东县住房和城乡建设局（东县） ▾')
  // The lead department is not offered as a co-handler.
  expect(byClass(page, 'co-option').map(textOf)).toEqual(['东县交通运输局（东县）'])
  await fire(page.querySelector('.co-group'), 'change', ['10'])
  for (const bad of ['0', '61', '2.5', '']) {
    await fire(page.querySelector('.workdays-input'), 'input', bad)
    tap(page.querySelector('.assign-btn'))
    await simulate.sleep(0)
    expect(textOf(page.querySelector('.item-error'))).toBe('办理时限应为 1–60 个工作日')
  }
  expect(posts(s)).toEqual([])
  await fire(page.querySelector('.workdays-input'), 'input', '5')
  state.queue = queue([], [ASSIGNED], [])
  tap(page.querySelector('.assign-btn'))
  await waitFor(() => env.toastTitles().length)
  expect(posts(s)[0].path).toBe('/api/opinion-items/12/assignment')
  expect(posts(s)[0].data).toEqual({ lead_body_id: 9, co_body_ids: [10], workdays: 5 })
  expect(env.toastTitles()).toEqual(['已交办，办理期限2026年10月10日'])
  await waitFor(() => page.querySelector('.task'))
  expect(textOf(page.querySelector('.task'))).toBe('牵头部门：东县住房和城乡建设局 ；协办：东县交通运输局 办理期限：2026年10月10日（5 个工作日）')
})

test('a server refusal of the assignment stays on the card', async () => {
  installWx({ storage: LOGGED_IN })
  const s = server({ queue: queue([], [ADOPTED], []) }, {
    assignment: () => ({ status: 422, body: errorBody('department_not_allowed', '请从本机构所在地区及下级的职能部门中选择') }),
  })
  const page = renderPage(simulate, pageId)
  await page.instance.onLoad({})
  await fire(page.querySelector('.lead-picker'), 'change', '1')
  await fire(page.querySelector('.workdays-input'), 'input', '10')
  tap(page.querySelector('.assign-btn'))
  await waitFor(() => page.querySelector('.item-error'))
  expect(textOf(page.querySelector('.item-error'))).toBe('请从本机构所在地区及下级的职能部门中选择')
  expect(s.calls.filter(c => c.path === QUEUE).length).toBe(1)
})

test('extensions: approve, or refuse with a required reason', async () => {
  const env = installWx({ storage: LOGGED_IN })
  const state = { queue: queue([], [], [EXTENSION]) }
  const s = server(state, { extension: req => ok({ ...EXTENSION, state: req.data.approve ? 'approved' : 'refused' }) })
  const page = renderPage(simulate, pageId)
  await page.instance.onLoad({})
  tap(page.querySelector('.refuse-ext-btn'))
  await simulate.sleep(0)
  tap(page.querySelector('.confirm-refuse-btn'))
  await simulate.sleep(0)
  expect(textOf(page.querySelector('.ext-error'))).toBe('请说明不同意延期的理由')
  await fire(page.querySelector('.refuse-note'), 'input', '请按原期限完成')
  tap(page.querySelector('.confirm-refuse-btn'))
  await waitFor(() => posts(s).length === 1)
  expect(posts(s)[0]).toMatchObject({ path: '/api/extension-requests/21/decision', data: { approve: false, note: '请按原期限完成' } })
  await waitFor(() => env.toastTitles().length === 1 && page.querySelector('.approve-ext-btn'))
  expect(env.toastTitles()).toEqual(['已答复'])
  tap(page.querySelector('.approve-ext-btn'))
  await waitFor(() => posts(s).length === 2)
  expect(posts(s)[1].data).toEqual({ approve: true })
})
