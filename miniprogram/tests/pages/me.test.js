const path = require('path')
const simulate = require('miniprogram-simulate')
const session = require('../../utils/session')
const auth = require('../../utils/auth')
const { installWx, fakeServer, errorBody, renderPage, textOf, byClass, waitFor } = require('../helpers/wx')

// Shaped like app/auth/schemas.py MeResponse.
function meBody({ phone = '138****5678', roles = [], platforms = [] } = {}) {
  return {
    id: 7, name: '王**', phone_masked: phone, home_region: { id: 5, name: '新浦街道' },
    roles, platforms, session: { kind: 'mp', expires_at: '2099-01-01T00:00:00Z' },
  }
}
const role = (code, label, scopeName) => ({
  role: code, label, scope_type: scopeName ? 'region' : null, scope_id: scopeName ? 2 : null,
  scope_name: scopeName || null, implicit: !scopeName,
})
const ME = meBody({
  roles: [
    role('member', '政协委员', '海州区'),
    role('convenor', '召集人', '新浦街道“有事好商量”协商议事室'),
    role('resident', '群众'),
  ],
  platforms: [{ id: 11, name: '新浦街道“有事好商量”协商议事室', relation: 'convenor', relation_label: '召集人' }],
})
const NO_PHONE = meBody({ phone: null })

let pageId
beforeAll(() => {
  pageId = simulate.load(path.join(__dirname, '../../pages/me/me'))
})

function meServer({ me = ME, phone } = {}) {
  return fakeServer(req => {
    if (req.path === '/api/auth/wx-login') {
      return { status: 200, body: { token: 'tok-1', expires_at: '2099-01-01T00:00:00Z', is_new: false, person: { id: me.id, name: me.name, roles: [] } } }
    }
    if (req.path === '/api/me') {
      return req.header.Authorization === 'Bearer tok-1'
        ? { status: 200, body: me }
        : { status: 401, body: errorBody('unauthorized', '请先登录') }
    }
    if (req.path === '/api/auth/phone' && phone) return phone(req)
    return undefined
  })
}

test('logs in silently and shows the login state, masked phone and roles in Chinese', async () => {
  const env = installWx()
  const server = meServer()
  const page = renderPage(simulate, pageId)

  await page.instance.onLoad({})

  expect(env.login).toHaveBeenCalledTimes(1)
  // Then the Official Account binding (tests/pages/me_chat.test.js).
  expect(server.calls.map(c => c.path)).toEqual(['/api/auth/wx-login', '/api/me', '/api/me/chat-binding'])
  const text = textOf(page)
  expect(text).toContain('已登录')
  expect(text).toContain('王**')
  expect(text).toContain('手机号 138****5678')
  expect(byClass(page, 'role').map(textOf)).toEqual([
    '政协委员（海州区）', '召集人（新浦街道“有事好商量”协商议事室）', '群众',
  ])
  expect(byClass(page, 'my-platform').map(textOf)).toEqual(['新浦街道“有事好商量”协商议事室 （召集人）'])
  expect(text).not.toContain('绑定手机号')
})

test('"我的会议" opens the list of the meetings I am invited to', async () => {
  const env = installWx()
  meServer()
  const page = renderPage(simulate, pageId)
  await page.instance.onLoad({})

  expect(textOf(page.querySelector('.my-meetings'))).toBe('我的会议 受邀参加的协商会议：答复是否参加、会前通报、扫码签到 查看我的会议 ›')
  page.querySelector('.my-meetings').dispatchEvent('tap')
  await simulate.sleep(0)

  expect(env.navigateTo).toHaveBeenCalledWith({ url: '/pages/meetings/meetings' })
})

test('"待办审核" is shown to everyone logged in and opens the review page', async () => {
  const env = installWx()
  meServer({ me: meBody({ roles: [role('resident', '群众')] }) })
  const page = renderPage(simulate, pageId)
  await page.instance.onLoad({})

  expect(textOf(page.querySelector('.my-reviews'))).toBe('待办审核 代表党委、政府、政协党组或专委会：审核议题，处理收到的协商意见清单 查看待办审核 ›')
  page.querySelector('.my-reviews').dispatchEvent('tap')
  await simulate.sleep(0)

  expect(env.navigateTo).toHaveBeenCalledWith({ url: '/pages/review/review' })
})

