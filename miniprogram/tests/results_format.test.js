// utils/results_format.js: the feedback list and the evaluations of each consultation on the
// public results page (app/followup/results.py _feedback_section / _ratings_section).
const { resultsView } = require('../utils/results_format')
const { kindRows: byKind } = require('./helpers/ratings')

function tally(count, outcome_mean, process_mean) {
  return { count, outcome_mean, process_mean }
}
const FEEDBACK = {
  compiled_on: '2026-10-20', summary: '共3条意见，采纳1条、部分采纳1条、不予采纳1条，已办结2条',
  item_count: 3, adopted_count: 1, partly_count: 1, not_adopted_count: 1, done_count: 2, on_time_count: 2,
}
function consultation(id, held_on, extra = {}) {
  return {
    id, held_on, place_kind: 'room', place_kind_label: '协商议事室', attendance: [], attendee_count: 0,
    list_routed_on: null, items: [], feedback: null, ratings: null, ...extra,
  }
}
function body(consultations) {
  return { topic: { id: 7, title: '村口道路修缮' }, stages: [], consultations, summary: null }
}

test('a feedback list: the date it was produced and the server summary line (D21)', () => {
  const [c] = resultsView(body([consultation(3, '2026-09-20', { feedback: FEEDBACK })])).consultations
  expect(c.feedback).toEqual({
    compiled: '2026年10月20日形成结果反馈清单',
    summary: '共3条意见，采纳1条、部分采纳1条、不予采纳1条，已办结2条',
  })
})

test('no feedback list yet: null, and the page lists only consultations that have one', () => {
  const r = resultsView(body([consultation(3, '2026-09-20'), consultation(4, '2026-11-02', { feedback: FEEDBACK })]))
  expect(r.consultations[0].feedback).toBeNull()
  expect(r.feedbacks.map(c => c.id)).toEqual([4])
})

test('ratings: overall means with one decimal and the count, resident lines per phase, model case (D26–D27)', () => {
  const ratings = {
    is_model_case: true, model_case_reason: '群众参与面广，办理结果好',
    overall: tally(3, 4.5, 4),
    by_kind: byKind({
      'resident/after_meeting': tally(2, 4.5, 3.5),
      'resident/after_feedback': tally(1, 5, 4.67),
      'member/after_meeting': tally(1, 4, 5),
    }),
  }
  const [c] = resultsView(body([consultation(3, '2026-09-20', { ratings })])).consultations
  expect(c.ratings).toEqual({
    overall: '总体评价：结果 4.5 分 · 过程 4.0 分（3 人评价）',
    resident: ['群众评价（会后评价）：结果 4.5 分 · 过程 3.5 分（2 人评价）', '群众评价（反馈后评价）：结果 5.0 分 · 过程 4.7 分（1 人评价）'],
    isModelCase: true,
    modelCase: '入选理由：群众参与面广，办理结果好',
  })
})

test('nobody has rated yet (or no ratings section): plain words, no figures, not a model case', () => {
  const none = { is_model_case: false, model_case_reason: null, overall: tally(0, null, null), by_kind: byKind() }
  const expected = { overall: '还没有人评价', resident: ['群众评价：还没有人评价'], isModelCase: false, modelCase: '' }
  const [a, b] = resultsView(body([consultation(3, '2026-09-20', { ratings: none }), consultation(4, '2026-11-02')])).consultations
  expect(a.ratings).toEqual(expected)
  expect(b.ratings).toEqual(expected)
})

test('several consultations are told apart by their date; one needs no heading', () => {
  const two = resultsView(body([consultation(3, '2026-09-20'), consultation(4, '2026-11-02')]))
  expect(two.many).toBe(true)
  expect(two.consultations.map(c => c.heading)).toEqual(['2026年9月20日的协商', '2026年11月2日的协商'])
  expect(resultsView(body([consultation(3, '2026-09-20')])).many).toBe(false)
})
