const path = require('path')
const simulate = require('miniprogram-simulate')
const { installWx, fakeServer, errorBody, renderPage, textOf, byClass, waitFor } = require('../helpers/wx')

const LOGGED_IN = { 'auth.token': 'tok-1', 'auth.expires_at': '2099-01-01T00:00:00Z' }
const REVIEWS = '/api/me/reviews'
const INBOX = '/api/me/opinion-inbox'
const SCOPE_LABELS = { local: '本级可解决', county: '需县（区）解决', city: '需市级解决' }

// app/topics/schemas.py ReviewItem / ReviewList
function reviewItem(step_id, topic_id, topic_title, kind, kind_label, due_on) {
  return { step_id, topic_id, topic_title, platform_id: 11, kind, kind_label, body_id: 30, due_on }
}
const REVIEW_LIST = { items: [
  reviewItem(71, 9, '老旧小区加装电梯', 'vet', '把关', '2026-12-05'),
  reviewItem(72, 10, '菜市场周边停车难', 'approve', '审定', null),
] }

// app/topics/schemas.py TopicOut with its StepOut list
const TOPIC_9 = {
  id: 9, platform_id: 11, title: '老旧小区加装电梯', description: '小区 6 栋楼无电梯，老人上下楼困难。',
  category: 'major', category_label: '要事', source: 'suggestion', source_label: '居民建议',
  state: 'in_review', state_label: '审核中', approval_round: 2, approved_at: null,
  created_at: '2026-11-20T02:00:00Z',
  steps: [
    { id: 60, round: 1, seq: 1, kind: 'vet', kind_label: '把关', body_id: 30, body_name: '前进镇党委', state: 'returned', state_label: '已退回', due_on: '2026-11-25', acted_at: '2026-11-21T02:00:00Z', note: '请补充费用分摊' },
    { id: 71, round: 2, seq: 1, kind: 'vet', kind_label: '把关', body_id: 30, body_name: '前进镇党委', state: 'pending', state_label: '待审核', due_on: '2026-12-05', acted_at: null, note: null },
    { id: 72, round: 2, seq: 2, kind: 'file', kind_label: '备案', body_id: 31, body_name: '区政协', state: 'waiting', state_label: '未开始', due_on: null, acted_at: null, note: null },
  ],
}

// app/consultations/schemas.py InboxEntry / RoutingOut / OpinionItemOut
function routingOut(id, scope, action, body_name, stage = 1) {
  return {
    id, scope, scope_label: SCOPE_LABELS[scope], stage, action, body_id: 40 + id, body_name,
    state: 'pending', state_label: '待处理', decided_at: null, note: null,
  }
}
function itemOut(seq, text, raised_by, raised_by_label, scope) {
  return { seq, text, raised_by, raised_by_label, raised_by_person_id: null, scope, scope_label: SCOPE_LABELS[scope] }
}
const INBOX_LIST = { items: [
  {
    routing: routingOut(3, 'city', 'review', '市政协党组'), consultation_id: 5, title: '老旧小区加装电梯协商意见',
    platform_name: '新浦街道“有事好商量”协商议事室', items: [itemOut(2, '申请市级加装补贴', 'member', '政协委员', 'city')],
  },
  {
    routing: routingOut(1, 'local', 'receive', '前进镇党委'), consultation_id: 6, title: '菜市场停车协商意见',
    platform_name: '前进镇协商议事室',
    items: [itemOut(1, '划定临时停车位', 'resident', '群众代表', 'local'), itemOut(2, '错峰开放机关停车场', 'official', '党政领导', 'local')],
  },
] }
const EMPTY = { items: [] }

let pageId
beforeAll(() => {
  pageId = simulate.load(path.join(__dirname, '../../pages/review/review'))
})

// Lists are served from `state`, so a test can change them after an action.
function reviewServer(state, { approve, ret, decision, topic } = {}) {
  return fakeServer(req => {
    if (req.method === 'GET' && req.path === REVIEWS) return state.reviews
    if (req.method === 'GET' && req.path === INBOX) return state.inbox
    if (req.method === 'GET' && req.path === '/api/topics/9') return topic || { status: 200, body: TOPIC_9 }
    if (req.method === 'POST' && /^\/api\/topics\/\d+\/steps\/\d+\/approve$/.test(req.path)) return approve(req)
    if (req.method === 'POST' && /^\/api\/topics\/\d+\/steps\/\d+\/return$/.test(req.path)) return ret(req)
    if (req.method === 'POST' && /^\/api\/opinion-routings\/\d+\/decision$/.test(req.path)) return decision(req)
    return undefined
  })
}
const ok = body => ({ status: 200, body })
const full = () => ({ reviews: ok(REVIEW_LIST), inbox: ok(INBOX_LIST) })

