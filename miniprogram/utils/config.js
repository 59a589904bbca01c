/**
 * Where the mini-program finds the server, and the network settings every request uses.
 *
 * - develop (WeChat DevTools, 真机调试): the sandbox server that `make run` starts on this
 *   computer, http://127.0.0.1:5000. DevTools must have "不校验合法域名" on (project.config.json
 *   sets urlCheck: false) because 127.0.0.1 is not an HTTPS request domain.
 * - trial (体验版) / release (正式版): fill in the production HTTPS address below before uploading,
 *   and add it as a "request 合法域名" in the mini-program admin console. Left empty, a trial or
 *   release build falls back to the develop address and logs an error — it will not work on
 *   phones, which is the point: it must be configured.
 *
 * In develop and trial builds the address can be overridden without editing code, e.g. from the
 * DevTools console when a phone must reach the computer over the LAN:
 *     wx.setStorageSync('config.api_base_url', 'http://192.168.1.20:5000')
 * and removed with wx.removeStorageSync('config.api_base_url'). Release builds ignore it.
 */
const API_BASE_URLS = {
  develop: 'http://127.0.0.1:5000',
  trial: '',
  release: '',
}

const OVERRIDE_STORAGE_KEY = 'config.api_base_url'

// Milliseconds before wx.request gives up (app.json networkTimeout.request says the same).
const REQUEST_TIMEOUT_MS = 10000

// Nearby list: search radius around the user's position, and page size.
const NEARBY_RADIUS_KM = 20
const PAGE_SIZE = 20

// Suggestions: how long after the last keystroke the propose form looks for similar
// suggestions; at most this many photos per suggestion (app/suggestions/schemas.py); how long
// one photo upload may take before it counts as failed.
const SIMILAR_DEBOUNCE_MS = 500
const MAX_PHOTOS = 9
const UPLOAD_TIMEOUT_MS = 60000

function envVersion() {
  try {
    const info = wx.getAccountInfoSync()
    return (info && info.miniProgram && info.miniProgram.envVersion) || 'develop'
  } catch (err) {
    return 'develop'
  }
}

function stripSlash(url) {
  return String(url).replace(/\/+$/, '')
}

function apiBaseUrl() {
  const env = envVersion()
  if (env !== 'release') {
    let override = ''
    try {
      override = wx.getStorageSync(OVERRIDE_STORAGE_KEY)
    } catch (err) {
      override = ''
    }
    if (override) return stripSlash(override)
  }
  const url = API_BASE_URLS[env]
  if (url) return stripSlash(url)
  if (env !== 'develop') {
    console.error(`utils/config.js: API_BASE_URLS.${env} is empty; using the develop address`)
  }
  return stripSlash(API_BASE_URLS.develop)
}

module.exports = {
  API_BASE_URLS,
  OVERRIDE_STORAGE_KEY,
  REQUEST_TIMEOUT_MS,
  NEARBY_RADIUS_KM,
  PAGE_SIZE,
  SIMILAR_DEBOUNCE_MS,
  MAX_PHOTOS,
  UPLOAD_TIMEOUT_MS,
  apiBaseUrl,
  envVersion,
}
