const path = require('path')
const simulate = require('miniprogram-simulate')
const { installWx, fakeServer, fakeUploads, errorBody, renderPage, textOf, byClass, waitFor } = require('../helpers/wx')

const LOGGED_IN = { 'auth.token': 'tok-1', 'auth.expires_at': '2099-01-01T00:00:00Z' }
const ok = body => ({ status: 200, body })
const tap = node => node.dispatchEvent('tap')
const posts = server => server.calls.filter(c => c.method === 'POST')
async function type(node, value) {
  node.dispatchEvent('input', { detail: { value } })
  await simulate.sleep(0)
}

// app/followup/schemas.py TaskOut / TaskDetail
function taskOut(over = {}) {
  return {
    id: 5, item_id: 9, item_text: '村口道路坑洼，建议年内修缮', topic_title: '村道修缮', platform_name: '前进村协商议事室',
    role: 'lead', lead_body: { id: 3, name: '东县住房和城乡建设局' }, co_bodies: [{ id: 4, name: '东县交通运输局' }],
    state: 'assigned', state_label: '已交办', assigned_on: '2026-09-28', workdays: 5, due_on: '2026-10-12',
    original_due_on: '2026-10-12', due_estimated: false, overdue: false, workdays_overdue: 0, percent: 0,
    plan_text: null, result_text: null, completed_on: null, is_key: false, pending_extension: null, ...over,
  }
}
function detail(over = {}, events = []) {
  return { ...taskOut(over), events: [
    { id: 1, kind: 'assigned', kind_label: '交办', body_name: '新坝镇党委', actor_name: '审核人', percent: null, text: null, due_on: '2026-10-12', at: '2026-09-28T02:00:00Z', attachments: [] },
    ...events,
  ] }
}

let listId
beforeAll(() => {
  listId = simulate.load(path.join(__dirname, '../../pages/tasks/tasks'))
})

test('the list: 待签收 first, each tab asks with its own filter, overdue in working days', async () => {
  installWx({ storage: LOGGED_IN })
  const server = fakeServer(req => {
    if (req.path !== '/api/handling/tasks') return undefined
    if (req.query.overdue === 'true') return ok({ items: [taskOut({ id: 6, state: 'planned', state_label: '办理中', percent: 40, overdue: true, workdays_overdue: 3, role: 'co', is_key: true })] })
    return ok({ items: [taskOut()] })
  })
  const page = renderPage(simulate, listId)
  await page.instance.onLoad({})
  expect(byClass(page, 'task').map(textOf)).toEqual([
    '村口道路坑洼，建议年内修缮 村道修缮 牵头承办 · 已交办 办理期限：2026年10月12日'])
  expect(server.calls[0].query).toEqual({ state: 'assigned' })
  expect(byClass(page, 'tab').map(textOf)).toEqual(['待签收', '办理中', '已办结', '已逾期'])

  tap(page.querySelectorAll('.tab')[3])
  await waitFor(() => byClass(page, 'overdue').length === 1)
  expect(textOf(byClass(page, 'task')[0])).toBe(
    '村口道路坑洼，建议年内修缮 村道修缮 协办 · 办理中 · 进度 40% 办理期限：2026年10月12日 已逾期 3 个工作日 重点督办')
  tap(page.querySelectorAll('.tab')[1])
  await simulate.sleep(10)
  expect(server.calls.map(c => c.query)).toEqual([{ state: 'assigned' }, { overdue: 'true' }, { state: 'planned' }])
  expect(server.calls[2].path).toBe('/api/handling/tasks')
})

test('someone who is not a handler is told so (403)', async () => {
  installWx({ storage: LOGGED_IN })
  fakeServer(() => ({ status: 403, body: errorBody('forbidden', '您没有权限进行此操作') }))
  const page = renderPage(simulate, listId)
  await page.instance.onLoad({})
  expect(textOf(page.querySelector('.load-error'))).toBe('您不是承办部门经办人，没有交办事项')
})