const tap = node => node.dispatchEvent('tap')
const nth = (page, cls, n) => page.querySelectorAll(`.${cls}`)[n]
const posts = server => server.calls.filter(c => c.method === 'POST')
const gets = server => server.calls.filter(c => c.method === 'GET').map(c => c.path)
async function type(node, value) {
  node.dispatchEvent('input', { detail: { value } })
  await simulate.sleep(0)
}

test('nothing to do (403 for a non-reviewer, an empty inbox) shows 暂无待办', async () => {
  installWx({ storage: LOGGED_IN })
  const server = reviewServer({ reviews: { status: 403, body: errorBody('forbidden', '您没有权限进行此操作') }, inbox: ok(EMPTY) })
  const page = renderPage(simulate, pageId)
  await page.instance.onLoad({})
  expect(textOf(page)).toBe('暂无待办 逐条研究意见、交办和延期申请')
  expect(gets(server).sort()).toEqual([INBOX, REVIEWS])
  expect(server.calls[0].header.Authorization).toBe('Bearer tok-1')
})

test('both lists render: topic, step label and due date; opinion lists with platform, scope, action and items', async () => {
  installWx({ storage: LOGGED_IN })
  reviewServer(full())
  const page = renderPage(simulate, pageId)
  await page.instance.onLoad({})
  expect(byClass(page, 'review').map(textOf)).toEqual([
    '老旧小区加装电梯 待办环节：把关 办理期限：2026年12月5日 查看议题内容 审核通过 退回修改',
    '菜市场周边停车难 待办环节：审定 查看议题内容 审核通过 退回修改',
  ])
  expect(byClass(page, 'opinion').map(textOf)).toEqual([
    '老旧小区加装电梯协商意见 新浦街道“有事好商量”协商议事室 需市级解决 · 审核 2. 申请市级加装补贴 政协委员提出 · 需市级解决 转送 暂不转送',
    '菜市场停车协商意见 前进镇协商议事室 本级可解决 · 接收 1. 划定临时停车位 群众代表提出 · 本级可解决 2. 错峰开放机关停车场 党政领导提出 · 本级可解决 确认收到 逐条研究',
  ])
  expect(textOf(page)).not.toContain('暂无待办')
})

test('the topic text is read with GET /api/topics/<id> and shown before deciding; 404 shows the message', async () => {
  installWx({ storage: LOGGED_IN })
  const server = reviewServer(full())
  const page = renderPage(simulate, pageId)
  await page.instance.onLoad({})
  tap(nth(page, 'detail-btn', 0))
  await waitFor(() => page.querySelector('.description'))
  expect(textOf(page.querySelector('.detail'))).toBe(
    '类别：要事 · 来源：居民建议 小区 6 栋楼无电梯，老人上下楼困难。 前进镇党委把关：待审核 区政协备案：未开始',
  )
  expect(textOf(nth(page, 'detail-btn', 0))).toBe('收起议题内容')
  // The second topic is not visible to this reviewer any more.
  tap(nth(page, 'detail-btn', 1))
  await waitFor(() => page.querySelector('.detail-error'))
  expect(textOf(page.querySelector('.detail-error'))).toBe('内容不存在或您无权查看')
  expect(gets(server)).toContain('/api/topics/10')
})

test('approve: confirmed, POST …/steps/<step>/approve with an empty body, then the lists are read again', async () => {
  const env = installWx({ storage: LOGGED_IN, modal: { confirm: true } })
  const state = full()
  const server = reviewServer(state, {
    approve: () => {
      state.reviews = ok({ items: [REVIEW_LIST.items[1]] })
      return ok(TOPIC_9)
    },
  })
  const page = renderPage(simulate, pageId)
  await page.instance.onLoad({})
  tap(nth(page, 'approve-btn', 0))
  await waitFor(() => env.toast.mock.calls.length > 0)
  await waitFor(() => byClass(page, 'review').length === 1)
  expect(env.showModal.mock.calls[0][0].content).toBe('确定通过“老旧小区加装电梯”的把关吗？')
  const [post] = posts(server)
  expect(post.path).toBe('/api/topics/9/steps/71/approve')
  expect(post.data).toEqual({})
  expect(post.header.Authorization).toBe('Bearer tok-1')
  expect(env.toastTitles()).toEqual(['已审核通过'])
  expect(gets(server).filter(p => p === REVIEWS)).toHaveLength(2)
  expect(textOf(page.querySelector('.review'))).toContain('菜市场周边停车难')
})

