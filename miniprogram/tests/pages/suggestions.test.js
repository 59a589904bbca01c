const path = require('path')
const simulate = require('miniprogram-simulate')
const changes = require('../../utils/changes')
const { installWx, fakeServer, errorBody, renderPage, textOf, byClass, waitFor } = require('../helpers/wx')

const LABELS = { major: '要事', livelihood: '实事', difficulty: '难事' }

// Shaped like app/suggestions/listing.py SuggestionListItem.
function item(id, title, { category = 'livelihood', votes = 0, comments = 0, voted = null, proposer = '张**' } = {}) {
  return {
    id, title, category, category_label: LABELS[category], state: 'open', state_label: '征集中',
    platform_id: 11, platform_name: '新浦街道“有事好商量”协商议事室', proposer,
    vote_count: votes, comment_count: comments, cover_url: null, voted_by_me: voted,
    created_at: '2026-11-27T02:01:19.853404+00:00', last_activity_at: '2026-11-28T08:00:00+00:00',
  }
}

const PARKING = item(41, '小区停车位太少', { votes: 12, comments: 3, voted: true })
const LIGHT = item(40, '人民路路灯不亮', { category: 'major', votes: 5, voted: false, proposer: '李*' })
const RIVER = item(39, '河道垃圾没人清理', { category: 'difficulty', votes: 0, voted: false, proposer: '王**' })

let pageId
beforeAll(() => {
  pageId = simulate.load(path.join(__dirname, '../../pages/suggestions/suggestions'))
})

const LOGGED_IN = { 'auth.token': 'tok-1', 'auth.expires_at': '2099-01-01T00:00:00Z' }

// pages: { '<sort>:<cursor or first>': body or { status, body } }
function listServer(pages) {
  return fakeServer(req => {
    if (req.path !== '/api/suggestions') return undefined
    const page = pages[`${req.query.sort}:${req.query.cursor || 'first'}`]
    if (!page) return { status: 422, body: errorBody('invalid_cursor', '翻页参数无效，请从第一页重新加载') }
    return page.status ? page : { status: 200, body: page }
  })
}

test('lists the platform\'s suggestions: title, category, masked proposer, supporters, "已支持"', async () => {
  const env = installWx({ storage: LOGGED_IN })
  const server = listServer({ 'new:first': { items: [PARKING, LIGHT], next_cursor: null } })
  const page = renderPage(simulate, pageId)

  await page.instance.onLoad({ platform_id: '11' })

  expect(server.calls).toHaveLength(1)
  expect(server.calls[0].query).toEqual({ platform_id: '11', sort: 'new', limit: '20' })
  expect(server.calls[0].header.Authorization).toBe('Bearer tok-1') // for voted_by_me
  const cards = page.querySelectorAll('.suggestion')
  expect(cards.map(textOf)).toEqual([
    '小区停车位太少 实事 提出人：张** 12 人支持 已支持 3 条评论',
    '人民路路灯不亮 要事 提出人：李* 5 人支持',
  ])
  expect(byClass(page, 'tab').map(textOf)).toEqual(['最新', '支持最多', '最近活跃'])
  expect(byClass(page, 'tab-active').map(textOf)).toEqual(['最新'])
  expect(textOf(page)).toContain('已显示全部')
  expect(textOf(page)).not.toContain('加载更多')
  expect(env.toast).not.toHaveBeenCalled()
})

test('"加载更多" asks for the next page with next_cursor and the same sort', async () => {
  installWx()
  const server = listServer({
    'new:first': { items: [PARKING, LIGHT], next_cursor: 'WyJuZXciLG51bGwsNDBd' },
    'new:WyJuZXciLG51bGwsNDBd': { items: [RIVER], next_cursor: null },
  })
  const page = renderPage(simulate, pageId)
  await page.instance.onLoad({ platform_id: '11' })
  expect(textOf(page)).not.toContain('已显示全部')

  page.querySelector('.load-more').dispatchEvent('tap')
  await waitFor(() => page.querySelectorAll('.suggestion').length === 3)

  expect(server.calls).toHaveLength(2)
  expect(server.calls[1].query).toEqual({ platform_id: '11', sort: 'new', limit: '20', cursor: 'WyJuZXciLG51bGwsNDBd' })
  expect(byClass(page, 'item-title').map(textOf)).toEqual(['小区停车位太少', '人民路路灯不亮', '河道垃圾没人清理'])
  expect(textOf(page)).toContain('已显示全部')
  expect(page.querySelector('.load-more')).toBeFalsy()

  await page.instance.onReachBottom() // nothing more
  expect(server.calls).toHaveLength(2)
})

