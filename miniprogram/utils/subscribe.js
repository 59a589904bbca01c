/**
 * Subscribe messages (订阅消息): ask the person, on a tap, to let the service send them WeChat
 * notices of some kinds, and tell the server what they answered.
 *
 *   prefetchSubscriptions()   on page load: GET /api/me/subscriptions into a cache, so that the
 *                             tap can call wx.requestSubscribeMessage at once (WeChat only shows
 *                             the dialog in direct response to a tap)
 *   askToSubscribe(kinds)     inside a tap handler, before the action it belongs to: asks for
 *                             the templates of these notice kinds (at most 3 per call — WeChat's
 *                             limit), then posts the raw result to POST /api/me/subscriptions
 *
 * askToSubscribe never blocks or fails the action: do not await it; its promise always resolves
 * (with the result object, or null when nothing was asked or anything went wrong). A refusal,
 * an old WeChat without the API or a network error is fine — the notice still reaches the
 * in-app inbox.
 *
 * Each "accept" of a one-time template lets the server send one more message of that kind; a
 * long-term template is asked for only until the person has accepted it.
 */
const { request } = require('./request')
const session = require('./session')

const MAX_PER_REQUEST = 3
const CACHE_MS = 10 * 60 * 1000
const PATH = '/api/me/subscriptions'

let cache = null // { at, kinds: [{ kind, template_id, long_term, subscribed, credits }] }
let loading = null

function fresh() {
  return cache && Date.now() - cache.at < CACHE_MS ? cache.kinds : null
}

function remember(body) {
  const kinds = body && Array.isArray(body.kinds) ? body.kinds : []
  cache = { at: Date.now(), kinds }
  return kinds
}

function load() {
  if (fresh()) return Promise.resolve(fresh())
  if (!loading) {
    loading = request({ path: PATH, showError: false })
      .then(remember)
      .catch(() => null)
      .then(kinds => {
        loading = null
        return kinds
      })
  }
  return loading
}

/** On page load: the server's list into the cache when logged in (never starts a login);
 *  never rejects (null when there is nothing). */
function prefetchSubscriptions() {
  return session.hasValidToken() ? load() : Promise.resolve(null)
}

/** Template ids to ask for these kinds, in order, without repeats, at most 3. */
function templatesFor(kinds, list) {
  const ids = []
  kinds.forEach(kind => {
    const entry = (list || []).find(item => item.kind === kind)
    if (!entry || !entry.template_id) return
    if (entry.long_term && entry.subscribed) return // standing consent: nothing to ask
    if (ids.indexOf(entry.template_id) < 0 && ids.length < MAX_PER_REQUEST) ids.push(entry.template_id)
  })
  return ids
}

function requestSubscribe(tmplIds) {
  return new Promise(resolve => {
    try {
      wx.requestSubscribeMessage({
        tmplIds,
        success: res => resolve(res || null),
        fail: () => resolve(null), // refused all, dialog closed, or not allowed here
      })
    } catch (err) {
      resolve(null)
    }
  })
}

function report(result, tmplIds) {
  const answers = {}
  tmplIds.forEach(id => {
    if (typeof result[id] === 'string') answers[id] = result[id]
  })
  if (!Object.keys(answers).length) return Promise.resolve(null)
  return request({ path: PATH, method: 'POST', data: answers, showError: false })
    .then(remember)
    .catch(() => null)
}

function ask(kinds, list) {
  const tmplIds = templatesFor(kinds, list)
  if (!tmplIds.length) return Promise.resolve(null)
  return requestSubscribe(tmplIds).then(result => {
    if (!result) return null
    return report(result, tmplIds).then(() => result)
  })
}

/** Inside a tap handler: ask for the templates of `kinds`; resolves, never rejects. */
function askToSubscribe(kinds) {
  try {
    if (typeof wx.requestSubscribeMessage !== 'function' || !Array.isArray(kinds) || !kinds.length) {
      return Promise.resolve(null)
    }
    const list = fresh()
    // With the list at hand the dialog opens within the tap; otherwise fetch it first (WeChat
    // may then refuse to show the dialog — the next tap will have the list).
    const asked = list ? ask(kinds, list) : load().then(loaded => (loaded ? ask(kinds, loaded) : null))
    return asked.catch(() => null)
  } catch (err) {
    return Promise.resolve(null)
  }
}

/** Tests: forget the cached list. */
function resetSubscriptions() {
  cache = null
  loading = null
}

module.exports = { askToSubscribe, prefetchSubscriptions, templatesFor, resetSubscriptions, MAX_PER_REQUEST }