test('return without a reason is refused on the page, no modal and no request', async () => {
  const env = installWx({ storage: LOGGED_IN })
  const server = reviewServer(full())
  const page = renderPage(simulate, pageId)
  await page.instance.onLoad({})
  tap(nth(page, 'return-btn', 0))
  await simulate.sleep(0)
  await type(page.querySelector('.return-reason'), '   ')
  tap(page.querySelector('.confirm-return-btn'))
  await simulate.sleep(0)
  expect(textOf(page.querySelector('.item-error'))).toBe('请填写退回理由')
  expect(env.showModal).not.toHaveBeenCalled()
  expect(posts(server)).toHaveLength(0)
})

test('return with a reason: POST …/return {note} after confirming', async () => {
  const env = installWx({ storage: LOGGED_IN, modal: { confirm: true } })
  const state = full()
  const server = reviewServer(state, { ret: () => { state.reviews = ok(EMPTY); return ok(TOPIC_9) } })
  const page = renderPage(simulate, pageId)
  await page.instance.onLoad({})
  tap(nth(page, 'return-btn', 1))
  await simulate.sleep(0)
  await type(page.querySelector('.return-reason'), ' 请补充停车位数量测算 ')
  tap(page.querySelector('.confirm-return-btn'))
  await waitFor(() => env.toast.mock.calls.length > 0)
  await waitFor(() => !page.querySelector('.review'))
  expect(env.showModal.mock.calls[0][0].content).toBe('确定退回“菜市场周边停车难”吗？退回理由会告知提交人。')
  const [post] = posts(server)
  expect(post.path).toBe('/api/topics/10/steps/72/return')
  expect(post.data).toEqual({ note: '请补充停车位数量测算' })
  expect(env.toastTitles()).toEqual(['已退回修改'])
})

test('a party group forwards: POST decision {forward: true}', async () => {
  const env = installWx({ storage: LOGGED_IN, modal: { confirm: true } })
  const server = reviewServer(full(), { decision: () => ok({ ...routingOut(3, 'city', 'review', '市政协党组'), state: 'forwarded', state_label: '已转送' }) })
  const page = renderPage(simulate, pageId)
  await page.instance.onLoad({})
  tap(page.querySelector('.forward-btn'))
  await waitFor(() => env.toast.mock.calls.length > 0)
  expect(env.showModal.mock.calls[0][0].content).toBe('确定把“老旧小区加装电梯协商意见”的意见（需市级解决）转送党委、政府吗？')
  const [post] = posts(server)
  expect(post.path).toBe('/api/opinion-routings/3/decision')
  expect(post.data).toEqual({ forward: true })
  expect(env.toastTitles()).toEqual(['已转送'])
  await waitFor(() => gets(server).filter(p => p === INBOX).length === 2)
})

test('holding back needs a reason: refused without one, then POST {forward: false, note}', async () => {
  const env = installWx({ storage: LOGGED_IN, modal: { confirm: true } })
  const server = reviewServer(full(), { decision: () => ok({ ...routingOut(3, 'city', 'review', '市政协党组'), state: 'held_back', state_label: '暂不转送' }) })
  const page = renderPage(simulate, pageId)
  await page.instance.onLoad({})
  tap(page.querySelector('.hold-btn'))
  await simulate.sleep(0)
  tap(page.querySelector('.confirm-hold-btn'))
  await simulate.sleep(0)
  expect(textOf(page.querySelector('.opinion .item-error'))).toBe('请说明暂不转送的理由')
  expect(env.showModal).not.toHaveBeenCalled()
  expect(posts(server)).toHaveLength(0)

  await type(page.querySelector('.hold-reason'), '已纳入明年民生实事，暂不转送')
  expect(page.querySelector('.opinion .item-error')).toBeFalsy()
  tap(page.querySelector('.confirm-hold-btn'))
  await waitFor(() => env.toast.mock.calls.length > 0)
  const [post] = posts(server)
  expect(post.path).toBe('/api/opinion-routings/3/decision')
  expect(post.data).toEqual({ forward: false, note: '已纳入明年民生实事，暂不转送' })
  expect(env.toastTitles()).toEqual(['已暂不转送'])
})

test('a receiving body acknowledges: POST decision for its routing', async () => {
  const env = installWx({ storage: LOGGED_IN, modal: { confirm: true } })
  const server = reviewServer(full(), { decision: () => ok({ ...routingOut(1, 'local', 'receive', '前进镇党委'), state: 'received', state_label: '已接收' }) })
  const page = renderPage(simulate, pageId)
  await page.instance.onLoad({})
  tap(page.querySelector('.ack-btn'))
  await waitFor(() => env.toast.mock.calls.length > 0)
  expect(env.showModal.mock.calls[0][0].content).toBe('确认已收到“菜市场停车协商意见”的意见清单吗？')
  const [post] = posts(server)
  expect(post.path).toBe('/api/opinion-routings/1/decision')
  expect(post.data).toEqual({ forward: true })
  expect(env.toastTitles()).toEqual(['已确认收到'])
})

