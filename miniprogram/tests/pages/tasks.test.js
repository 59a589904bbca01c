const path = require('path')
const simulate = require('miniprogram-simulate')
const { installWx, fakeServer, fakeUploads, errorBody, renderPage, textOf, byClass, waitFor } = require('../helpers/wx')

const { LOGGED_IN, ok, tap, posts, type, taskOut, detail } = require('../helpers/tasks')

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

