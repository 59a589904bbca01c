const path = require('path')
const simulate = require('miniprogram-simulate')
const { installWx, fakeServer, errorBody, renderPage, textOf, byClass, waitFor } = require('../helpers/wx')

const BASE = 'http://127.0.0.1:5000'
const LOGGED_IN = { 'auth.token': 'tok-1', 'auth.expires_at': '2099-01-01T00:00:00Z' }
const KEY_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

// Shaped like app/suggestions/schemas.py SuggestionOut.
function detail(overrides = {}) {
  return {
    id: 41, title: '小区停车位太少', description: '晚上回来找不到车位，\n消防通道经常被占。',
    category: 'livelihood', category_label: '实事', source: 'proposed', source_label: '群众出题',
    state: 'open', state_label: '征集中',
    platform: { id: 11, name: '新浦街道“有事好商量”协商议事室' },
    proposer: '张**', assigned_by: null, campaign: null,
    address: '人民路 12 号附近', latitude: 34.6, longitude: 119.2,
    vote_count: 12, comment_count: 3, follower_count: 5,
    attachments: [
      { id: 7, url: '/api/uploads/no2GLgO4vLZNS3QaykFXET4W0kny8RhtY9QQNvHKV8M', content_type: 'image/jpeg', width: 1280, height: 960 },
      { id: 8, url: '/api/uploads/Zx81kqLmN0pQ2rStUvWxYz0123456789abcdEFGHij', content_type: 'image/png', width: 800, height: 600 },
    ],
    created_at: '2026-11-27T02:01:19.853404Z', last_activity_at: '2026-11-28T02:00:00Z',
    decline_reason: null, topic_id: null,
    is_mine: false, voted_by_me: false, followed_by_me: false, notice: null, moderation_note: null,
    ...overrides,
  }
}

// app/suggestions/comment_routes.py CommentOut / ThreadOut / CommentPage
function comment(id, body, { parent = null, author = '李*', badge = null, mine = false, state = 'visible' } = {}) {
  return {
    id, parent_id: parent, body, author, author_badge: badge, is_mine: mine, state,
    state_label: state === 'held' ? '审核中' : '已公开', notice: state === 'held' ? '已提交，审核通过后公开' : null,
    created_at: '2026-11-28T01:30:00Z',
  }
}
function thread(c, replies = [], { total, more = false } = {}) {
  return { ...c, replies, reply_count: total === undefined ? replies.length : total, has_more_replies: more }
}
const THREADS = [
  thread(comment(102, '同意，晚上根本停不下', { author: '赵**' }), [
    comment(103, '已经和物业反映了', { parent: 102, author: '王**', badge: '召集人' }),
    comment(104, '物业说要开会研究', { parent: 102, author: '钱*' }),
  ]),
  thread(comment(101, '我家楼下也一样', { author: '孙**', mine: true })),
]
function commentPage(overrides = {}) {
  return { suggestion_id: 41, comment_count: 3, is_open: true, items: THREADS, next_cursor: null, ...overrides }
}
// app/suggestions/trail_routes.py TimelineOut
const TIMELINE = {
  subject: 'suggestion', id: 41, title: '小区停车位太少', state: 'open', state_label: '征集中', topic_id: null,
  follower_count: 5, following: false,
  items: [{ at: '2026-11-27T02:01:20Z', kind: 'published', text: '建议已公开，欢迎支持和评论' }],
}

let pageId
beforeAll(() => {
  pageId = simulate.load(path.join(__dirname, '../../pages/suggestion/suggestion'))
})

/** Routes the detail, timeline and comments; `extra(req)` answers anything else first. */
function detailServer({ body = detail(), comments = commentPage(), timeline = TIMELINE, extra } = {}) {
  return fakeServer(req => {
    const own = extra && extra(req)
    if (own) return own
    if (req.method === 'GET' && req.path === '/api/suggestions/41') return { status: 200, body }
    if (req.method === 'GET' && req.path === '/api/suggestions/41/timeline') return { status: 200, body: timeline }
    if (req.method === 'GET' && req.path === '/api/suggestions/41/comments') return { status: 200, body: comments }
    return undefined
  })
}