test('"使用绑定码" is shown to everyone logged in and opens the link page', async () => {
  const env = installWx()
  meServer({ me: meBody({ roles: [role('resident', '群众')] }) })
  const page = renderPage(simulate, pageId)
  await page.instance.onLoad({})

  expect(textOf(page.querySelector('.use-link-code'))).toContain('使用绑定码')
  page.querySelector('.use-link-code').dispatchEvent('tap')
  await simulate.sleep(0)

  expect(env.navigateTo).toHaveBeenCalledWith({ url: '/pages/link/link' })
})

test('"为人员生成绑定码" is shown only to CPPCC staff and admins (person.link) and opens pages/people-link', async () => {
  const env = installWx()
  meServer() // a member, convenor and resident: no entry
  const page = renderPage(simulate, pageId)
  await page.instance.onLoad({})
  expect(page.querySelector('.use-link-code')).toBeTruthy()
  expect(page.querySelector('.people-link')).toBeFalsy()
  expect(textOf(page)).not.toContain('为人员生成绑定码')

  for (const code of ['staff', 'admin']) {
    meServer({ me: meBody({ roles: [role(code, code === 'staff' ? '政协工作人员' : '系统管理员', '海州区')] }) })
    await page.instance.load()
    expect(textOf(page.querySelector('.people-link'))).toBe(
      '为人员生成绑定码 政协工作人员：核实身份后，为审核人、部门经办人或不用小程序的群众生成一次性绑定码，关联其微信 查找人员并生成绑定码 ›')
  }
  page.querySelector('.people-link').dispatchEvent('tap')
  await simulate.sleep(0)
  expect(env.navigateTo).toHaveBeenCalledWith({ url: '/pages/people-link/people-link' })

  page.instance.onLogout()
  await simulate.sleep(0)
  expect(page.querySelector('.people-link')).toBeFalsy()
})

test('without a phone: "未绑定" and a getPhoneNumber button; binding shows the masked phone', async () => {
  const env = installWx()
  const me = NO_PHONE
  const server = meServer({ me, phone: () => ({ status: 200, body: { phone_masked: '139****0001', merged: false, person: { id: 7, name: '王**', roles: ['resident'] } } }) })
  const page = renderPage(simulate, pageId)
  await page.instance.onLoad({})

  expect(textOf(page)).toContain('手机号 未绑定')
  expect(textOf(page)).toContain('暂无特别身份')
  const button = page.querySelector('.btn')
  expect(textOf(button)).toBe('绑定手机号')
  const json = button.toJSON()
  expect(json.attrs).toContainEqual({ name: 'openType', value: 'getPhoneNumber' })
  expect(json.event.getphonenumber.handler).toBe('onGetPhoneNumber')

  button.dispatchEvent('getphonenumber', { detail: { errMsg: 'getPhoneNumber:ok', code: 'phone-code-1' } })
  await waitFor(() => env.toast.mock.calls.length > 0) // the handler ends with a toast

  const [bind] = server.to('/api/auth/phone')
  expect(bind.method).toBe('POST')
  expect(bind.data).toEqual({ code: 'phone-code-1' })
  expect(bind.header.Authorization).toBe('Bearer tok-1')
  expect(textOf(page)).toContain('手机号 139****0001')
  expect(textOf(page)).not.toContain('绑定手机号')
  expect(env.toastTitles()).toEqual(['绑定成功'])
})

test('refusing the phone prompt sends nothing and says so', async () => {
  const env = installWx()
  const me = NO_PHONE
  const server = meServer({ me, phone: () => ({ status: 200, body: { phone_masked: 'x' } }) })
  const page = renderPage(simulate, pageId)
  await page.instance.onLoad({})

  await page.instance.onGetPhoneNumber({ detail: { errMsg: 'getPhoneNumber:fail user deny' } })

  expect(server.to('/api/auth/phone')).toHaveLength(0)
  expect(env.toastTitles()).toEqual([auth.PHONE_DENIED_MESSAGE])
  expect(textOf(page)).toContain('手机号 未绑定')
})

