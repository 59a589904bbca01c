/**
 * Promise wrapper over wx.request for the project's JSON API.
 *
 *   request({ path, method, query, data, auth, idempotencyKey, showError, header })
 *     → Promise<body>
 *
 * - Attaches `Authorization: Bearer <token>` when a token is stored (auth !== false).
 * - On 401 it logs in again once (wx.login → /api/auth/wx-login) and retries the request once;
 *   a second 401 is an error like any other (no loop). auth: false sends no stored token and
 *   never logs in.
 * - `header` adds request headers.
 * - Errors reject with an ApiError; unless showError is false, the server's Chinese `message`
 *   is shown with wx.showToast (icon none). A network failure or timeout shows
 *   "网络不佳，请稍后重试".
 * - `idempotencyKey` is sent as the Idempotency-Key header, the same on the retry after 401
 *   (see utils/idempotency.js for one key per user action).
 */
const config = require('./config')
const session = require('./session')

const NETWORK_MESSAGE = '网络不佳，请稍后重试'
const SERVER_DOWN_MESSAGE = '服务暂时不可用，请稍后再试'
const FALLBACK_MESSAGE = '请求失败，请稍后重试'

class ApiError extends Error {
  constructor({ status = 0, code, message, requestId = null, details = null }) {
    super(message)
    this.name = 'ApiError'
    this.status = status
    this.code = code
    this.requestId = requestId
    this.details = details
  }
}

function buildUrl(path, query) {
  let url = config.apiBaseUrl() + path
  if (query) {
    const parts = Object.keys(query)
      .filter(key => query[key] !== undefined && query[key] !== null && query[key] !== '')
      .map(key => `${encodeURIComponent(key)}=${encodeURIComponent(query[key])}`)
    if (parts.length) url += (url.indexOf('?') >= 0 ? '&' : '?') + parts.join('&')
  }
  return url
}

function showErrorToast(message) {
  wx.showToast({ title: message, icon: 'none', duration: 2500 })
}

/** One wx.request; resolves with the raw response for any HTTP status, rejects on network failure. */
// A wx.request / wx.uploadFile that never got an answer: timeout or no network.
function networkError(res) {
  const errMsg = (res && res.errMsg) || ''
  return new ApiError({
    code: /timeout/i.test(errMsg) ? 'timeout' : 'network_error',
    message: NETWORK_MESSAGE,
  })
}

function send(options) {
  return new Promise((resolve, reject) => {
    wx.request({
      ...options,
      timeout: config.REQUEST_TIMEOUT_MS,
      dataType: 'json',
      success: resolve,
      fail: res => reject(networkError(res)),
    })
  })
}

function errorFromResponse(res) {
  const body = res.data && typeof res.data === 'object' ? res.data : {}
  const status = res.statusCode
  let message = typeof body.message === 'string' && body.message ? body.message : ''
  if (!message) message = status >= 500 ? SERVER_DOWN_MESSAGE : FALLBACK_MESSAGE
  return new ApiError({
    status,
    code: body.error || `http_${status}`,
    message,
    requestId: body.request_id || null,
    details: body.details || null,
  })
}

async function request(options) {
  const {
    path,
    method = 'GET',
    query,
    data,
    auth = true,
    idempotencyKey,
    showError = true,
  } = options
  const header = { 'Content-Type': 'application/json', ...(options.header || {}) }
  const token = auth ? session.getToken() : null
  if (token) header.Authorization = `Bearer ${token}`
  if (idempotencyKey) header['Idempotency-Key'] = idempotencyKey

  let res
  try {
    res = await send({ url: buildUrl(path, query), method, data, header })
  } catch (err) {
    if (showError) showErrorToast(err.message)
    throw err
  }

  if (res.statusCode >= 200 && res.statusCode < 300) return res.data

  if (res.statusCode === 401 && auth && !options._retried) {
    // The token is missing, expired or revoked: log in again once, then retry once.
    // If another request has logged in meanwhile, the new token is enough. A failed login has
    // already shown its own message. (Lazy require: auth.js uses this module.)
    const current = session.getToken()
    if (!current || current === token) await require('./auth').login({ showError })
    return request({ ...options, _retried: true })
  }

  const err = errorFromResponse(res)
  if (err.requestId) console.warn(`API ${method} ${path} → ${res.statusCode} ${err.code} (request_id ${err.requestId})`)
  if (showError) showErrorToast(err.message)
  throw err
}

module.exports = {
  networkError,
  request,
  ApiError,
  buildUrl,
  errorFromResponse,
  NETWORK_MESSAGE,
  SERVER_DOWN_MESSAGE,
  FALLBACK_MESSAGE,
}