async function open(page) {
  await page.instance.onLoad({ id: '41' })
}

test('shows the suggestion: text, photos, category, state, supporters, timeline and the thread', async () => {
  const env = installWx({ storage: LOGGED_IN })
  const server = detailServer()
  const page = renderPage(simulate, pageId)

  await open(page)

  expect(server.calls.map(c => `${c.method} ${c.path}`).sort()).toEqual([
    'GET /api/suggestions/41', 'GET /api/suggestions/41/comments', 'GET /api/suggestions/41/timeline',
  ])
  expect(server.calls[0].header.Authorization).toBe('Bearer tok-1')
  const text = textOf(page)
  expect(text).toContain('小区停车位太少 实事 征集中')
  expect(text).toContain('提出人 张** （群众出题）')
  expect(text).toContain('平台 新浦街道“有事好商量”协商议事室')
  expect(text).toContain('时间 2026年11月27日 10:01')
  expect(textOf(page.querySelector('.description'))).toBe('晚上回来找不到车位， 消防通道经常被占。')
  expect(text).toContain('位置 人民路 12 号附近')
  expect(textOf(page.querySelector('.support'))).toBe('12 人支持 支持 关注')
  expect(textOf(page.querySelector('.timeline'))).toBe('办理进展 2026年11月27日 10:01 建议已公开，欢迎支持和评论')
  expect(text).toContain('评论（3）')
  expect(byClass(page, 'comment-body').map(textOf)).toEqual(['同意，晚上根本停不下', '已经和物业反映了', '物业说要开会研究', '我家楼下也一样'])
  expect(byClass(page, 'reply').map(textOf)).toEqual([
    '王** 召集人 已经和物业反映了 2026年11月28日 09:30 回复 举报',
    '钱* 物业说要开会研究 2026年11月28日 09:30 回复 举报',
  ])
  // Others' comments can be reported; one's own cannot.
  expect(byClass(page, 'report-link')).toHaveLength(3)
  const photos = page.querySelectorAll('.photo')
  expect(photos.map(p => p.toJSON().attrs.find(a => a.name === 'src').value)).toEqual([
    `${BASE}/api/uploads/no2GLgO4vLZNS3QaykFXET4W0kny8RhtY9QQNvHKV8M`,
    `${BASE}/api/uploads/Zx81kqLmN0pQ2rStUvWxYz0123456789abcdEFGHij`,
  ])
  expect(env.toast).not.toHaveBeenCalled()
})

test('tapping a photo previews it among all the photos', async () => {
  const env = installWx()
  detailServer()
  const page = renderPage(simulate, pageId)
  await open(page)

  page.querySelectorAll('.photo')[1].dispatchEvent('tap')
  await simulate.sleep(0)

  expect(env.previewImage).toHaveBeenCalledWith({
    current: `${BASE}/api/uploads/Zx81kqLmN0pQ2rStUvWxYz0123456789abcdEFGHij`,
    urls: [
      `${BASE}/api/uploads/no2GLgO4vLZNS3QaykFXET4W0kny8RhtY9QQNvHKV8M`,
      `${BASE}/api/uploads/Zx81kqLmN0pQ2rStUvWxYz0123456789abcdEFGHij`,
    ],
  })
})

