// "我的 → 绑定公众号": bound or not (GET /api/me/chat-binding), a one-time code shown big with
// the instruction to send it to the Official Account (POST /api/me/chat-binding-code), and
// unbinding after a confirmation (DELETE /api/me/chat-binding).
const path = require('path')
const simulate = require('miniprogram-simulate')
const { installWx, fakeServer, errorBody, renderPage, textOf, waitFor } = require('../helpers/wx')

const ME = {
  id: 7, name: '王**', phone_masked: '138****5678', home_region: null, roles: [], platforms: [],
  session: { kind: 'mp', expires_at: '2099-01-01T00:00:00Z' },
}

let pageId
beforeAll(() => {
  pageId = simulate.load(path.join(__dirname, '../../pages/me/me'))
})

// Shaped like app/chat/schemas.py: BindingOut, BindingCodeOut.
function chatServer({ bound = false, binding, codes = ['482913'], unbind } = {}) {
  let state = bound
  let issued = 0
  return fakeServer(req => {
    if (req.path === '/api/auth/wx-login') {
      return { status: 200, body: { token: 'tok-1', expires_at: '2099-01-01T00:00:00Z', is_new: false, person: { id: 7, name: '王**', roles: [] } } }
    }
    if (req.path === '/api/me') return { status: 200, body: ME }
    if (req.path === '/api/me/chat-binding' && req.method === 'GET') {
      return binding ? binding(req) : { status: 200, body: { bound: state, bound_at: state ? '2026-01-05T02:00:00Z' : null } }
    }
    if (req.path === '/api/me/chat-binding-code' && req.method === 'POST') {
      const code = codes[Math.min(issued, codes.length - 1)]
      issued += 1
      return { status: 201, body: { code, expires_at: '2099-01-01T00:10:00Z', instruction: `在公众号里发送：绑定 ${code}（10分钟内有效）` } }
    }
    if (req.path === '/api/me/chat-binding' && req.method === 'DELETE') {
      if (unbind) return unbind(req)
      state = false
      return { status: 200, body: { bound: false, bound_at: null } }
    }
    return undefined
  })
}

async function loaded(server) {
  const page = renderPage(simulate, pageId)
  await page.instance.onLoad({})
  return page
}

const block = page => page.querySelector('.chat-binding')

test('not bound: says so, and a tap shows the code big with what to send', async () => {
  installWx()
  const server = chatServer({ codes: ['482913', '105577'] })
  const page = await loaded(server)

  expect(textOf(block(page))).toBe('绑定公众号 未绑定 绑定后，可以在公众号里直接答复会议邀请、查看会前通报、提出建议。 获取绑定码')
  expect(page.querySelector('.chat-code')).toBeFalsy()

  page.querySelector('.chat-get-code').dispatchEvent('tap')
  await waitFor(() => page.querySelector('.chat-code'))

  const [post] = server.to('/api/me/chat-binding-code')
  expect(post.method).toBe('POST')
  expect(post.header.Authorization).toBe('Bearer tok-1')
  expect(textOf(page.querySelector('.chat-code'))).toBe('482913')
  expect(textOf(page.querySelector('.chat-instruction'))).toBe('在公众号里发送：绑定 482913（10分钟内有效）')
  expect(textOf(page.querySelector('.chat-get-code'))).toBe('重新获取绑定码')

  // A new code replaces the old one on the screen (the server replaced it too).
  await page.instance.onGetChatCode()
  expect(server.to('/api/me/chat-binding-code')).toHaveLength(2)
  expect(textOf(page.querySelector('.chat-code'))).toBe('105577')
})

test('bound: says so and offers to unbind after a confirmation', async () => {
  const env = installWx({ modal: { confirm: true } })
  const server = chatServer({ bound: true })
  const page = await loaded(server)

  expect(textOf(block(page))).toContain('已绑定')
  expect(page.querySelector('.chat-get-code')).toBeFalsy()

  page.querySelector('.chat-unbind').dispatchEvent('tap')
  await waitFor(() => server.to('/api/me/chat-binding').some(c => c.method === 'DELETE'))
  await waitFor(() => !page.instance.data.chat.bound)

  expect(env.showModal).toHaveBeenCalledTimes(1)
  expect(env.showModal.mock.calls[0][0].title).toBe('解除绑定')
  expect(textOf(block(page))).toContain('未绑定')
  expect(textOf(block(page))).toContain('获取绑定码')
  expect(env.toastTitles()).toEqual(['已解除绑定'])
})

test('cancelling the confirmation unbinds nothing', async () => {
  installWx({ modal: { confirm: false } })
  const server = chatServer({ bound: true })
  const page = await loaded(server)

  await page.instance.onUnbindChat()

  expect(server.calls.filter(c => c.method === 'DELETE')).toHaveLength(0)
  expect(textOf(block(page))).toContain('已绑定')
})

test("a refused code request shows the server's message and no code", async () => {
  const env = installWx()
  const server = fakeServer(req => {
    if (req.path === '/api/auth/wx-login') return { status: 200, body: { token: 'tok-1', expires_at: '2099-01-01T00:00:00Z', is_new: false, person: { id: 7, name: '王**', roles: [] } } }
    if (req.path === '/api/me') return { status: 200, body: ME }
    if (req.path === '/api/me/chat-binding') return { status: 200, body: { bound: false, bound_at: null } }
    if (req.path === '/api/me/chat-binding-code') return { status: 429, body: errorBody('rate_limited', '操作太频繁，请 60 秒后再试') }
    return undefined
  })
  const page = await loaded(server)

  await page.instance.onGetChatCode()

  expect(env.toastTitles()).toEqual(['操作太频繁，请 60 秒后再试'])
  expect(page.querySelector('.chat-code')).toBeFalsy()
  expect(page.instance.data.chat.busy).toBe(false)
})

test('when the binding state cannot be read the block is not shown, the page still works', async () => {
  const env = installWx()
  const server = chatServer({ binding: () => ({ status: 500, body: errorBody('internal_error', '服务器内部错误，请稍后再试') }) })
  const page = await loaded(server)

  expect(textOf(page)).toContain('已登录')
  expect(block(page)).toBeFalsy()
  expect(env.toastTitles()).toEqual([]) // not worth a toast
})
