const { request, ApiError, NETWORK_MESSAGE, SERVER_DOWN_MESSAGE } = require('../utils/request')
const config = require('../utils/config')
const session = require('../utils/session')
const { installWx, fakeServer, errorBody } = require('./helpers/wx')

const UNAUTHORIZED = { status: 401, body: errorBody('unauthorized', '请先登录') }

function loginReply(token) {
  return { status: 200, body: { token, expires_at: '2099-01-01T00:00:00Z', person: { id: 7, name: '王**' } } }
}

describe('request wrapper', () => {
  test('attaches the stored bearer token, builds the query and sets a timeout', async () => {
    installWx({ storage: { [session.TOKEN_KEY]: 'tok-abc' } })
    const server = fakeServer(() => ({ status: 200, body: { ok: 1 } }))

    const body = await request({ path: '/api/platforms', query: { region_id: 3, kind: '', near: undefined, cursor: 'c 1' } })

    expect(body).toEqual({ ok: 1 })
    const [call] = server.calls
    expect(call.origin).toBe('http://127.0.0.1:5000')
    expect(call.header.Authorization).toBe('Bearer tok-abc')
    expect(call.query).toEqual({ region_id: '3', cursor: 'c 1' })
    expect(call.timeout).toBe(config.REQUEST_TIMEOUT_MS)
    expect(call.timeout).toBeGreaterThan(0)
  })

  test('auth: false sends no token, and no token is sent when none is stored', async () => {
    installWx({ storage: { [session.TOKEN_KEY]: 'tok-abc' } })
    const server = fakeServer(() => ({ status: 200, body: {} }))
    await request({ path: '/api/platforms', auth: false })
    session.clear()
    await request({ path: '/api/platforms' })
    expect(server.calls[0].header.Authorization).toBeUndefined()
    expect(server.calls[1].header.Authorization).toBeUndefined()
  })

  test('on 401 logs in again once and retries with the new token', async () => {
    const env = installWx({ storage: { [session.TOKEN_KEY]: 'old-token' } })
    const server = fakeServer(req => {
      if (req.path === '/api/auth/wx-login') return loginReply('new-token')
      if (req.header.Authorization === 'Bearer new-token') return { status: 200, body: { name: '王**' } }
      return UNAUTHORIZED
    })

    const body = await request({ path: '/api/me' })

    expect(body).toEqual({ name: '王**' })
    expect(server.calls.map(c => `${c.method} ${c.path}`)).toEqual([
      'GET /api/me', 'POST /api/auth/wx-login', 'GET /api/me',
    ])
    expect(server.calls[1].data).toEqual({ code: 'wx-code-1-1' })
    expect(server.calls[1].header.Authorization).toBeUndefined()
    expect(server.calls[2].header.Authorization).toBe('Bearer new-token')
    expect(env.login).toHaveBeenCalledTimes(1)
    expect(env.store.get(session.TOKEN_KEY)).toBe('new-token')
    expect(env.toast).not.toHaveBeenCalled()
  })

  test('a second 401 is not retried again: one re-login, two tries, then the error', async () => {
    const env = installWx({ storage: { [session.TOKEN_KEY]: 'old-token' } })
    const server = fakeServer(req => (req.path === '/api/auth/wx-login' ? loginReply('new-token') : UNAUTHORIZED))

    const err = await request({ path: '/api/me' }).catch(e => e)

    expect(err).toBeInstanceOf(ApiError)
    expect(err.status).toBe(401)
    expect(err.code).toBe('unauthorized')
    expect(server.to('/api/me')).toHaveLength(2)
    expect(server.to('/api/auth/wx-login')).toHaveLength(1)
    expect(env.login).toHaveBeenCalledTimes(1)
    expect(env.toastTitles()).toEqual(['请先登录'])
  })

  test('requests that hit 401 together share one login', async () => {
    const env = installWx({ storage: { [session.TOKEN_KEY]: 'old-token' } })
    const server = fakeServer(req => {
      if (req.path === '/api/auth/wx-login') return loginReply('new-token')
      if (req.header.Authorization === 'Bearer new-token') return { status: 200, body: { path: req.path } }
      return UNAUTHORIZED
    })

    const results = await Promise.all([request({ path: '/api/me' }), request({ path: '/api/me/inbox' })])

    expect(results).toEqual([{ path: '/api/me' }, { path: '/api/me/inbox' }])
    expect(server.to('/api/auth/wx-login')).toHaveLength(1)
    expect(env.login).toHaveBeenCalledTimes(1)
  })

  test('a late 401 for a request sent with the old token retries without logging in again', async () => {
    const env = installWx({ storage: { [session.TOKEN_KEY]: 'old-token' } })
    const server = fakeServer(req => {
      if (req.path === '/api/auth/wx-login') return loginReply('new-token')
      if (req.header.Authorization === 'Bearer new-token') return { status: 200, body: { path: req.path } }
      return { ...UNAUTHORIZED, delay: req.path === '/api/slow' ? 50 : 0 }
    })

    const results = await Promise.all([request({ path: '/api/me' }), request({ path: '/api/slow' })])

    expect(results).toEqual([{ path: '/api/me' }, { path: '/api/slow' }])
    expect(server.to('/api/auth/wx-login')).toHaveLength(1)
    expect(env.login).toHaveBeenCalledTimes(1)
    expect(server.to('/api/slow').map(c => c.header.Authorization)).toEqual(['Bearer old-token', 'Bearer new-token'])
  })

  test("an error shows the server's Chinese message as a toast and rejects with its code", async () => {
    const env = installWx()
    fakeServer(() => ({ status: 409, body: errorBody('vote_closed', '该议题已结束征集') }))

    const err = await request({ path: '/api/suggestions/1/votes', method: 'POST', data: {} }).catch(e => e)

    expect(err.code).toBe('vote_closed')
    expect(err.status).toBe(409)
    expect(err.message).toBe('该议题已结束征集')
    expect(err.requestId).toBe('req-test-1')
    expect(env.toast).toHaveBeenCalledTimes(1)
    expect(env.toast.mock.calls[0][0]).toMatchObject({ title: '该议题已结束征集', icon: 'none' })
  })

  test('showError: false rejects without a toast', async () => {
    const env = installWx()
    fakeServer(() => ({ status: 422, body: errorBody('validation_failed', '提交的内容不符合要求') }))
    const err = await request({ path: '/api/x', showError: false }).catch(e => e)
    expect(err.code).toBe('validation_failed')
    expect(env.toast).not.toHaveBeenCalled()
  })

  test('a network failure or timeout shows "网络不佳，请稍后重试"', async () => {
    const env = installWx()
    const replies = [{ fail: 'timeout' }, { fail: 'net::ERR_CONNECTION_REFUSED' }]
    fakeServer(() => replies.shift())

    const timeout = await request({ path: '/api/platforms' }).catch(e => e)
    const refused = await request({ path: '/api/platforms' }).catch(e => e)

    expect(timeout.code).toBe('timeout')
    expect(refused.code).toBe('network_error')
    expect(refused.message).toBe(NETWORK_MESSAGE)
    expect(env.toastTitles()).toEqual(['网络不佳，请稍后重试', '网络不佳，请稍后重试'])
  })

  test('a server error without a JSON body gets a Chinese fallback message', async () => {
    const env = installWx()
    fakeServer(() => ({ status: 502, body: '<html>Bad Gateway</html>' }))
    const err = await request({ path: '/api/platforms' }).catch(e => e)
    expect(err.message).toBe(SERVER_DOWN_MESSAGE)
    expect(err.code).toBe('http_502')
    expect(env.toastTitles()).toEqual([SERVER_DOWN_MESSAGE])
  })

  test('the Idempotency-Key header is sent, and the same key on the retry after 401', async () => {
    installWx({ storage: { [session.TOKEN_KEY]: 'old-token' } })
    const server = fakeServer(req => {
      if (req.path === '/api/auth/wx-login') return loginReply('new-token')
      if (req.header.Authorization === 'Bearer new-token') return { status: 201, body: { id: 5 } }
      return UNAUTHORIZED
    })

    const body = await request({ path: '/api/suggestions', method: 'POST', data: { title: '加装电梯' }, idempotencyKey: 'key-1' })

    expect(body).toEqual({ id: 5 })
    const posts = server.to('/api/suggestions')
    expect(posts.map(c => c.header['Idempotency-Key'])).toEqual(['key-1', 'key-1'])
    expect(posts[1].data).toEqual({ title: '加装电梯' })
  })
})

describe('API base URL', () => {
  test('a stored override is used in develop builds', async () => {
    installWx({ storage: { [config.OVERRIDE_STORAGE_KEY]: 'http://192.168.1.20:5000/' } })
    const server = fakeServer(() => ({ status: 200, body: {} }))
    await request({ path: '/api/platforms' })
    expect(server.calls[0].origin).toBe('http://192.168.1.20:5000')
  })

  test('release builds use the configured release address and ignore the override', async () => {
    installWx({ storage: { [config.OVERRIDE_STORAGE_KEY]: 'http://192.168.1.20:5000' } })
    jest.spyOn(wx, 'getAccountInfoSync').mockReturnValue({ miniProgram: { envVersion: 'release' } })
    const saved = config.API_BASE_URLS.release
    config.API_BASE_URLS.release = 'https://api.example.org'
    try {
      expect(config.apiBaseUrl()).toBe('https://api.example.org')
      config.API_BASE_URLS.release = ''
      const error = jest.spyOn(console, 'error').mockImplementation(() => {})
      expect(config.apiBaseUrl()).toBe('http://127.0.0.1:5000')
      expect(error).toHaveBeenCalledTimes(1)
    } finally {
      config.API_BASE_URLS.release = saved
    }
  })
})