test('支持 then 取消: POST and DELETE /vote, one new Idempotency-Key per action', async () => {
  const env = installWx({ storage: LOGGED_IN })
  const server = detailServer({
    extra: req => {
      if (req.path !== '/api/suggestions/41/vote') return undefined
      return req.method === 'POST'
        ? { status: 201, body: { voted: true, vote_count: 13 } }
        : { status: 200, body: { voted: false, vote_count: 12 } }
    },
  })
  const page = renderPage(simulate, pageId)
  await open(page)

  page.querySelector('.vote-btn').dispatchEvent('tap')
  await waitFor(() => textOf(page.querySelector('.support')).includes('13 人支持'))
  expect(textOf(page.querySelector('.support'))).toBe('13 人支持 已支持（点击取消） 取消关注 您已关注，这条建议有进展时会通知您。')

  page.querySelector('.vote-btn').dispatchEvent('tap')
  await waitFor(() => textOf(page.querySelector('.support')).includes('12 人支持'))
  expect(textOf(page.querySelector('.vote-btn'))).toBe('支持')

  const votes = server.to('/api/suggestions/41/vote')
  expect(votes.map(v => v.method)).toEqual(['POST', 'DELETE'])
  expect(votes[0].header.Authorization).toBe('Bearer tok-1')
  expect(votes[0].header['Idempotency-Key']).toMatch(KEY_RE)
  expect(votes[1].header['Idempotency-Key']).toMatch(KEY_RE)
  expect(votes[1].header['Idempotency-Key']).not.toBe(votes[0].header['Idempotency-Key'])
  expect(env.toastTitles()).toEqual(['感谢您的支持', '已取消支持'])
})

test('a vote lost to the network is retried with the same Idempotency-Key', async () => {
  const env = installWx({ storage: LOGGED_IN })
  let online = false
  const server = detailServer({
    extra: req => {
      if (req.path !== '/api/suggestions/41/vote') return undefined
      return online ? { status: 201, body: { voted: true, vote_count: 13 } } : { fail: 'timeout' }
    },
  })
  const page = renderPage(simulate, pageId)
  await open(page)

  await page.instance.onVote()
  expect(env.toastTitles()).toEqual(['网络不佳，请稍后重试'])
  expect(textOf(page.querySelector('.vote-error'))).toBe('网络不佳，请稍后重试')
  expect(textOf(page.querySelector('.vote-btn'))).toBe('支持')

  online = true
  await page.instance.onVote()
  const [first, retry] = server.to('/api/suggestions/41/vote')
  expect(retry.method).toBe('POST')
  expect(retry.header['Idempotency-Key']).toBe(first.header['Idempotency-Key'])
  expect(textOf(page.querySelector('.support'))).toContain('13 人支持 已支持（点击取消）')
  expect(page.querySelector('.vote-error')).toBeFalsy()
})

test('an expired login is renewed and the vote sent again with the same key', async () => {
  installWx({ storage: { 'auth.token': 'old-token' } })
  const server = detailServer({
    extra: req => {
      if (req.path === '/api/auth/wx-login') {
        return { status: 200, body: { token: 'tok-2', expires_at: '2099-01-01T00:00:00Z', is_new: false, person: { id: 9, name: '周**', roles: [] } } }
      }
      if (req.path !== '/api/suggestions/41/vote') return undefined
      return req.header.Authorization === 'Bearer tok-2'
        ? { status: 201, body: { voted: true, vote_count: 13 } }
        : { status: 401, body: errorBody('unauthorized', '请先登录') }
    },
  })
  const page = renderPage(simulate, pageId)
  await open(page)

  await page.instance.onVote()

  const votes = server.to('/api/suggestions/41/vote')
  expect(votes.map(v => v.header.Authorization)).toEqual(['Bearer old-token', 'Bearer tok-2'])
  expect(votes[1].header['Idempotency-Key']).toBe(votes[0].header['Idempotency-Key'])
  expect(textOf(page.querySelector('.support'))).toContain('13 人支持 已支持（点击取消）')
})

