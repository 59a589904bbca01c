const path = require('path')
const simulate = require('miniprogram-simulate')
const { installWx, fakeServer, errorBody, renderPage, textOf, byClass } = require('../helpers/wx')

// Shaped like app/followup/results_routes.py TopicResults.
const STAGES = [['open', '征集中'], ['topic', '已立题'], ['consulted', '已协商'], ['handling', '办理中'], ['done', '已办结']]
function stages(reached) {
  return STAGES.map(([code, label], n) => ({ code, label, reached: n <= reached }))
}
function decision(scope, scopeLabel, body, outcome, outcomeLabel, explanation = null) {
  return { scope, scope_label: scopeLabel, body, outcome, outcome_label: outcomeLabel, explanation, decided_on: '2026-09-25' }
}
const ROAD = {
  id: 501, seq: 1, text: '村口道路坑洼，请联系***', raised_by: 'resident', raised_by_label: '群众代表',
  scope: 'local', scope_label: '本级可解决', state: 'done', state_label: '已办结', settled: true,
  outcome: 'adopted', outcome_label: '采纳', explanation: null, decided_on: '2026-09-25',
  decisions: [decision('local', '本级可解决', '新坝镇党委', 'adopted', '采纳')],
  handling: {
    lead_department: '东县住房和城乡建设局', co_handlers: ['新坝镇党委'], state: 'completed', state_label: '已办结',
    assigned_on: '2026-09-28', workdays: 5, due_on: '2026-10-20', original_due_on: '2026-10-12', due_estimated: false,
    percent: 100, plan: '十月底前完成路面修补', planned_on: '2026-09-30', result: '已完成村口道路200米修补',
    completed_on: '2026-10-19', on_time: true,
    events: [
      { kind: 'planned', kind_label: '制定工作方案', at: '2026-09-30T02:00:00Z', on: '2026-09-30', percent: null, text: '十月底前完成路面修补', due_on: null },
      { kind: 'progress', kind_label: '办理进展', at: '2026-10-10T02:00:00Z', on: '2026-10-10', percent: 60, text: '已完成一半', due_on: null },
      { kind: 'completed', kind_label: '办结', at: '2026-10-19T02:00:00Z', on: '2026-10-19', percent: 100, text: '已完成村口道路200米修补', due_on: null },
    ],
    extensions: [{ requested_on: '2026-10-09', requested_due_on: '2026-10-20', reason: '雨季施工受阻', state: 'approved', state_label: '已同意', note: '同意延期', decided_on: '2026-10-10' }],
  },
}
const BUS = {
  ...ROAD, id: 502, seq: 2, text: '建议增开通往县城的公交线路', scope: 'county', scope_label: '需县（区）解决',
  state: 'handling', state_label: '办理中', settled: false, outcome: 'adopted', outcome_label: '采纳',
  decisions: [decision('county', '需县（区）解决', '东县县委', 'escalated', '向上级政协反映', '涉及跨县线路，报市级研究'),
    decision('city', '需市级解决', '海州市政府', 'adopted', '采纳')],
  handling: { ...ROAD.handling, co_handlers: [], state: 'planned', state_label: '办理中', percent: 30, result: null, completed_on: null, on_time: null, events: [], extensions: [] },
}
const MARKET = {
  ...ROAD, id: 503, seq: 3, text: '建议在村口设置集市', state: 'not_adopted', state_label: '不予采纳',
  outcome: 'not_adopted', outcome_label: '不予采纳', explanation: '村口为交通要道，设集市存在安全隐患',
  decisions: [decision('local', '本级可解决', '新坝镇党委', 'not_adopted', '不予采纳', '村口为交通要道，设集市存在安全隐患')],
  handling: null,
}
function results(overrides = {}) {
  return {
    topic: {
      id: 7, title: '村口道路修缮', category: 'livelihood', category_label: '实事', source: 'proposed',
      source_label: '群众出题', approved_on: '2026-09-01', platform: { id: 11, name: '前进村“有事好商量”协商议事室' },
    },
    stage: 'handling', stage_label: '办理中', stages: stages(3),
    suggestions: [{ id: 41, title: '村口道路年久失修', state: 'taken_up', state_label: '已列为议题', vote_count: 12, proposer: '张**' }],
    research: [
      { kind: 'site_visit', kind_label: '实地察看', title: '实地察看村口道路', completed: true, completed_on: '2026-09-10' },
      { kind: 'facts', kind_label: '摸清实情', title: null, completed: true, completed_on: '2026-09-11' },
    ],
    consultations: [{
      id: 3, held_on: '2026-09-20', place_kind: 'mobile', place_kind_label: '现场（移动协商）',
      attendance: [{ group: 'member', group_label: '政协委员', count: 1 }, { group: 'resident', group_label: '群众代表', count: 2 }],
      attendee_count: 3, list_routed_on: '2026-09-21', items: [ROAD, BUS, MARKET], feedback: null, ratings: null,
    }],
    summary: {
      stage: 'handling', stage_label: '办理中', consultation_count: 1, item_count: 3, settled_count: 2, adopted_count: 2,
      not_adopted_count: 1, escalated_count: 1, handling_count: 1, done_count: 1, done_on_time_count: 1,
    },
    ...overrides,
  }
}

