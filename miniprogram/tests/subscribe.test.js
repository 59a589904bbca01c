const { askToSubscribe, prefetchSubscriptions, templatesFor, resetSubscriptions } = require('../utils/subscribe')
const { installWx, fakeServer, errorBody } = require('./helpers/wx')

const LOGGED_IN = { 'auth.token': 'tok-1', 'auth.expires_at': '2099-01-01T00:00:00Z' }
const PATH = '/api/me/subscriptions'

// app/notify/schemas.py SubscriptionsOut
function entry(kind, templateId, extra = {}) {
  return { kind, kind_label: kind, template_id: templateId, long_term: false, subscribed: false, credits: 0, ...extra }
}
const LIST = {
  kinds: [
    entry('meeting_notice', 'T_MEET'),
    entry('briefing', 'T_MEET'), // one template may serve two kinds
    entry('status_change', 'T_STATUS'),
    entry('feedback', 'T_FEED'),
    entry('reminder', 'T_REMIND', { long_term: true, subscribed: true }),
    entry('review_request', 'T_REVIEW', { long_term: true }),
  ],
  max_per_request: 3,
  credit_cap: 50,
}

/** wx.requestSubscribeMessage answering `answer(tmplIds)`: an object (success) or 'fail'. */
function subscribeDialog(answer) {
  return jest.spyOn(wx, 'requestSubscribeMessage').mockImplementation(opts => {
    const result = answer(opts.tmplIds)
    setTimeout(() => {
      if (result === 'fail') opts.fail && opts.fail({ errMsg: 'requestSubscribeMessage:fail cancel', errCode: 20004 })
      else opts.success && opts.success({ errMsg: 'requestSubscribeMessage:ok', ...result })
    }, 0)
  })
}

function server({ list = () => ({ status: 200, body: LIST }), post } = {}) {
  return fakeServer(req => {
    if (req.path !== PATH) return undefined
    if (req.method === 'GET') return list(req)
    return post ? post(req) : { status: 200, body: LIST }
  })
}

beforeEach(() => resetSubscriptions())

test('templatesFor: in order, without repeats or standing long-term consents, at most 3', () => {
  expect(templatesFor(['meeting_notice', 'briefing', 'status_change'], LIST.kinds)).toEqual(['T_MEET', 'T_STATUS'])
  expect(templatesFor(['reminder', 'status_change'], LIST.kinds)).toEqual(['T_STATUS'])
  expect(templatesFor(['review_request', 'feedback', 'status_change', 'meeting_notice'], LIST.kinds))
    .toEqual(['T_REVIEW', 'T_FEED', 'T_STATUS'])
  expect(templatesFor(['chat_reply'], LIST.kinds)).toEqual([])
})

test('with the list prefetched, the tap asks at once and posts the raw answers', async () => {
  installWx({ storage: LOGGED_IN })
  const srv = server()
  await prefetchSubscriptions()
  const dialog = subscribeDialog(() => ({ T_MEET: 'accept', T_STATUS: 'reject' }))

  const pending = askToSubscribe(['meeting_notice', 'briefing', 'status_change'])
  expect(dialog).toHaveBeenCalledTimes(1) // synchronously, inside the tap
  expect(dialog.mock.calls[0][0].tmplIds).toEqual(['T_MEET', 'T_STATUS'])
  const result = await pending

  expect(result.T_MEET).toBe('accept')
  const posts = srv.calls.filter(c => c.method === 'POST')
  expect(posts).toHaveLength(1)
  expect(posts[0].data).toEqual({ T_MEET: 'accept', T_STATUS: 'reject' })
  expect(posts[0].header.Authorization).toBe('Bearer tok-1')
  expect(srv.calls.filter(c => c.method === 'GET')).toHaveLength(1) // cached since
})

test('without a cached list it is fetched first, then asked', async () => {
  installWx({ storage: LOGGED_IN })
  const srv = server()
  const dialog = subscribeDialog(ids => Object.fromEntries(ids.map(id => [id, 'accept'])))

  await askToSubscribe(['status_change', 'feedback'])

  expect(dialog.mock.calls[0][0].tmplIds).toEqual(['T_STATUS', 'T_FEED'])
  expect(srv.calls.map(c => c.method)).toEqual(['GET', 'POST'])
  expect(srv.calls[1].data).toEqual({ T_STATUS: 'accept', T_FEED: 'accept' })
})

test('prefetch never starts a login when nobody is logged in', async () => {
  const env = installWx()
  const srv = server()
  expect(await prefetchSubscriptions()).toBeNull()
  expect(srv.calls).toHaveLength(0)
  expect(env.login).not.toHaveBeenCalled()
})

test.each([
  ['the person refuses or closes the dialog', () => 'fail', () => ({ status: 200, body: LIST })],
  ['the list cannot be loaded', () => ({}), () => ({ status: 503, body: errorBody('service_unavailable', '服务暂时不可用') })],
  ['the network is down', () => ({}), () => ({ fail: 'timeout' })],
])('%s: resolves null, shows nothing, posts nothing', async (_, answer, list) => {
  const env = installWx({ storage: LOGGED_IN })
  const srv = server({ list })
  subscribeDialog(answer)

  const result = await askToSubscribe(['meeting_notice'])

  expect(result).toBeNull()
  expect(srv.calls.filter(c => c.method === 'POST')).toHaveLength(0)
  expect(env.toast).not.toHaveBeenCalled()
})

test('a failing report of the answer still resolves, silently', async () => {
  const env = installWx({ storage: LOGGED_IN })
  server({ post: () => ({ status: 422, body: errorBody('validation_failed', '提交的内容不符合要求') }) })
  await prefetchSubscriptions()
  subscribeDialog(() => ({ T_MEET: 'accept' }))

  await expect(askToSubscribe(['meeting_notice'])).resolves.toEqual(expect.objectContaining({ T_MEET: 'accept' }))
  expect(env.toast).not.toHaveBeenCalled()
})

test('a dialog that throws or an old WeChat without the API does not fail the tap', async () => {
  installWx({ storage: LOGGED_IN })
  server()
  await prefetchSubscriptions()
  jest.spyOn(wx, 'requestSubscribeMessage').mockImplementation(() => { throw new Error('not supported') })
  await expect(askToSubscribe(['meeting_notice'])).resolves.toBeNull()

  const original = wx.requestSubscribeMessage
  wx.requestSubscribeMessage = undefined
  try {
    await expect(askToSubscribe(['meeting_notice'])).resolves.toBeNull()
  } finally {
    wx.requestSubscribeMessage = original
  }
})

test('nothing to ask (long-term consent given, kind without template): no dialog', async () => {
  installWx({ storage: LOGGED_IN })
  server()
  await prefetchSubscriptions()
  const dialog = subscribeDialog(() => ({}))
  await expect(askToSubscribe(['reminder', 'chat_reply'])).resolves.toBeNull()
  expect(dialog).not.toHaveBeenCalled()
})