test("a failed binding keeps the button and shows the server's message", async () => {
  const env = installWx()
  const me = NO_PHONE
  meServer({ me, phone: () => ({ status: 409, body: errorBody('phone_taken', '该手机号已绑定其他账号') }) })
  const page = renderPage(simulate, pageId)
  await page.instance.onLoad({})

  await page.instance.onGetPhoneNumber({ detail: { code: 'phone-code-2' } })

  expect(env.toastTitles()).toEqual(['该手机号已绑定其他账号'])
  expect(textOf(page)).toContain('绑定手机号')
  expect(page.instance.data.binding).toBe(false)
})

test('when login fails the page says 未登录 and offers to log in again', async () => {
  const env = installWx()
  fakeServer(() => ({ fail: 'timeout' }))
  const page = renderPage(simulate, pageId)

  await page.instance.onLoad({})

  expect(textOf(page)).toBe('未登录 网络不佳，请稍后重试 重新登录')
  expect(env.toastTitles()).toEqual(['网络不佳，请稍后重试'])

  jest.restoreAllMocks() // the network is back

  installWx()
  meServer()
  await page.instance.onLogin()
  expect(textOf(page)).toContain('已登录')
  expect(textOf(page)).toContain('138****5678')
})

test('logout forgets the token, revokes it, and shows the logged-out state', async () => {
  const env = installWx()
  const server = meServer()
  const page = renderPage(simulate, pageId)
  await page.instance.onLoad({})
  expect(env.store.get(session.TOKEN_KEY)).toBe('tok-1')

  await page.instance.onLogout()

  expect(env.store.has(session.TOKEN_KEY)).toBe(false)
  expect(server.to('/api/auth/logout')[0].header.Authorization).toBe('Bearer tok-1')
  expect(textOf(page)).toBe('您已退出登录 微信登录')

  // Coming back to the tab does not log the person in again behind their back.
  await page.instance.onShow()
  await page.instance.onShow()
  expect(env.login).toHaveBeenCalledTimes(1)
  expect(textOf(page)).toBe('您已退出登录 微信登录')
})

test('coming back to the tab reloads the person; the first show does not', async () => {
  installWx()
  const server = meServer()
  const page = renderPage(simulate, pageId)
  await page.instance.onLoad({})
  await page.instance.onShow()
  expect(server.to('/api/me')).toHaveLength(1)
  await page.instance.onShow()
  expect(server.to('/api/me')).toHaveLength(2)
})

test('in DevTools, sandbox.phone binds that number even when the button gives no code', async () => {
  installWx({ storage: { 'sandbox.phone': '13800000001' } })
  const me = NO_PHONE
  const server = meServer({ me, phone: () => ({ status: 200, body: { phone_masked: '138****0001' } }) })
  const page = renderPage(simulate, pageId)
  await page.instance.onLoad({})

  await page.instance.onGetPhoneNumber({ detail: { errMsg: 'getPhoneNumber:fail no permission' } })

  expect(server.to('/api/auth/phone')[0].data.code).toMatch(/^phone-13800000001-/)
  expect(textOf(page)).toContain('手机号 138****0001')
})

test('交办事项 and 我的督办 appear only for a department handler and a member', async () => {
  const env = installWx({ storage: { 'auth.token': 'tok-1', 'auth.expires_at': '2099-01-01T00:00:00Z' } })
  meServer({ me: meBody({ roles: [role('resident', '群众')] }) })
  const page = renderPage(simulate, pageId)
  await page.instance.onLoad({})
  expect(page.querySelector('.my-tasks')).toBeFalsy()
  expect(page.querySelector('.my-supervision')).toBeFalsy()

  meServer({ me: meBody({ roles: [role('dept_handler', '承办部门经办人', '东县住房和城乡建设局')] }) })
  await page.instance.load()
  expect(textOf(page.querySelector('.my-tasks'))).toBe(
    '交办事项 承办部门：签收交办的意见事项，提交工作方案，报送进展，办结或申请延期 查看交办事项 ›')
  expect(page.querySelector('.my-supervision')).toBeFalsy()
  page.querySelector('.my-tasks').dispatchEvent('tap')
  await simulate.sleep(0)
  expect(env.navigateTo).toHaveBeenCalledWith({ url: '/pages/tasks/tasks' })

  meServer({ me: ME })
  await page.instance.load()
  expect(page.querySelector('.my-tasks')).toBeFalsy()
  page.querySelector('.my-supervision').dispatchEvent('tap')
  await simulate.sleep(0)
  expect(env.navigateTo).toHaveBeenCalledWith({ url: '/pages/supervision/supervision' })
})