/** The element of class `cls` inside a rendered element (the simulator prefixes classes). */
function within(node, cls) {
  return node.dom.querySelector(`.main--${cls}`)
}

let pageId
beforeAll(() => {
  pageId = simulate.load(path.join(__dirname, '../../pages/results/results'))
})

function server(body = results()) {
  return fakeServer(req => {
    if (req.method === 'GET' && req.path === '/api/topics/7/results') return body.status ? body : { status: 200, body }
    return undefined
  })
}

test('shows the whole chain as a timeline: suggestion, topic, research, consultation, items, summary', async () => {
  installWx()
  const srv = server()
  const page = renderPage(simulate, pageId)
  await page.instance.onLoad({ id: '7' })

  expect(srv.calls).toHaveLength(1)
  expect(srv.calls[0].path).toBe('/api/topics/7/results')
  expect(textOf(page.querySelector('.topic-title'))).toBe('村口道路修缮')
  expect(textOf(page.querySelector('.stage-now'))).toBe('办理中')
  expect(byClass(page, 'stage-step').map(textOf)).toEqual(['征集中', '已立题', '已协商', '办理中', '已办结'])
  expect(byClass(page, 'stage-reached').map(textOf)).toEqual(['征集中', '已立题', '已协商', '办理中'])
  expect(byClass(page, 'section-title').map(textOf)).toEqual(
    ['居民建议', '议题审定', '调查研究', '协商议事', '意见建议的采纳和办理'])
  expect(textOf(page.querySelector('.summary'))).toBe('共 3 条意见建议：采纳 2 条，不予采纳 1 条；已办结 1 条，办理中 1 条')
  expect(textOf(page.querySelector('.suggestion-row'))).toBe('村口道路年久失修 提出人：张** 12 人支持')
  expect(textOf(page.querySelector('.approved'))).toBe('2026年9月1日 审定通过（群众出题 · 实事）')
  // D12: research whose findings are sensitive shows its kind only.
  expect(byClass(page, 'research-row').map(textOf)).toEqual(
    ['实地察看：实地察看村口道路 2026年9月10日完成', '摸清实情 2026年9月11日完成'])
  expect(textOf(page.querySelector('.consultation-row'))).toBe(
    '2026年9月20日 现场（移动协商） 参加 3 人：政协委员 1 人、群众代表 2 人')
})

test('each item is a card with its decision, the escalation trail and the handling progress bar', async () => {
  installWx()
  server()
  const page = renderPage(simulate, pageId)
  await page.instance.onLoad({ id: '7' })

  const cards = page.querySelectorAll('.item-card')
  expect(cards).toHaveLength(3)
  const [road, bus, market] = cards
  expect(textOf(within(road, 'item-text'))).toBe('1. 村口道路坑洼，请联系***')
  expect(textOf(within(road, 'outcome'))).toBe('采纳')
  expect(textOf(within(road, 'lead'))).toBe('承办部门：东县住房和城乡建设局（协办：新坝镇党委）')
  expect(textOf(within(road, 'percent'))).toBe('已完成 100%')
  expect(within(road, 'bar-fill').getAttribute('style')).toContain('width: 100%')
  expect(textOf(within(road, 'due'))).toBe('办理期限：2026年10月20日（已延期，原定2026年10月12日）')
  expect(textOf(within(road, 'result'))).toBe('办理结果：已完成村口道路200米修补（2026年10月19日办结，按期办结）')
  expect(byClass(road, 'event').map(textOf)).toEqual([
    '2026年9月30日 制定工作方案 十月底前完成路面修补',
    '2026年10月10日 办理进展 60% 已完成一半',
    '2026年10月19日 办结 100% 已完成村口道路200米修补',
  ])
  expect(textOf(within(road, 'extension'))).toBe('申请延期至2026年10月20日：雨季施工受阻（已同意）')

  // D22: escalated at county level, decided by the city.
  expect(byClass(bus, 'decision').map(textOf)).toEqual([
    '东县县委：向上级政协反映 涉及跨县线路，报市级研究', '海州市政府：采纳'])
  expect(textOf(within(bus, 'percent'))).toBe('已完成 30%')
  expect(within(bus, 'bar-fill').getAttribute('style')).toContain('width: 30%')
  expect(within(bus, 'result')).toBeFalsy()

  // D23: not adopted, with the explanation; no handling.
  expect(textOf(within(market, 'outcome'))).toBe('不予采纳')
  expect(textOf(within(market, 'explanation'))).toBe('解释说明：村口为交通要道，设集市存在安全隐患')
  expect(within(market, 'handling')).toBeFalsy()
})