test('sort tabs reload from the first page in that order (a cursor belongs to its sort)', async () => {
  installWx()
  const server = listServer({
    'new:first': { items: [RIVER, LIGHT], next_cursor: 'bmV3' },
    'supported:first': { items: [PARKING, LIGHT], next_cursor: 'c3VwcG9ydGVk' },
    'supported:c3VwcG9ydGVk': { items: [RIVER], next_cursor: null },
    'active:first': { items: [LIGHT], next_cursor: null },
  })
  const page = renderPage(simulate, pageId)
  await page.instance.onLoad({ platform_id: '11' })

  page.querySelectorAll('.tab')[1].dispatchEvent('tap')
  await waitFor(() => server.calls.length === 2 && !page.instance.data.loading)
  expect(server.calls[1].query).toEqual({ platform_id: '11', sort: 'supported', limit: '20' })
  expect(byClass(page, 'tab-active').map(textOf)).toEqual(['支持最多'])
  expect(byClass(page, 'item-title').map(textOf)).toEqual(['小区停车位太少', '人民路路灯不亮'])

  await page.instance.loadMore()
  expect(server.calls[2].query).toEqual({ platform_id: '11', sort: 'supported', limit: '20', cursor: 'c3VwcG9ydGVk' })
  expect(byClass(page, 'item-title').map(textOf)).toEqual(['小区停车位太少', '人民路路灯不亮', '河道垃圾没人清理'])

  page.querySelectorAll('.tab')[2].dispatchEvent('tap')
  await waitFor(() => server.calls.length === 4 && !page.instance.data.loading)
  expect(server.calls[3].query).toEqual({ platform_id: '11', sort: 'active', limit: '20' })
  expect(byClass(page, 'item-title').map(textOf)).toEqual(['人民路路灯不亮'])

  // Tapping the current tab again does nothing.
  await page.instance.onSort({ currentTarget: { dataset: { sort: 'active' } } })
  expect(server.calls).toHaveLength(4)
})

test('a failed "加载更多" keeps the list and the button, and shows the server message', async () => {
  const env = installWx()
  listServer({ 'new:first': { items: [PARKING], next_cursor: 'stale' } })
  const page = renderPage(simulate, pageId)
  await page.instance.onLoad({ platform_id: '11' })

  await page.instance.loadMore()

  expect(env.toastTitles()).toEqual(['翻页参数无效，请从第一页重新加载'])
  expect(page.querySelectorAll('.suggestion')).toHaveLength(1)
  expect(textOf(page.querySelector('.load-more'))).toBe('加载更多')
})

test('empty list: an invitation to propose, which opens the form for this platform', async () => {
  const env = installWx()
  listServer({ 'new:first': { items: [], next_cursor: null } })
  const page = renderPage(simulate, pageId)
  await page.instance.onLoad({ platform_id: '11' })

  expect(textOf(page)).toBe('征集中 已立题 已协商 办理中 已办结 最新 支持最多 最近活跃 我要提建议 这里还没有居民建议，欢迎您提出第一条。')

  page.querySelector('.propose').dispatchEvent('tap')
  await simulate.sleep(0)
  expect(env.navigateTo.mock.calls[0][0].url).toBe('/pages/propose/propose?platform_id=11')
})

test('a failed load shows the message and a retry that works', async () => {
  const env = installWx()
  let fail = true
  fakeServer(() => (fail
    ? { status: 503, body: errorBody('service_unavailable', '服务暂时不可用，请稍后再试') }
    : { status: 200, body: { items: [LIGHT], next_cursor: null } }))
  const page = renderPage(simulate, pageId)

  await page.instance.onLoad({ platform_id: '11' })
  expect(textOf(page)).toBe('征集中 已立题 已协商 办理中 已办结 最新 支持最多 最近活跃 我要提建议 服务暂时不可用，请稍后再试 重新加载')
  expect(env.toastTitles()).toEqual(['服务暂时不可用，请稍后再试'])

  fail = false
  await page.instance.onRetry()
  expect(textOf(page)).toContain('人民路路灯不亮')
  expect(textOf(page)).not.toContain('重新加载')
})

test('tapping a suggestion opens its detail', async () => {
  const env = installWx()
  listServer({ 'new:first': { items: [PARKING, LIGHT], next_cursor: null } })
  const page = renderPage(simulate, pageId)
  await page.instance.onLoad({ platform_id: '11' })

  page.querySelectorAll('.suggestion')[1].dispatchEvent('tap')
  await simulate.sleep(0)

  expect(env.navigateTo).toHaveBeenCalledTimes(1)
  expect(env.navigateTo.mock.calls[0][0].url).toBe('/pages/suggestion/suggestion?id=40')
})

test('coming back from a detail page shows the vote made there, without reloading', async () => {
  installWx()
  const server = listServer({ 'new:first': { items: [PARKING, LIGHT], next_cursor: null } })
  const page = renderPage(simulate, pageId)
  await page.instance.onLoad({ platform_id: '11' })
  page.instance.onShow() // right after onLoad

  changes.noteVote(40, { voted: true, voteCount: 6 })
  page.instance.onShow()

  expect(server.calls).toHaveLength(1)
  expect(textOf(page.querySelectorAll('.suggestion')[1])).toBe('人民路路灯不亮 要事 提出人：李* 6 人支持 已支持')
})