test("409 vote_closed: the server's message, and no more 支持 button", async () => {
  const env = installWx({ storage: LOGGED_IN })
  detailServer({
    extra: req => (req.path === '/api/suggestions/41/vote'
      ? { status: 409, body: errorBody('vote_closed', '该建议已结束征集') }
      : undefined),
  })
  const page = renderPage(simulate, pageId)
  await open(page)

  await page.instance.onVote()

  expect(env.toastTitles()).toEqual(['该建议已结束征集'])
  expect(textOf(page.querySelector('.support'))).toBe('12 人支持 征集已结束，不能再支持 该建议已结束征集 关注')
  expect(page.querySelector('.vote-btn')).toBeFalsy()
})

test('关注 / 取消关注 follow and unfollow the suggestion', async () => {
  const env = installWx({ storage: LOGGED_IN })
  const server = detailServer({
    extra: req => {
      if (req.path !== '/api/suggestions/41/follow') return undefined
      return req.method === 'POST'
        ? { status: 200, body: { following: true, changed: true, follower_count: 6 } }
        : { status: 200, body: { following: false, changed: true, follower_count: 5 } }
    },
  })
  const page = renderPage(simulate, pageId)
  await open(page)

  page.querySelector('.follow-btn').dispatchEvent('tap')
  await waitFor(() => textOf(page.querySelector('.follow-btn')) === '取消关注')
  expect(textOf(page)).toContain('您已关注，这条建议有进展时会通知您。')

  await page.instance.onFollow()
  expect(textOf(page.querySelector('.follow-btn'))).toBe('关注')
  expect(server.to('/api/suggestions/41/follow').map(c => c.method)).toEqual(['POST', 'DELETE'])
  expect(env.toastTitles()).toEqual(['已关注，有进展会通知您', '已取消关注'])
})

test('posting a comment: POST /comments with an Idempotency-Key; it appears at the top', async () => {
  const env = installWx({ storage: LOGGED_IN })
  const server = detailServer({
    extra: req => (req.method === 'POST' && req.path === '/api/suggestions/41/comments'
      ? { status: 201, body: { comment: comment(105, '支持增加车位', { author: '周**', mine: true }), comment_count: 4 } }
      : undefined),
  })
  const page = renderPage(simulate, pageId)
  await open(page)

  page.querySelector('.comment-input').dispatchEvent('input', { detail: { value: '  支持增加车位 ' } })
  await simulate.sleep(0)
  page.querySelector('.send-btn').dispatchEvent('tap')
  await waitFor(() => env.toast.mock.calls.length > 0)

  const [post] = server.to('/api/suggestions/41/comments').filter(c => c.method === 'POST')
  expect(post.data).toEqual({ body: '支持增加车位' })
  expect(post.header['Idempotency-Key']).toMatch(KEY_RE)
  expect(env.toastTitles()).toEqual(['评论已发表'])
  expect(textOf(page)).toContain('评论（4）')
  expect(byClass(page, 'comment-body').map(textOf)[0]).toBe('支持增加车位')
  expect(page.instance.data.draft).toBe('')
})

test('a reply to a reply is filed under its top-level comment', async () => {
  const env = installWx({ storage: LOGGED_IN })
  const server = detailServer({
    extra: req => (req.method === 'POST' && req.path === '/api/suggestions/41/comments'
      ? { status: 201, body: { comment: comment(106, '回复 钱*：下周开会', { parent: 102, author: '周**', mine: true }), comment_count: 4 } }
      : undefined),
  })
  const page = renderPage(simulate, pageId)
  await open(page)

  const replyLinks = page.querySelectorAll('.reply-link')
  replyLinks[2].dispatchEvent('tap') // 钱*'s reply (the thread's second reply)
  await simulate.sleep(0)
  expect(textOf(page.querySelector('.reply-to'))).toBe('回复 钱*： 取消回复')
  expect(textOf(page.querySelector('.send-btn'))).toBe('发表回复')

  await page.instance.onDraftInput({ detail: { value: '回复 钱*：下周开会' } })
  await page.instance.onSendComment()

  const [post] = server.to('/api/suggestions/41/comments').filter(c => c.method === 'POST')
  expect(post.data).toEqual({ body: '回复 钱*：下周开会', parent_id: 104 })
  const firstThread = page.querySelectorAll('.thread')[0]
  expect(textOf(firstThread)).toContain('已经和物业反映了')
  expect(textOf(firstThread)).toContain('回复 钱*：下周开会')
  expect(page.querySelector('.reply-to')).toBeFalsy()
  expect(env.toastTitles()).toEqual(['评论已发表'])
})

