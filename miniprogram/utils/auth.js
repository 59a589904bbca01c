/**
 * Login for the mini-program: wx.login gives a one-time code; the server exchanges it
 * (code2session) for our own bearer token. WeChat's session_key never reaches the client.
 *
 *   login({ showError })  → Promise<person>   always asks the server for a new token
 *   ensureLogin()         → Promise<person>   reuses a stored, unexpired token
 *   bindPhone(code)       → Promise<phone_masked>  code = e.detail.code of the getPhoneNumber button
 *   logout()              → Promise: forgets the token here at once, then revokes it on the server
 */
const { request, ApiError } = require('./request')
const session = require('./session')
const sandbox = require('./sandbox')

const WX_LOGIN_MESSAGE = '微信登录失败，请稍后重试'
const PHONE_DENIED_MESSAGE = '您未同意授权手机号，可稍后再绑定'

function wxLogin() {
  const sandboxCode = sandbox.loginCode() // develop builds only; see utils/sandbox.js
  if (sandboxCode) return Promise.resolve(sandboxCode)
  return new Promise((resolve, reject) => {
    wx.login({
      timeout: 10000,
      success: res => {
        if (res && res.code) resolve(res.code)
        else reject(new ApiError({ code: 'wx_login_failed', message: WX_LOGIN_MESSAGE }))
      },
      fail: () => reject(new ApiError({ code: 'wx_login_failed', message: WX_LOGIN_MESSAGE })),
    })
  })
}

// Several requests may find the token expired at once: they share one login.
let pendingLogin = null

function login({ showError = true } = {}) {
  if (pendingLogin) return pendingLogin
  pendingLogin = (async () => {
    let code
    try {
      code = await wxLogin()
    } catch (err) {
      if (showError) wx.showToast({ title: err.message, icon: 'none', duration: 2500 })
      throw err
    }
    const body = await request({
      path: '/api/auth/wx-login',
      method: 'POST',
      data: { code },
      auth: false,
      showError,
    })
    if (!body || !body.token) {
      if (showError) wx.showToast({ title: WX_LOGIN_MESSAGE, icon: 'none', duration: 2500 })
      throw new ApiError({ code: 'bad_login_response', message: WX_LOGIN_MESSAGE })
    }
    session.save(body)
    return body.person || null
  })()
  const clearPending = () => { pendingLogin = null }
  pendingLogin.then(clearPending, clearPending)
  return pendingLogin
}

function ensureLogin(options) {
  if (session.hasValidToken()) return Promise.resolve(session.getPerson())
  return login(options)
}

function isLoggedIn() {
  return session.hasValidToken()
}

/** Bind the WeChat phone number: `code` comes from the getPhoneNumber button's e.detail.code
 *  (single use, valid 5 minutes); the server asks WeChat for the number and keeps it encrypted. */
async function bindPhone(code) {
  if (!code) {
    throw new ApiError({ code: 'phone_denied', message: PHONE_DENIED_MESSAGE })
  }
  await ensureLogin()
  const body = await request({ path: '/api/auth/phone', method: 'POST', data: { code } })
  const phoneMasked = body && body.phone_masked
  // The server may have merged this account into a person staff had entered with that phone
  // (body.merged): keep the person it returns.
  const person = (body && body.person) || session.getPerson()
  if (person && phoneMasked) session.savePerson({ ...person, phone_masked: phoneMasked })
  return phoneMasked
}

function logout() {
  const token = session.getToken()
  session.clear()
  if (!token) return Promise.resolve()
  // Best effort: an unreachable server leaves a token that nobody holds any more and that
  // expires by itself.
  return request({
    path: '/api/auth/logout',
    method: 'POST',
    header: { Authorization: `Bearer ${token}` },
    auth: false,
    showError: false,
  }).then(() => undefined, () => undefined)
}

module.exports = {
  login,
  ensureLogin,
  isLoggedIn,
  bindPhone,
  logout,
  WX_LOGIN_MESSAGE,
  PHONE_DENIED_MESSAGE,
}
