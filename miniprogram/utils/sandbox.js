/**
 * Sandbox helpers for WeChat DevTools, active only in develop builds (never trial or release).
 *
 * The server's local fake WeChat (app/wechat/fake_apis.py) turns special codes into chosen
 * people and phone numbers, so a developer can use the mini-program as any seeded person:
 *
 *   wx.setStorageSync('sandbox.login_as', 'zhang')        login code user-zhang-… → that person
 *   wx.setStorageSync('sandbox.phone', '13800000001')     phone code phone-13800000001-…
 *
 * (typed into the DevTools console; wx.removeStorageSync(key) turns them off). Without them
 * the real codes from wx.login / the getPhoneNumber button are used.
 */
const config = require('./config')

const LOGIN_AS_KEY = 'sandbox.login_as'
const PHONE_KEY = 'sandbox.phone'

function setting(key, pattern) {
  if (config.envVersion() !== 'develop') return ''
  let value = ''
  try {
    value = wx.getStorageSync(key) || ''
  } catch (err) {
    value = ''
  }
  return pattern.test(value) ? value : ''
}

// Codes are single-use in the fake as in WeChat: a unique suffix makes each one new.
function suffix() {
  return `${Date.now()}${Math.floor(Math.random() * 1e6)}`
}

function loginCode() {
  const name = setting(LOGIN_AS_KEY, /^[A-Za-z0-9_]{1,40}$/)
  return name ? `user-${name}-${suffix()}` : null
}

function phoneCode() {
  const phone = setting(PHONE_KEY, /^1\d{10}$/)
  return phone ? `phone-${phone}-${suffix()}` : null
}

module.exports = { LOGIN_AS_KEY, PHONE_KEY, loginCode, phoneCode }