test('a comment held for review is shown to its author as 审核中 with the notice', async () => {
  installWx({ storage: LOGGED_IN })
  detailServer({
    extra: req => (req.method === 'POST' && req.path === '/api/suggestions/41/comments'
      ? { status: 201, body: { comment: comment(107, '请联系 13800000000', { author: '周**', mine: true, state: 'held' }), comment_count: 3 } }
      : undefined),
  })
  const page = renderPage(simulate, pageId)
  await open(page)

  await page.instance.onDraftInput({ detail: { value: '请联系 13800000000' } })
  await page.instance.onSendComment()

  const first = page.querySelectorAll('.thread')[0]
  expect(textOf(first)).toContain('周** 审核中 请联系 13800000000 已提交，审核通过后公开')
  expect(textOf(first)).not.toContain('举报')
  expect(textOf(page.querySelector('.comment-notice'))).toBe('已提交，审核通过后公开')
  expect(textOf(page)).toContain('评论（3）')
})

test("a refused comment keeps the text and shows the server's message", async () => {
  const env = installWx({ storage: LOGGED_IN })
  detailServer({
    extra: req => (req.method === 'POST' && req.path === '/api/suggestions/41/comments'
      ? { status: 422, body: errorBody('content_risky', '内容含有不当信息，请修改后再提交') }
      : undefined),
  })
  const page = renderPage(simulate, pageId)
  await open(page)

  await page.instance.onDraftInput({ detail: { value: '一段不当的话' } })
  await page.instance.onSendComment()

  expect(textOf(page.querySelector('.comment-error'))).toBe('内容含有不当信息，请修改后再提交')
  expect(env.toastTitles()).toEqual(['内容含有不当信息，请修改后再提交'])
  expect(page.instance.data.draft).toBe('一段不当的话')
  expect(page.querySelector('.comment-input').toJSON().attrs).toContainEqual({ name: 'value', value: '一段不当的话' })
})

test('an empty comment is not sent', async () => {
  installWx({ storage: LOGGED_IN })
  const server = detailServer()
  const page = renderPage(simulate, pageId)
  await open(page)

  await page.instance.onSendComment()

  expect(server.calls.filter(c => c.method === 'POST')).toHaveLength(0)
  expect(textOf(page.querySelector('.comment-error'))).toBe('请先写下您的评论')
})

test('举报 asks for confirmation, sends the reason, and marks the comment 已举报', async () => {
  const env = installWx({ storage: LOGGED_IN, modal: { confirm: true, content: ' 人身攻击 ' } })
  const server = detailServer({
    extra: req => (req.path === '/api/comments/103/report'
      ? { status: 201, body: { comment_id: 103, reported: true, already_reported: false, message: '举报已收到，感谢您的监督' } }
      : undefined),
  })
  const page = renderPage(simulate, pageId)
  await open(page)

  page.querySelectorAll('.report-link')[1].dispatchEvent('tap') // 王**'s reply
  await waitFor(() => env.toast.mock.calls.length > 0)

  expect(env.showModal).toHaveBeenCalledTimes(1)
  expect(env.showModal.mock.calls[0][0]).toMatchObject({ title: '举报这条评论', confirmText: '举报', editable: true })
  const [report] = server.to('/api/comments/103/report')
  expect(report.method).toBe('POST')
  expect(report.data).toEqual({ reason: '人身攻击' })
  expect(env.toastTitles()).toEqual(['举报已收到，感谢您的监督'])
  expect(textOf(page.querySelectorAll('.reply')[0])).toContain('已举报')
  expect(byClass(page, 'report-link')).toHaveLength(2)
})

