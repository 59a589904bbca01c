const auth = require('../utils/auth')
const session = require('../utils/session')
const { installWx, fakeServer, errorBody } = require('./helpers/wx')

const PERSON = { id: 7, name: '王**', phone_masked: null }

function loginServer({ token = 'tok-1', expiresAt = '2099-01-01T00:00:00Z', extra } = {}) {
  return fakeServer(req => {
    if (req.path === '/api/auth/wx-login') {
      return { status: 200, body: { token, expires_at: expiresAt, person: PERSON } }
    }
    return extra ? extra(req) : undefined
  })
}

describe('login', () => {
  test('exchanges the wx.login code for a token and stores token, expiry and person', async () => {
    const env = installWx()
    const server = loginServer()

    const person = await auth.login()

    expect(person).toEqual(PERSON)
    expect(env.login).toHaveBeenCalledTimes(1)
    const [call] = server.calls
    expect(call.method).toBe('POST')
    expect(call.path).toBe('/api/auth/wx-login')
    expect(call.data).toEqual({ code: 'wx-code-1-1' })
    expect(call.header.Authorization).toBeUndefined()
    expect(env.store.get(session.TOKEN_KEY)).toBe('tok-1')
    expect(env.store.get(session.EXPIRES_KEY)).toBe('2099-01-01T00:00:00Z')
    expect(env.store.get(session.PERSON_KEY)).toEqual(PERSON)
    expect(auth.isLoggedIn()).toBe(true)
  })

  test('the token is then sent on later requests', async () => {
    installWx()
    const server = loginServer({ extra: () => ({ status: 200, body: { id: 7 } }) })
    await auth.login()
    await require('../utils/request').request({ path: '/api/me' })
    expect(server.to('/api/me')[0].header.Authorization).toBe('Bearer tok-1')
  })

  test('a refused code shows the server message and stores nothing', async () => {
    const env = installWx()
    fakeServer(() => ({ status: 400, body: errorBody('wx_code_invalid', '微信登录凭证无效，请重试') }))

    const err = await auth.login().catch(e => e)

    expect(err.code).toBe('wx_code_invalid')
    expect(env.toastTitles()).toEqual(['微信登录凭证无效，请重试'])
    expect(env.store.has(session.TOKEN_KEY)).toBe(false)
  })

  test('a failing wx.login rejects with a Chinese message and sends nothing', async () => {
    const env = installWx()
    const server = loginServer()
    env.login.mockImplementation(opts => setTimeout(() => opts.fail({ errMsg: 'login:fail' }), 0))

    const err = await auth.login().catch(e => e)

    expect(err.message).toBe(auth.WX_LOGIN_MESSAGE)
    expect(server.calls).toHaveLength(0)
    expect(env.toastTitles()).toEqual([auth.WX_LOGIN_MESSAGE])
  })

  test('two logins at once make one wx.login and one server call', async () => {
    const env = installWx()
    const server = loginServer()
    const [a, b] = await Promise.all([auth.login(), auth.login()])
    expect(a).toEqual(PERSON)
    expect(b).toEqual(PERSON)
    expect(env.login).toHaveBeenCalledTimes(1)
    expect(server.calls).toHaveLength(1)
    // …and a later login is a new one.
    await auth.login()
    expect(env.login).toHaveBeenCalledTimes(2)
  })
})

describe('ensureLogin', () => {
  test('reuses a stored unexpired token without calling wx.login', async () => {
    const env = installWx({
      storage: { [session.TOKEN_KEY]: 'kept', [session.EXPIRES_KEY]: '2099-01-01T00:00:00Z', [session.PERSON_KEY]: PERSON },
    })
    const server = loginServer()
    await expect(auth.ensureLogin()).resolves.toEqual(PERSON)
    expect(env.login).not.toHaveBeenCalled()
    expect(server.calls).toHaveLength(0)
  })

  test('logs in again when the token has expired or is about to', async () => {
    const soon = new Date(Date.now() + 10 * 1000).toISOString()
    for (const expiresAt of ['2000-01-01T00:00:00Z', soon]) {
      const env = installWx({ storage: { [session.TOKEN_KEY]: 'stale', [session.EXPIRES_KEY]: expiresAt } })
      loginServer({ token: 'fresh' })
      await auth.ensureLogin()
      expect(env.login).toHaveBeenCalledTimes(1)
      expect(env.store.get(session.TOKEN_KEY)).toBe('fresh')
      jest.restoreAllMocks()
    }
  })

  test('logs in when there is no token', async () => {
    const env = installWx()
    loginServer()
    await auth.ensureLogin()
    expect(env.login).toHaveBeenCalledTimes(1)
  })
})

