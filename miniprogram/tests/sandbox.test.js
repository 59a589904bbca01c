const auth = require('../utils/auth')
const sandbox = require('../utils/sandbox')
const { installWx, fakeServer } = require('./helpers/wx')

function loginServer() {
  return fakeServer(req => (req.path === '/api/auth/wx-login'
    ? { status: 200, body: { token: 't', expires_at: '2099-01-01T00:00:00Z', person: { id: 1 } } }
    : undefined))
}

test('develop build: sandbox.login_as logs in as that person of the fake WeChat, without wx.login', async () => {
  const env = installWx({ storage: { [sandbox.LOGIN_AS_KEY]: 'zhang' } })
  const server = loginServer()
  await auth.login()
  await auth.login()
  expect(env.login).not.toHaveBeenCalled()
  const codes = server.calls.map(c => c.data.code)
  codes.forEach(code => expect(code).toMatch(/^user-zhang-[0-9]+$/)) // the fake's user-<name>-… form
  expect(codes[0]).not.toBe(codes[1]) // codes are single-use
})

test('release and trial builds ignore the sandbox settings', async () => {
  for (const envVersion of ['release', 'trial']) {
    const env = installWx({ storage: { [sandbox.LOGIN_AS_KEY]: 'zhang', [sandbox.PHONE_KEY]: '13800000001' } })
    jest.spyOn(wx, 'getAccountInfoSync').mockReturnValue({ miniProgram: { envVersion } })
    jest.spyOn(console, 'error').mockImplementation(() => {}) // no release address configured
    const server = loginServer()
    await auth.login()
    expect(env.login).toHaveBeenCalledTimes(1)
    expect(server.calls[0].data.code).toBe('wx-code-1-1')
    expect(sandbox.phoneCode()).toBeNull()
    jest.restoreAllMocks()
  }
})

test('malformed sandbox values are ignored', () => {
  installWx({ storage: { [sandbox.LOGIN_AS_KEY]: 'zhang san', [sandbox.PHONE_KEY]: '2380000000' } })
  expect(sandbox.loginCode()).toBeNull()
  expect(sandbox.phoneCode()).toBeNull()
})

test('sandbox.phone gives a phone-<number> code', () => {
  installWx({ storage: { [sandbox.PHONE_KEY]: '13800000001' } })
  expect(sandbox.phoneCode()).toMatch(/^phone-13800000001-[0-9]+$/)
})