test('cancelling the report dialog sends nothing', async () => {
  const env = installWx({ storage: LOGGED_IN, modal: { confirm: false } })
  const server = detailServer()
  const page = renderPage(simulate, pageId)
  await open(page)

  await page.instance.onReport({ currentTarget: { dataset: { id: 102 } } })

  expect(env.showModal).toHaveBeenCalledTimes(1)
  expect(server.calls.filter(c => c.path.startsWith('/api/comments/'))).toHaveLength(0)
  expect(byClass(page, 'report-link')).toHaveLength(3)
})

test('"查看更多回复" loads the rest of a thread from the replies list', async () => {
  installWx()
  const many = commentPage({
    items: [thread(comment(102, '同意', { author: '赵**' }), [comment(103, '第一条回复', { parent: 102 })], { total: 3, more: true })],
  })
  const server = detailServer({
    comments: many,
    extra: req => (req.path === '/api/comments/102/replies'
      ? { status: 200, body: { comment_id: 102, items: [comment(103, '第一条回复', { parent: 102 }), comment(108, '第二条回复', { parent: 102 }), comment(109, '第三条回复', { parent: 102 })], next_cursor: null } }
      : undefined),
  })
  const page = renderPage(simulate, pageId)
  await open(page)
  expect(textOf(page.querySelector('.more-replies'))).toBe('查看更多回复（共 3 条）')

  page.querySelector('.more-replies').dispatchEvent('tap')
  await waitFor(() => page.querySelectorAll('.reply').length === 3)

  expect(server.to('/api/comments/102/replies')[0].query).toEqual({ limit: '50' })
  expect(byClass(page, 'reply').map(r => textOf(r.querySelector('.main--comment-body')))).toEqual(['第一条回复', '第二条回复', '第三条回复'])
  expect(page.querySelector('.more-replies')).toBeFalsy()
})

test('"加载更多评论" pages the thread list with next_cursor', async () => {
  installWx()
  const server = fakeServer(req => {
    if (req.path === '/api/suggestions/41') return { status: 200, body: detail() }
    if (req.path === '/api/suggestions/41/timeline') return { status: 200, body: TIMELINE }
    if (req.path === '/api/suggestions/41/comments') {
      return req.query.cursor === '102'
        ? { status: 200, body: commentPage({ items: [THREADS[1]], next_cursor: null }) }
        : { status: 200, body: commentPage({ items: [THREADS[0]], next_cursor: '102' }) }
    }
    return undefined
  })
  const page = renderPage(simulate, pageId)
  await open(page)
  expect(page.querySelectorAll('.thread')).toHaveLength(1)

  await page.instance.onMoreComments()

  expect(server.to('/api/suggestions/41/comments').map(c => c.query.cursor)).toEqual([undefined, '102'])
  expect(page.querySelectorAll('.thread')).toHaveLength(2)
  expect(page.querySelector('.more-comments')).toBeFalsy()
})

test('a declined suggestion: its reason, no 支持, comments read-only', async () => {
  installWx()
  detailServer({
    body: detail({ state: 'declined', state_label: '暂不采纳', decline_reason: '该路段已列入明年改造计划，届时统一解决。' }),
    comments: commentPage({ is_open: false }),
    timeline: { ...TIMELINE, state: 'declined', state_label: '暂不采纳', items: [...TIMELINE.items, { at: '2026-12-01T01:00:00Z', kind: 'declined', text: '暂不采纳：该路段已列入明年改造计划，届时统一解决。' }] },
  })
  const page = renderPage(simulate, pageId)
  await open(page)

  const text = textOf(page)
  expect(text).toContain('小区停车位太少 实事 暂不采纳')
  expect(textOf(page.querySelector('.decline'))).toBe('暂不采纳的理由 该路段已列入明年改造计划，届时统一解决。')
  expect(textOf(page.querySelector('.support'))).toBe('12 人支持 征集已结束，不能再支持 关注')
  expect(text).toContain('该建议已结束讨论，评论只能查看')
  expect(page.querySelector('.comment-input')).toBeFalsy()
  expect(page.querySelector('.reply-link')).toBeFalsy()
  expect(textOf(page.querySelector('.timeline'))).toContain('2026年12月1日 09:00 暂不采纳：该路段已列入明年改造计划，届时统一解决。')
})

