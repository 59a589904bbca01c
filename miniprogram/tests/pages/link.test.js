// "我的 → 使用绑定码" (pages/link): the one-time code CPPCC staff or the convenor issued is typed
// or scanned and sent to POST /api/auth/link; success says who this WeChat now is; a wrong,
// expired or used code, or a WeChat that is already someone else, shows the server's words.
const path = require('path')
const simulate = require('miniprogram-simulate')
const { installWx, fakeServer, errorBody, renderPage, textOf, waitFor } = require('../helpers/wx')

let pageId
beforeAll(() => {
  pageId = simulate.load(path.join(__dirname, '../../pages/link/link'))
})

const LOGIN = { status: 200, body: { token: 'tok-1', expires_at: '2099-01-01T00:00:00Z', is_new: true, person: { id: 40, name: '微信用户', roles: ['resident'] } } }

// Shaped like app/chat/schemas.py LinkOut, and the API's error shape.
function linkServer(answer) {
  return fakeServer(req => {
    if (req.path === '/api/auth/wx-login') return LOGIN
    if (req.path === '/api/auth/link' && req.method === 'POST') return answer(req)
    return undefined
  })
}

const LINKED = { status: 200, body: { person: { id: 12, name: '审核东县县委', roles: ['reviewer'] }, merged: true } }

async function loaded(options = {}) {
  const page = renderPage(simulate, pageId)
  await page.instance.onLoad(options)
  return page
}

test('a typed code (with spaces) is sent as digits and the page says who this WeChat now is', async () => {
  const env = installWx()
  const server = linkServer(() => LINKED)
  const page = await loaded()

  page.querySelector('.code-input').dispatchEvent('input', { detail: { value: '123 456 7890' } })
  page.querySelector('.link-submit').dispatchEvent('tap')
  await waitFor(() => page.querySelector('.linked'))

  const [post] = server.to('/api/auth/link')
  expect(post.method).toBe('POST')
  expect(post.data).toEqual({ code: '1234567890' })
  expect(post.header.Authorization).toBe('Bearer tok-1')
  expect(textOf(page.querySelector('.linked'))).toContain('本微信已关联到“审核东县县委”')
  expect(env.toastTitles()).toEqual(['关联成功'])

  page.querySelector('.link-done').dispatchEvent('tap')
  await simulate.sleep(0)
  expect(env.navigateBack).toHaveBeenCalledTimes(1)
})

test('a malformed code is not sent', async () => {
  installWx()
  const server = linkServer(() => LINKED)
  const page = await loaded()
  page.setData({ code: '12345' })

  await page.instance.onSubmit()

  expect(server.to('/api/auth/link')).toHaveLength(0)
  expect(textOf(page.querySelector('.error'))).toBe('请输入 10 位数字的绑定码')
})

test.each([
  [409, 'binding_code_used', '这个绑定码已经用过了，每个绑定码只能用一次。如需重新绑定，请重新获取绑定码'],
  [422, 'binding_code_expired', '绑定码已过期，请联系政协工作人员或会议召集人重新获取'],
  [409, 'wechat_bound_to_other', '这个微信已经是另一位人员的账号，不能再关联到其他人员。如有疑问请联系政协工作人员'],
  [429, 'binding_attempts', '绑定码输错次数太多，请 15 分钟后再试'],
])('a refused code (%s %s) shows the server\'s message and links nothing', async (status, code, message) => {
  installWx()
  linkServer(() => ({ status, body: errorBody(code, message) }))
  const page = await loaded()
  page.setData({ code: '1234567890' })

  await page.instance.onSubmit()

  expect(textOf(page.querySelector('.error'))).toBe(message)
  expect(page.querySelector('.linked')).toBeFalsy()
  expect(page.instance.data.busy).toBe(false)
})

test('scanning the code\'s QR fills it in and links at once', async () => {
  const env = installWx({ scan: '1234567890' })
  const server = linkServer(() => LINKED)
  const page = await loaded()

  page.querySelector('.link-scan').dispatchEvent('tap')
  await waitFor(() => page.querySelector('.linked'))

  expect(env.scanCode).toHaveBeenCalledTimes(1)
  expect(server.to('/api/auth/link')[0].data).toEqual({ code: '1234567890' })
})

test('a QR that is not a link code is refused on the phone; a cancelled scan says nothing', async () => {
  installWx({ scan: 'yshsl-checkin:7:123:abc' })
  const server = linkServer(() => LINKED)
  const page = await loaded()

  await page.instance.onScan()
  expect(textOf(page.querySelector('.error'))).toBe('这不是绑定码的二维码，请扫描工作人员给您的绑定码')
  expect(server.to('/api/auth/link')).toHaveLength(0)

  const env = installWx({ scan: null })
  await page.instance.onScan()
  expect(env.toastTitles()).toEqual([])
})

test('opened with a code (link or mini-program code scene), the code is filled in', async () => {
  installWx()
  const page = await loaded({ scene: encodeURIComponent('123-456-7890') })
  expect(page.instance.data.code).toBe('1234567890')
})
