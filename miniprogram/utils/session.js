/**
 * The login session kept in local storage: our own opaque bearer token (never WeChat's
 * session_key, which stays on the server), its expiry and the person it belongs to.
 */
const TOKEN_KEY = 'auth.token'
const EXPIRES_KEY = 'auth.expires_at'
const PERSON_KEY = 'auth.person'

// A token this close to its expiry is treated as expired, so a request does not start with a
// token that dies on the way.
const EXPIRY_MARGIN_MS = 60 * 1000

function read(key) {
  try {
    return wx.getStorageSync(key) || null
  } catch (err) {
    return null
  }
}

function getToken() {
  return read(TOKEN_KEY)
}

function getPerson() {
  return read(PERSON_KEY)
}

function getExpiresAt() {
  return read(EXPIRES_KEY)
}

/** True when a token is stored and not (about to be) expired. Unknown expiry counts as valid:
 *  the server answers 401 if it is not, and the request wrapper logs in again. */
function hasValidToken(now) {
  if (!getToken()) return false
  const expiresAt = getExpiresAt()
  if (!expiresAt) return true
  const ms = Date.parse(expiresAt)
  if (Number.isNaN(ms)) return true
  return ms - EXPIRY_MARGIN_MS > (now === undefined ? Date.now() : now)
}

function save({ token, expires_at: expiresAt, person }) {
  wx.setStorageSync(TOKEN_KEY, token)
  if (expiresAt) wx.setStorageSync(EXPIRES_KEY, expiresAt)
  else wx.removeStorageSync(EXPIRES_KEY)
  if (person) wx.setStorageSync(PERSON_KEY, person)
}

function savePerson(person) {
  wx.setStorageSync(PERSON_KEY, person)
}

function clear() {
  wx.removeStorageSync(TOKEN_KEY)
  wx.removeStorageSync(EXPIRES_KEY)
  wx.removeStorageSync(PERSON_KEY)
}

module.exports = {
  TOKEN_KEY,
  EXPIRES_KEY,
  PERSON_KEY,
  getToken,
  getPerson,
  getExpiresAt,
  hasValidToken,
  save,
  savePerson,
  clear,
}