test("the proposer's own held suggestion: the notice, and no public trail or thread requested", async () => {
  installWx({ storage: LOGGED_IN })
  const server = detailServer({
    body: detail({ state: 'held', state_label: '审核中', is_mine: true, notice: '已提交，审核通过后公开', vote_count: 0, comment_count: 0 }),
  })
  const page = renderPage(simulate, pageId)
  await open(page)

  expect(server.calls.map(c => c.path)).toEqual(['/api/suggestions/41'])
  const text = textOf(page)
  expect(text).toContain('小区停车位太少 实事 审核中 已提交，审核通过后公开')
  expect(page.querySelector('.support')).toBeFalsy()
  expect(page.querySelector('.comments')).toBeFalsy()
})

test("a missing suggestion shows the server's message and a retry", async () => {
  const env = installWx()
  fakeServer(() => ({ status: 404, body: errorBody('suggestion_not_found', '该建议不存在') }))
  const page = renderPage(simulate, pageId)

  await open(page)

  expect(textOf(page)).toBe('该建议不存在 重新加载')
  expect(env.toastTitles()).toEqual(['该建议不存在'])
})

test('a malformed id is not sent to the server', async () => {
  installWx()
  const server = detailServer()
  const page = renderPage(simulate, pageId)

  await page.instance.onLoad({ id: '41/vote' })

  expect(server.calls).toHaveLength(0)
  expect(textOf(page)).toBe('未找到该建议')
})

// --- result card (issue 11 item 7): a suggestion taken up links to its topic's public results ---

test('a suggestion taken up into an approved topic shows a result card that opens the results', async () => {
  const env = installWx()
  detailServer({ body: detail({ state: 'taken_up', state_label: '已列为议题', topic_id: 7, stage: 'handling', stage_label: '办理中', results_topic_id: 7 }) })
  const page = renderPage(simulate, pageId)
  await open(page)

  const card = page.querySelector('.result-card')
  expect(textOf(card)).toBe('协商办理结果 当前阶段： 办理中 这条建议已列为议题。调研、协商、每条意见的采纳和办理情况都在这里公开。 查看协商办理结果')
  page.querySelector('.results-btn').dispatchEvent('tap')
  await simulate.sleep(0)
  expect(env.navigateTo).toHaveBeenCalledWith({ url: '/pages/results/results?id=7' })
})

test('a topic still in approval: the card says results come after approval, with no link', async () => {
  installWx()
  detailServer({ body: detail({ state: 'taken_up', state_label: '已列为议题', topic_id: 7, stage: 'topic', stage_label: '已立题', results_topic_id: null }) })
  const page = renderPage(simulate, pageId)
  await open(page)
  expect(textOf(page.querySelector('.result-card'))).toBe('协商办理结果 当前阶段： 已立题 议题正在履行审核程序，审定后可在这里查看协商办理结果。')
  expect(page.querySelector('.results-btn')).toBeFalsy()
})

test('an open suggestion has no result card', async () => {
  installWx()
  detailServer({ body: detail({ stage: 'open', stage_label: '征集中' }) })
  const page = renderPage(simulate, pageId)
  await open(page)
  expect(page.querySelector('.result-card')).toBeFalsy()
})
