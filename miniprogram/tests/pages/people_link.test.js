// pages/people-link: CPPCC staff find a person (GET /api/people?q=…) and issue a link code
// (POST /api/people/<id>/link-code, docs/auth.md 1之二).
const path = require('path')
const simulate = require('miniprogram-simulate')
const { installWx, fakeServer, errorBody, renderPage, textOf, waitFor } = require('../helpers/wx')
const { linkCodeBody, expectLinkCodeShown } = require('../helpers/link_code')

const LOGGED_IN = { 'auth.token': 'tok-1', 'auth.expires_at': '2099-01-01T00:00:00Z' }
// Expires 15:05 UTC = 23:05 the same day in Beijing (microseconds, as Python writes them).
const LINK = linkCodeBody('1029384756', '2026-12-02T15:05:00.123456+00:00', '12月2日 23:05')
// app/auth/schemas.py PeoplePage
const PEOPLE = {
  items: [
    { id: 12, name: '周审核', phone_masked: '139****0001', is_active: true, home_region: { id: 2, name: '海州区' }, roles: ['reviewer'] },
    { id: 13, name: '周大妈', phone_masked: null, is_active: true, home_region: { id: 5, name: '新浦街道' }, roles: [] },
  ],
  total: 2,
  page: 1,
  per_page: 20,
}

let pageId
beforeAll(() => {
  pageId = simulate.load(path.join(__dirname, '../../pages/people-link/people-link'))
})

function server(link = () => ({ status: 201, body: LINK })) {
  return fakeServer(req => {
    if (req.method === 'GET' && req.path === '/api/people') return { status: 200, body: PEOPLE }
    const m = req.method === 'POST' && req.path.match(/^\/api\/people\/(\d+)\/link-code$/)
    if (m) return link(req, Number(m[1]))
    return undefined
  })
}

async function search(page, q) {
  page.querySelector('.query-input').dispatchEvent('input', { detail: { value: q } })
  await simulate.sleep(0)
  page.querySelector('.search-btn').dispatchEvent('tap')
  await waitFor(() => page.querySelector('.people'))
}

test('search by name, pick a person, 生成绑定码: POST /api/people/<id>/link-code, then code, QR, Beijing expiry and instruction', async () => {
  installWx({ storage: LOGGED_IN })
  const api = server()
  const page = renderPage(simulate, pageId)

  await search(page, ' 周 ')
  expect(api.to('/api/people').map(c => c.query)).toEqual([{ q: '周', per_page: '20' }])
  expect(textOf(page.querySelector('.person-12'))).toBe('周审核 139****0001 海州区 审核人 生成绑定码')
  expect(textOf(page.querySelector('.person-13'))).toBe('周大妈 新浦街道 生成绑定码')

  page.querySelector('.issue-12').dispatchEvent('tap')
  await waitFor(() => page.querySelector('.link-code'))
  const posts = api.to('/api/people/12/link-code')
  expect(posts.map(c => c.method)).toEqual(['POST'])
  expect(posts[0].header.Authorization).toBe('Bearer tok-1')
  expect(api.to('/api/people/13/link-code')).toEqual([])

  expect(textOf(page.querySelector('.link-code .section-title'))).toBe('周审核 的绑定码')
  expectLinkCodeShown(page, '', LINK, { spaced: '102 938 4756', expiry: '2026年12月2日 23:05' })
})

test("a refused code shows the server's Chinese message at that person, and no code", async () => {
  installWx({ storage: LOGGED_IN })
  server(() => ({ status: 403, body: errorBody('link_out_of_reach', '该人员担任的职务超出您的管辖范围，请由上级政协工作人员生成') }))
  const page = renderPage(simulate, pageId)
  await search(page, '周')

  page.querySelector('.issue-12').dispatchEvent('tap')
  await waitFor(() => page.querySelector('.issue-error'))
  expect(textOf(page.querySelector('.person-12 .issue-error'))).toBe('该人员担任的职务超出您的管辖范围，请由上级政协工作人员生成')
  expect(page.querySelector('.person-13 .issue-error')).toBeFalsy()
  expect(page.querySelector('.link-code')).toBeFalsy()
})

test('an empty query asks for a name or phone and sends nothing; a refused search shows the message', async () => {
  installWx({ storage: LOGGED_IN })
  const api = fakeServer(() => ({ status: 403, body: errorBody('forbidden', '您没有权限进行此操作') }))
  const page = renderPage(simulate, pageId)

  page.querySelector('.search-btn').dispatchEvent('tap')
  await simulate.sleep(0)
  expect(textOf(page.querySelector('.search-error'))).toBe('请输入姓名或完整手机号')
  expect(api.calls).toEqual([])

  page.querySelector('.query-input').dispatchEvent('input', { detail: { value: '13900000001' } })
  await simulate.sleep(0)
  page.querySelector('.search-btn').dispatchEvent('tap')
  await waitFor(() => api.calls.length === 1 && !page.instance.data.searching)
  expect(textOf(page.querySelector('.search-error'))).toBe('您没有权限进行此操作')
  expect(page.querySelector('.people')).toBeFalsy()
})
