const session = require('../utils/session')
const { installWx, fakeServer } = require('./helpers/wx')

let appOptions
beforeAll(() => {
  global.App = options => { appOptions = options }
  require('../app')
})

afterAll(() => {
  delete global.App
})

test('launch logs in silently and keeps the token', async () => {
  const env = installWx()
  const server = fakeServer(() => ({ status: 200, body: { token: 'launch-token', expires_at: '2099-01-01T00:00:00Z', person: { id: 3 } } }))
  await appOptions.onLaunch()
  expect(server.calls.map(c => c.path)).toEqual(['/api/auth/wx-login'])
  expect(env.store.get(session.TOKEN_KEY)).toBe('launch-token')
})

test('a failed launch login shows nothing (the page that needs it will)', async () => {
  const env = installWx()
  fakeServer(() => ({ fail: 'timeout' }))
  await appOptions.onLaunch()
  expect(env.login).toHaveBeenCalledTimes(1)
  expect(env.toast).not.toHaveBeenCalled()
  expect(env.store.has(session.TOKEN_KEY)).toBe(false)
})