test('share card: the topic title and a link back to this page', async () => {
  installWx()
  server()
  const page = renderPage(simulate, pageId)
  await page.instance.onLoad({ id: '7' })
  expect(page.instance.onShareAppMessage()).toEqual({
    title: '协商结果：村口道路修缮（办理中）', path: '/pages/results/results?id=7' })
})

test('a topic without a consultation yet says what comes next', async () => {
  installWx()
  server(results({ stage: 'topic', stage_label: '已立题', stages: stages(1), research: [], consultations: [],
    summary: { ...results().summary, stage: 'topic', stage_label: '已立题', item_count: 0, consultation_count: 0 } }))
  const page = renderPage(simulate, pageId)
  await page.instance.onLoad({ id: '7' })
  expect(textOf(page.querySelector('.stage-now'))).toBe('已立题')
  expect(textOf(page)).toContain('尚未召开协商议事会议')
  expect(page.querySelectorAll('.item-card')).toHaveLength(0)
  expect(page.querySelector('.summary')).toBeFalsy()
})

test('a topic not public (404) shows the server message and a retry; a bad id asks nothing', async () => {
  const env = installWx()
  const srv = server({ status: 404, body: errorBody('topic_not_found', '该议题不存在或尚未公开') })
  const page = renderPage(simulate, pageId)
  await page.instance.onLoad({ id: '7' })
  expect(textOf(page)).toContain('该议题不存在或尚未公开')
  expect(env.toastTitles()).toEqual(['该议题不存在或尚未公开'])

  const bad = renderPage(simulate, pageId)
  await bad.instance.onLoad({ id: 'abc' })
  expect(textOf(bad)).toBe('未找到该议题')
  expect(srv.calls).toHaveLength(1)
})

test('tapping a suggestion opens it', async () => {
  const env = installWx()
  server()
  const page = renderPage(simulate, pageId)
  await page.instance.onLoad({ id: '7' })
  page.querySelector('.suggestion-row').dispatchEvent('tap')
  await simulate.sleep(0)
  expect(env.navigateTo).toHaveBeenCalledWith({ url: '/pages/suggestion/suggestion?id=41' })
})

test('an item escalated and awaiting the next level shows why it went up (D22)', async () => {
  installWx()
  const UP = {
    ...BUS, state: 'awaiting', state_label: '待研究', settled: false, outcome: 'escalated', outcome_label: '向上级政协反映',
    explanation: '涉及跨县线路，报市级研究', decisions: [BUS.decisions[0]], handling: null,
  }
  const body = results()
  body.consultations[0].items = [UP]
  server(body)
  const page = renderPage(simulate, pageId)
  await page.instance.onLoad({ id: '7' })
  const [card] = page.querySelectorAll('.item-card')
  expect(textOf(within(card, 'outcome'))).toBe('向上级政协反映')
  expect(byClass(card, 'decision').map(textOf)).toEqual(['东县县委：向上级政协反映 涉及跨县线路，报市级研究'])
  expect(within(card, 'explanation')).toBeFalsy() // said once, in the trail
})

test('a finished consultation shows its feedback list and the evaluations (D21, D27), figures only', async () => {
  installWx()
  const figures = (kind, label, phase, count, o, p) => ({
    kind, kind_label: label, phase, phase_label: phase === 'after_meeting' ? '会后评价' : '反馈后评价',
    count, outcome_mean: o, process_mean: p })
  const body = results()
  body.consultations[0].feedback = {
    compiled_on: '2026-10-13', items: 3, adopted: 2, partly: 0, not_adopted: 1, done: 2, on_time: 2,
    summary: '共3条意见，采纳2条、部分采纳0条、不予采纳1条，已办结2条' }
  body.consultations[0].ratings = {
    by_kind: [
      figures('party_government', '党政点评', 'after_feedback', 1, 5, 4),
      figures('resident', '群众评价', 'after_meeting', 0, null, null),
      figures('resident', '群众评价', 'after_feedback', 2, 4.5, 4),
    ],
    overall: { count: 3, outcome_mean: 4.67, process_mean: 4 },
  }
  server(body)
  const page = renderPage(simulate, pageId)
  await page.instance.onLoad({ id: '7' })
  expect(textOf(page.querySelector('.feedback-line'))).toBe(
    '2026年10月13日形成结果反馈清单：共3条意见，采纳2条、部分采纳0条、不予采纳1条，已办结2条，其中按期办结2条')
  expect(byClass(page, 'rating-line').map(textOf)).toEqual([
    '党政点评（反馈后评价）1 条：结果 5 分，过程 4 分',
    '群众评价（反馈后评价）2 条：结果 4.5 分，过程 4 分',
    '共 3 条评价：结果平均 4.67 分，过程平均 4 分',
  ])

  // Before the feedback list and without evaluations: no such lines.
  server()
  const before = renderPage(simulate, pageId)
  await before.instance.onLoad({ id: '7' })
  expect(before.querySelector('.feedback-line')).toBeFalsy()
  expect(before.querySelector('.rating-line')).toBeFalsy()
})
