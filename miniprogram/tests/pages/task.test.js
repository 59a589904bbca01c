const path = require('path')
const simulate = require('miniprogram-simulate')
const { installWx, fakeServer, fakeUploads, errorBody, renderPage, textOf, byClass, waitFor } = require('../helpers/wx')

const { LOGGED_IN, ok, tap, posts, type, taskOut, detail } = require('../helpers/tasks')

let taskId
beforeAll(() => {
  taskId = simulate.load(path.join(__dirname, '../../pages/task/task'))
})

test('a task: accept, then plan, then progress with a photo and a PDF, then complete', async () => {
  const env = installWx({ storage: LOGGED_IN, media: ['wxfile://tmp/road.jpg'], modal: { confirm: true } })
  wx.chooseMessageFile = jest.fn(opts => setTimeout(() => opts.success({ tempFiles: [{ path: 'wxfile://tmp/plan.pdf', name: '方案.pdf', size: 2000, type: 'file' }] }), 0))
  let state = detail()
  const server = fakeServer(req => {
    if (req.method === 'GET' && req.path === '/api/handling/tasks/5') return ok(state)
    if (req.method === 'POST' && req.path === '/api/handling/tasks/5/accept') { state = detail({ state: 'accepted', state_label: '已签收' }); return ok(state) }
    if (req.method === 'POST' && req.path === '/api/handling/tasks/5/plan') { state = detail({ state: 'planned', state_label: '办理中', plan_text: req.data.text }); return ok(state) }
    if (req.method === 'POST' && req.path === '/api/handling/tasks/5/progress') {
      state = detail({ state: 'planned', state_label: '办理中', percent: req.data.percent }, [
        { id: 2, kind: 'progress', kind_label: '办理进展', body_name: '东县住房和城乡建设局', actor_name: '郑科长', percent: req.data.percent, text: req.data.text, due_on: null, at: '2026-10-01T02:00:00Z',
          attachments: [{ url: '/api/uploads/k-photo', content_type: 'image/png', size_bytes: 10, is_document: false }, { url: '/api/uploads/k-pdf', content_type: 'application/pdf', size_bytes: 10, is_document: true }] }])
      return ok(state)
    }
    if (req.method === 'POST' && req.path === '/api/handling/tasks/5/complete') { state = detail({ state: 'completed', state_label: '已办结', percent: 100, result_text: req.data.result }); return ok(state) }
    return undefined
  })
  const uploads = fakeUploads(req => ok({ id: 1, key: req.path === '/api/document-uploads' ? 'k-pdf' : 'k-photo', url: '/x', content_type: 'x', size_bytes: 1, width: null, height: null }))
  const page = renderPage(simulate, taskId)
  await page.instance.onLoad({ id: '5' })
  expect(textOf(page.querySelector('.summary'))).toBe(
    '村口道路坑洼，建议年内修缮 村道修缮 · 前进村协商议事室 牵头承办：东县住房和城乡建设局 ；协办：东县交通运输局 本部门：牵头承办 · 已交办 · 进度 0% 办理期限：2026年10月12日')
  expect(page.querySelector('.plan-form')).toBeFalsy()

  tap(page.querySelector('.accept-btn'))
  await waitFor(() => page.querySelector('.plan-form'))
  await type(page.querySelector('.plan-text'), '十月底前完成')
  tap(page.querySelector('.plan-btn'))
  await waitFor(() => page.querySelector('.progress-form'))
  expect(page.querySelector('.complete-form')).toBeTruthy()

  tap(page.querySelector('.photo-btn'))
  await waitFor(() => page.instance.data.uploads.length === 1)
  tap(page.querySelector('.pdf-btn'))
  await waitFor(() => page.instance.data.uploads.length === 2)
  expect(uploads.calls.map(c => c.path)).toEqual(['/api/uploads', '/api/document-uploads'])
  expect(wx.chooseMessageFile.mock.calls[0][0]).toMatchObject({ type: 'file', extension: ['pdf'] })
  page.instance.onPercentChange({ detail: { value: 60 } })
  await type(page.querySelector('.progress-text'), '主路段完成')
  tap(page.querySelector('.progress-btn'))
  await waitFor(() => byClass(page, 'event').length === 2)
  expect(posts(server)[2].data).toEqual({ percent: 60, text: '主路段完成', upload_keys: ['k-photo', 'k-pdf'] })
  expect(textOf(byClass(page, 'event')[1])).toBe('办理进展 · 东县住房和城乡建设局 郑科长 · 进度 60% 主路段完成 附件1.pdf')

  await type(page.querySelector('.result-text'), '已修缮并验收')
  tap(page.querySelector('.complete-btn'))
  await waitFor(() => !page.querySelector('.complete-form'))
  expect(posts(server).map(c => c.path.split('/').pop())).toEqual(['accept', 'plan', 'progress', 'complete'])
  expect(posts(server)[3].data).toEqual({ result: '已修缮并验收', upload_keys: [] })
  expect(page.querySelector('.progress-form')).toBeFalsy()
  expect(page.querySelector('.extension-form')).toBeFalsy()
  expect(env.toastTitles()).toEqual(['已签收', '方案已提交', '进展已报送', '已办结'])
})