test('after a suggestion was proposed on this platform, coming back reloads the list', async () => {
  installWx()
  let items = [LIGHT]
  const server = fakeServer(req => (req.path === '/api/suggestions' ? { status: 200, body: { items, next_cursor: null } } : undefined))
  const page = renderPage(simulate, pageId)
  await page.instance.onLoad({ platform_id: '11' })
  await page.instance.onShow()

  changes.noteProposed('12') // another platform: nothing to do
  await page.instance.onShow()
  expect(server.calls).toHaveLength(1)

  items = [PARKING, LIGHT]
  changes.noteProposed('11')
  await page.instance.onShow()
  expect(server.calls).toHaveLength(2)
  expect(server.calls[1].query).toEqual({ platform_id: '11', sort: 'new', limit: '20' })
  expect(byClass(page, 'item-title').map(textOf)).toEqual(['小区停车位太少', '人民路路灯不亮'])
})

test('an invalid platform_id is not sent to the server', async () => {
  installWx()
  const server = listServer({})
  const page = renderPage(simulate, pageId)

  await page.instance.onLoad({ platform_id: '11 OR 1=1' })

  expect(server.calls).toHaveLength(0)
  expect(textOf(page)).toBe('未找到该协商议事平台')
})

// --- stage tabs (issue 11 item 7): a suggestion taken up stays in view --------------------------

function staged(id, title, stage, label, topicId) {
  return { ...item(id, title, { votes: 3 }), state: 'taken_up', state_label: '已列为议题', stage, stage_label: label, topic_id: topicId }
}

// pages: { '<stage or open>:<sort>:<cursor or first>': body }
function stageServer(pages) {
  return fakeServer(req => {
    if (req.path !== '/api/suggestions') return undefined
    const page = pages[`${req.query.stage || 'open'}:${req.query.sort}:${req.query.cursor || 'first'}`]
    if (!page) return { status: 422, body: errorBody('invalid_cursor', '翻页参数无效，请从第一页重新加载') }
    return { status: 200, body: page }
  })
}

test('stage tabs: 征集中 first (the default list), then each stage asked for with `stage`', async () => {
  installWx()
  const ROAD = staged(30, '村口道路坑洼', 'handling', '办理中', 7)
  const server = stageServer({
    'open:new:first': { items: [PARKING], next_cursor: null },
    'handling:new:first': { items: [ROAD], next_cursor: 'aGFuZGxpbmc' },
    'handling:new:aGFuZGxpbmc': { items: [staged(29, '公交线路', 'handling', '办理中', 8)], next_cursor: null },
    'handling:supported:first': { items: [ROAD], next_cursor: null },
    'done:supported:first': { items: [], next_cursor: null },
  })
  const page = renderPage(simulate, pageId)
  await page.instance.onLoad({ platform_id: '11' })

  expect(byClass(page, 'stage-tab').map(textOf)).toEqual(['征集中', '已立题', '已协商', '办理中', '已办结'])
  expect(byClass(page, 'stage-tab-active').map(textOf)).toEqual(['征集中'])
  expect(server.calls[0].query).toEqual({ platform_id: '11', sort: 'new', limit: '20' })
  expect(byClass(page, 'stage')).toHaveLength(0) // an open suggestion needs no stage badge

  page.querySelectorAll('.stage-tab')[3].dispatchEvent('tap')
  await waitFor(() => server.calls.length === 2 && !page.instance.data.loading)
  expect(server.calls[1].query).toEqual({ platform_id: '11', stage: 'handling', sort: 'new', limit: '20' })
  expect(byClass(page, 'stage-tab-active').map(textOf)).toEqual(['办理中'])
  expect(page.querySelectorAll('.suggestion').map(textOf)).toEqual(['村口道路坑洼 实事 办理中 提出人：张** 3 人支持'])

  // "加载更多" keeps the tab; a sort tab keeps it too and starts again from the first page.
  await page.instance.loadMore()
  expect(server.calls[2].query).toEqual({ platform_id: '11', stage: 'handling', sort: 'new', limit: '20', cursor: 'aGFuZGxpbmc' })
  expect(byClass(page, 'item-title').map(textOf)).toEqual(['村口道路坑洼', '公交线路'])
  page.querySelectorAll('.tab')[1].dispatchEvent('tap')
  await waitFor(() => server.calls.length === 4 && !page.instance.data.loading)
  expect(server.calls[3].query).toEqual({ platform_id: '11', stage: 'handling', sort: 'supported', limit: '20' })

  // An empty stage says so in its own words.
  await page.instance.onStage({ currentTarget: { dataset: { stage: 'done' } } })
  expect(server.calls[4].query).toEqual({ platform_id: '11', stage: 'done', sort: 'supported', limit: '20' })
  expect(textOf(page)).toContain('暂无已办结的建议。')
  // Tapping the current tab, or an unknown one, does nothing.
  await page.instance.onStage({ currentTarget: { dataset: { stage: 'done' } } })
  await page.instance.onStage({ currentTarget: { dataset: { stage: 'bogus' } } })
  expect(server.calls).toHaveLength(5)
})
