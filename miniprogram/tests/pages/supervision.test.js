const path = require('path')
const simulate = require('miniprogram-simulate')
const { installWx, fakeServer, fakeUploads, errorBody, renderPage, textOf, byClass, waitFor } = require('../helpers/wx')

const LOGGED_IN = { 'auth.token': 'tok-1', 'auth.expires_at': '2099-01-01T00:00:00Z' }
const ok = body => ({ status: 200, body })
const tap = node => node.dispatchEvent('tap')
async function type(node, value) {
  node.dispatchEvent('input', { detail: { value } })
  await simulate.sleep(0)
}

// app/followup/schemas.py SupervisedItem
function item(notes = []) {
  return {
    item_id: 9, item_text: '村口道路坑洼，建议年内修缮', topic_title: '村道修缮', platform_name: '前进村协商议事室',
    state: 'handling', state_label: '办理中', is_key: true, key_reason: '群众反映强烈', task_id: 5,
    task_state_label: '办理中', department: '东县住房和城乡建设局', percent: 40, due_on: '2026-10-12',
    overdue: true, workdays_overdue: 3, supervisors: ['钱委员'], notes,
  }
}

let pageId
beforeAll(() => {
  pageId = simulate.load(path.join(__dirname, '../../pages/supervision/supervision'))
})

test('nothing tracked: 暂无跟踪督办的事项', async () => {
  installWx({ storage: LOGGED_IN })
  const server = fakeServer(req => (req.path === '/api/me/supervision' ? ok({ items: [] }) : undefined))
  const page = renderPage(simulate, pageId)
  await page.instance.onLoad({})
  expect(textOf(page)).toBe('暂无跟踪督办的事项')
  expect(server.calls[0].header.Authorization).toBe('Bearer tok-1')
})

test('a tracked item with department, due date and working days overdue; a note with a photo', async () => {
  const env = installWx({ storage: LOGGED_IN, media: ['wxfile://tmp/site.jpg'] })
  const server = fakeServer(req => {
    if (req.method === 'GET' && req.path === '/api/me/supervision') return ok({ items: [item()] })
    if (req.method === 'POST' && req.path === '/api/opinion-items/9/supervision-notes') {
      return ok(item([{ id: 1, text: req.data.text, author_name: '钱委员', at: '2026-10-20T02:00:00Z', photos: ['/api/uploads/k1'] }]))
    }
    return undefined
  })
  fakeUploads(() => ok({ id: 1, key: 'k1', url: '/api/uploads/k1', content_type: 'image/jpeg', size_bytes: 1, width: 1, height: 1 }))
  const page = renderPage(simulate, pageId)
  await page.instance.onLoad({})
  expect(textOf(byClass(page, 'supervised')[0])).toBe(
    '村口道路坑洼，建议年内修缮 村道修缮 · 前进村协商议事室 办理中 · 承办：东县住房和城乡建设局 · 进度 40% 办理期限：2026年10月12日 已逾期 3 个工作日 督办理由：群众反映强烈 记录督办意见')
  tap(page.querySelector('.write-btn'))
  await simulate.sleep(0)
  tap(page.querySelector('.submit-btn'))
  await simulate.sleep(0)
  expect(textOf(byClass(page, 'item-error')[0])).toBe('请填写督办意见')
  tap(page.querySelector('.photo-btn'))
  await waitFor(() => page.instance.data.items[0].photos.length === 1)
  await type(page.querySelector('.note-input'), '实地察看：支路仍有坑洼')
  tap(page.querySelector('.submit-btn'))
  await waitFor(() => byClass(page, 'note').length === 1)
  const post = server.calls.find(c => c.method === 'POST')
  expect(post.data).toEqual({ text: '实地察看：支路仍有坑洼', upload_keys: ['k1'] })
  expect(textOf(byClass(page, 'note')[0])).toBe('钱委员：实地察看：支路仍有坑洼')
  expect(env.toastTitles()).toEqual(['已记录'])
})

test('a refused note shows the server message', async () => {
  installWx({ storage: LOGGED_IN })
  fakeServer(req => (req.method === 'GET' ? ok({ items: [item()] })
    : { status: 404, body: errorBody('item_not_found', '该意见事项不存在') }))
  const page = renderPage(simulate, pageId)
  await page.instance.onLoad({})
  tap(page.querySelector('.write-btn'))
  await simulate.sleep(0)
  await type(page.querySelector('.note-input'), '看看')
  tap(page.querySelector('.submit-btn'))
  await waitFor(() => byClass(page, 'item-error').map(textOf).join('') === '该意见事项不存在')
})