test('a co-handler only posts progress; a refused step shows the server message', async () => {
  installWx({ storage: LOGGED_IN })
  fakeServer(req => {
    if (req.method === 'GET') return ok(detail({ role: 'co', state: 'planned', state_label: '办理中', percent: 50 }))
    return { status: 409, body: errorBody('task_completed', '该事项已办结，不能再更改') }
  })
  const page = renderPage(simulate, taskId)
  await page.instance.onLoad({ id: '5' })
  expect(page.querySelector('.progress-form')).toBeTruthy()
  for (const cls of ['accept-btn', 'plan-form', 'complete-form', 'extension-form']) {
    expect(page.querySelector(`.${cls}`)).toBeFalsy()
  }
  page.instance.onPercentChange({ detail: { value: 40 } })
  await type(page.querySelector('.progress-text'), '回退')
  tap(page.querySelector('.progress-btn'))
  await simulate.sleep(0)
  expect(textOf(byClass(page, 'form-error')[0])).toBe('进度不能低于上次报送的 50%')
  page.instance.onPercentChange({ detail: { value: 70 } })
  tap(page.querySelector('.progress-btn'))
  await waitFor(() => byClass(page, 'form-error').map(textOf).join('') === '该事项已办结，不能再更改')
})

test('asking for an extension: a date after the due date and a reason', async () => {
  installWx({ storage: LOGGED_IN })
  let state = detail({ state: 'planned', state_label: '办理中', due_on: '2099-10-12' })
  const server = fakeServer(req => {
    if (req.method === 'GET') return ok(state)
    state = detail({ state: 'planned', state_label: '办理中', due_on: '2099-10-12', pending_extension: { id: 1, requested_due_on: req.data.due_on, reason: req.data.reason, requested_at: '2099-10-01T00:00:00Z' } })
    return ok(state)
  })
  const page = renderPage(simulate, taskId)
  await page.instance.onLoad({ id: '5' })
  tap(page.querySelector('.extend-start-btn'))
  await simulate.sleep(0)
  expect(page.instance.data.extensionMin).toBe('2099-10-13')
  tap(page.querySelector('.extend-btn'))
  await simulate.sleep(0)
  expect(textOf(byClass(page, 'form-error')[0])).toBe('请选择延期后的日期')
  page.querySelector('.date-picker').dispatchEvent('change', { detail: { value: '2099-10-30' } })
  await type(page.querySelector('.reason-text'), '雨季施工受阻')
  tap(page.querySelector('.extend-btn'))
  await waitFor(() => page.querySelector('.pending'))
  expect(posts(server)[0]).toMatchObject({ path: '/api/handling/tasks/5/extension', data: { due_on: '2099-10-30', reason: '雨季施工受阻' } })
  expect(textOf(page.querySelector('.pending'))).toBe('已申请延期至2099年10月30日，等待交办单位审批')
  expect(page.querySelector('.extension-form')).toBeFalsy()
})