describe('bindPhone', () => {
  test('sends the getPhoneNumber code with the token and keeps the masked phone', async () => {
    const env = installWx()
    const server = loginServer({
      extra: req => (req.path === '/api/auth/phone' ? { status: 200, body: { phone_masked: '138****5678' } } : undefined),
    })

    const masked = await auth.bindPhone('phone-code-9')

    expect(masked).toBe('138****5678')
    const [phoneCall] = server.to('/api/auth/phone')
    expect(phoneCall.method).toBe('POST')
    expect(phoneCall.data).toEqual({ code: 'phone-code-9' })
    expect(phoneCall.header.Authorization).toBe('Bearer tok-1')
    expect(env.store.get(session.PERSON_KEY).phone_masked).toBe('138****5678')
  })

  test('without a code (user refused) nothing is sent', async () => {
    installWx()
    const server = loginServer()
    const err = await auth.bindPhone(undefined).catch(e => e)
    expect(err.code).toBe('phone_denied')
    expect(err.message).toBe(auth.PHONE_DENIED_MESSAGE)
    expect(server.calls).toHaveLength(0)
  })

  test("a refusal from the server shows the server's message", async () => {
    const env = installWx({ storage: { [session.TOKEN_KEY]: 'tok-1' } })
    fakeServer(() => ({ status: 409, body: errorBody('phone_taken', '该手机号已绑定其他账号') }))
    const err = await auth.bindPhone('phone-code-9').catch(e => e)
    expect(err.code).toBe('phone_taken')
    expect(env.toastTitles()).toEqual(['该手机号已绑定其他账号'])
  })
})

test('logout forgets the token at once, revokes it on the server, and the next ensureLogin logs in again', async () => {
  const env = installWx({ storage: { [session.TOKEN_KEY]: 'kept', [session.PERSON_KEY]: PERSON } })
  const server = loginServer({
    token: 'after-logout',
    extra: req => (req.path === '/api/auth/logout' ? { status: 200, body: { ok: true } } : undefined),
  })
  const done = auth.logout()
  expect(env.store.has(session.TOKEN_KEY)).toBe(false)
  await done
  const [revoke] = server.to('/api/auth/logout')
  expect(revoke.method).toBe('POST')
  expect(revoke.header.Authorization).toBe('Bearer kept')
  expect(env.store.has(session.PERSON_KEY)).toBe(false)
  expect(auth.isLoggedIn()).toBe(false)
  await auth.ensureLogin()
  expect(env.login).toHaveBeenCalledTimes(1)
  expect(env.store.get(session.TOKEN_KEY)).toBe('after-logout')
})

test('logout works offline: no toast, no re-login, the token is still gone', async () => {
  const env = installWx({ storage: { [session.TOKEN_KEY]: 'kept' } })
  const server = fakeServer(req => (req.path === '/api/auth/logout'
    ? { status: 401, body: errorBody('unauthorized', '请先登录') }
    : { fail: 'timeout' }))
  await auth.logout()
  expect(server.calls.map(c => c.path)).toEqual(['/api/auth/logout'])
  expect(env.login).not.toHaveBeenCalled()
  expect(env.toast).not.toHaveBeenCalled()
  expect(env.store.has(session.TOKEN_KEY)).toBe(false)
})

test('binding a phone that staff had entered keeps the merged person the server returns', async () => {
  const env = installWx({ storage: { [session.TOKEN_KEY]: 'tok-1', [session.PERSON_KEY]: { id: 7, name: '微信用户', roles: ['resident'] } } })
  fakeServer(() => ({
    status: 200,
    body: { phone_masked: '138****0002', merged: true, person: { id: 42, name: '赵**', roles: ['member'] } },
  }))
  await auth.bindPhone('phone-code-3')
  expect(env.store.get(session.PERSON_KEY)).toEqual({ id: 42, name: '赵**', roles: ['member'], phone_masked: '138****0002' })
})