test('cancelling in the modal sends nothing (approve, forward, acknowledge, return)', async () => {
  const env = installWx({ storage: LOGGED_IN, modal: { confirm: false } })
  const server = reviewServer(full())
  const page = renderPage(simulate, pageId)
  await page.instance.onLoad({})
  for (const cls of ['approve-btn', 'forward-btn', 'ack-btn']) {
    tap(page.querySelector(`.${cls}`))
    await simulate.sleep(10)
  }
  tap(nth(page, 'return-btn', 0))
  await simulate.sleep(0)
  await type(page.querySelector('.return-reason'), '理由')
  tap(page.querySelector('.confirm-return-btn'))
  await simulate.sleep(10)
  expect(env.showModal).toHaveBeenCalledTimes(4)
  expect(posts(server)).toHaveLength(0)
})

test('409 routing_decided shows the server message and reads the lists again', async () => {
  const env = installWx({ storage: LOGGED_IN, modal: { confirm: true } })
  const state = full()
  const server = reviewServer(state, {
    decision: () => {
      state.inbox = ok({ items: [INBOX_LIST.items[1]] })
      return { status: 409, body: errorBody('routing_decided', '该意见清单已处理') }
    },
  })
  const page = renderPage(simulate, pageId)
  await page.instance.onLoad({})
  tap(page.querySelector('.forward-btn'))
  await waitFor(() => page.querySelector('.notice'))
  await waitFor(() => byClass(page, 'opinion').length === 1)
  expect(textOf(page.querySelector('.notice'))).toBe('该意见清单已处理')
  expect(env.toastTitles()).toEqual(['该意见清单已处理'])
  expect(gets(server).filter(p => p === INBOX)).toHaveLength(2)
})

test('403 not_step_reviewer is shown on the item; 404 step_not_found refreshes the list', async () => {
  installWx({ storage: LOGGED_IN, modal: { confirm: true } })
  const state = full()
  let n = 0
  const server = reviewServer(state, {
    approve: () => {
      n += 1
      if (n === 1) return { status: 403, body: errorBody('not_step_reviewer', '该环节应由前进镇党委审核，您无权办理') }
      state.reviews = ok(EMPTY)
      state.inbox = ok(EMPTY)
      return { status: 404, body: errorBody('step_not_found', '该审核环节不存在') }
    },
  })
  const page = renderPage(simulate, pageId)
  await page.instance.onLoad({})
  tap(nth(page, 'approve-btn', 0))
  await waitFor(() => page.querySelector('.item-error'))
  expect(textOf(page.querySelector('.review .item-error'))).toBe('该环节应由前进镇党委审核，您无权办理')
  expect(gets(server).filter(p => p === REVIEWS)).toHaveLength(1)

  tap(nth(page, 'approve-btn', 0))
  await waitFor(() => page.querySelector('.notice'))
  await waitFor(() => !page.querySelector('.review'))
  expect(textOf(page)).toBe('该审核环节不存在 暂无待办 逐条研究意见、交办和延期申请')
})

test('a failed load shows the message and 重新加载 reads again', async () => {
  installWx({ storage: LOGGED_IN })
  const state = { reviews: ok(REVIEW_LIST), inbox: { fail: 'timeout' } }
  reviewServer(state)
  const page = renderPage(simulate, pageId)
  await page.instance.onLoad({})
  expect(textOf(page)).toBe('网络不佳，请稍后重试 重新加载')
  state.inbox = ok(EMPTY)
  tap(page.querySelector('.retry-btn'))
  await waitFor(() => page.querySelector('.review'))
  expect(byClass(page, 'review')).toHaveLength(2)
})

test('逐条研究 opens the received list item by item (pages/item-decide)', async () => {
  const env = installWx({ storage: LOGGED_IN })
  reviewServer(full())
  const page = renderPage(simulate, pageId)
  await page.instance.onLoad({})
  expect(page.querySelectorAll('.items-btn').length).toBe(1) // the receiving copy only
  tap(nth(page, 'items-btn', 0))
  await simulate.sleep(0)
  expect(env.navigateTo).toHaveBeenCalledWith({ url: '/pages/item-decide/item-decide?routing=1' })
})

test('the button under the lists opens every item of my bodies (pages/item-decide)', async () => {
  const env = installWx({ storage: LOGGED_IN })
  reviewServer({ reviews: ok(EMPTY), inbox: ok(EMPTY) })
  const page = renderPage(simulate, pageId)
  await page.instance.onLoad({})
  tap(page.querySelector('.queue-btn'))
  await simulate.sleep(0)
  expect(env.navigateTo).toHaveBeenCalledWith({ url: '/pages/item-decide/item-decide' })
})
