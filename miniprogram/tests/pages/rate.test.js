const path = require('path')
const simulate = require('miniprogram-simulate')
const { installWx, fakeServer, errorBody, renderPage, textOf, waitFor } = require('../helpers/wx')

const LOGGED_IN = { 'auth.token': 'tok-1', 'auth.expires_at': '2099-01-01T00:00:00Z' }
const MINE = '/api/me/ratings/5'
const PUT_MEETING = '/api/consultations/5/evaluations/after_meeting/resident'
const PUT_FEEDBACK = '/api/consultations/5/evaluations/after_feedback/resident'

let pageId
beforeAll(() => {
  pageId = simulate.load(path.join(__dirname, '../../pages/rate/rate'))
})

function rating(phase, outcome, processScore, comment = null) {
  return {
    id: 9, consultation_id: 5, phase, phase_label: phase === 'after_meeting' ? '会后评价' : '反馈后评价',
    kind: 'resident', kind_label: '群众评价', outcome_score: outcome, process_score: processScore,
    comment, created_at: '2026-10-10T02:00:00Z', updated_at: '2026-10-10T02:00:00Z',
  }
}

function mine({ mayRate = true, feedbackOpen = false, meetingRating = null, feedbackRating = null } = {}) {
  return {
    consultation_id: 5, topic_title: '老旧小区加装电梯', platform_name: '前进村“有事好商量”协商议事室',
    starts_at: '2026-10-09T06:30:00Z', may_rate: mayRate,
    phases: [
      { phase: 'after_meeting', phase_label: '会后评价', is_open: true, rating: meetingRating },
      { phase: 'after_feedback', phase_label: '反馈后评价', is_open: feedbackOpen, rating: feedbackRating },
    ],
  }
}

function server(body, extra) {
  return fakeServer(req => {
    const own = extra && extra(req)
    if (own) return own
    if (req.method === 'GET' && req.path === MINE) return { status: 200, body }
    return undefined
  })
}

const tap = (page, cls) => page.querySelector(`.${cls}`).dispatchEvent('tap')
const has = (page, cls) => Boolean(page.querySelector(`.${cls}`))
const onStars = (page, row) => [1, 2, 3, 4, 5].filter(n => page.querySelector(`.${row}-star-${n}`).dom.className.includes('star-on')).length

async function open(page, id = '5') {
  await page.instance.onLoad({ id })
}

test('a resident rates the meeting: two rows of five stars, an optional comment, PUT /evaluations/after_meeting/resident', async () => {
  const env = installWx({ storage: LOGGED_IN })
  const srv = server(mine(), req => (req.method === 'PUT' && req.path === PUT_MEETING
    ? { status: 200, body: rating('after_meeting', req.data.outcome_score, req.data.process_score, req.data.comment || null) }
    : undefined))
  const page = renderPage(simulate, pageId)
  await open(page)

  expect(textOf(page.querySelector('.about'))).toBe('老旧小区加装电梯 平台 前进村“有事好商量”协商议事室 时间 2026年10月9日 14:30')
  // The feedback phase is not open yet: the meeting phase is shown.
  expect(textOf(page.querySelector('.phase-label'))).toBe('会后评价')
  expect(textOf(page.querySelector('.outcome-row'))).toBe('结果满意度 ★ ★ ★ ★ ★')
  expect(textOf(page.querySelector('.process-row'))).toBe('过程满意度 ★ ★ ★ ★ ★')
  expect(textOf(page.querySelector('.submit-btn'))).toBe('提交评价')

  tap(page, 'outcome-star-4')
  await simulate.sleep(0)
  tap(page, 'process-star-5')
  await simulate.sleep(0)
  expect(onStars(page, 'outcome')).toBe(4)
  expect(onStars(page, 'process')).toBe(5)
  expect(textOf(page.querySelector('.outcome-word'))).toBe('满意')
  expect(textOf(page.querySelector('.process-word'))).toBe('很满意')
  page.querySelector('.comment-input').dispatchEvent('input', { detail: { value: '  道路修得及时  ' } })
  await simulate.sleep(0)

  tap(page, 'submit-btn')
  await waitFor(() => env.toast.mock.calls.length > 0)
  const [put] = srv.to(PUT_MEETING)
  expect(put.method).toBe('PUT')
  expect(put.data).toEqual({ outcome_score: 4, process_score: 5, comment: '道路修得及时' })
  expect(put.header.Authorization).toBe('Bearer tok-1')
  expect(env.toastTitles()).toEqual(['感谢您的评价'])
  expect(textOf(page.querySelector('.rated'))).toBe('您已于 2026年10月10日 10:00 评价：结果 4 星，过程 5 星。可以修改。')
  expect(textOf(page.querySelector('.submit-btn'))).toBe('修改评价')
})

test('the earlier rating is shown and changed; without a comment none is sent', async () => {
  const env = installWx({ storage: LOGGED_IN })
  const srv = server(mine({ meetingRating: rating('after_meeting', 2, 3, '太吵') }), req => (req.method === 'PUT'
    ? { status: 200, body: rating('after_meeting', req.data.outcome_score, req.data.process_score) }
    : undefined))
  const page = renderPage(simulate, pageId)
  await open(page)

  expect(onStars(page, 'outcome')).toBe(2)
  expect(onStars(page, 'process')).toBe(3)
  expect(page.instance.data.comment).toBe('太吵')
  expect(textOf(page.querySelector('.rated'))).toContain('结果 2 星，过程 3 星')
  tap(page, 'outcome-star-5')
  await simulate.sleep(0)
  page.querySelector('.comment-input').dispatchEvent('input', { detail: { value: '   ' } })
  await simulate.sleep(0)
  tap(page, 'submit-btn')
  await waitFor(() => env.toast.mock.calls.length > 0)
  expect(srv.to(PUT_MEETING)[0].data).toEqual({ outcome_score: 5, process_score: 3 })
  expect(env.toastTitles()).toEqual(['评价已修改'])
})

test('both phases open: 反馈后评价 first; the tabs switch between them', async () => {
  installWx({ storage: LOGGED_IN })
  const srv = server(mine({ feedbackOpen: true, meetingRating: rating('after_meeting', 3, 3) }))
  const page = renderPage(simulate, pageId)
  await open(page)

  expect(textOf(page.querySelector('.tabs'))).toBe('会后评价 反馈后评价')
  expect(textOf(page.querySelector('.phase-label'))).toBe('反馈后评价')
  expect(onStars(page, 'outcome')).toBe(0)
  tap(page, 'tab-after_meeting')
  await simulate.sleep(0)
  expect(textOf(page.querySelector('.phase-label'))).toBe('会后评价')
  expect(onStars(page, 'outcome')).toBe(3)
  expect(srv.to(PUT_FEEDBACK)).toEqual([])
})

test('a phase not open shows when it opens and no stars', async () => {
  installWx({ storage: LOGGED_IN })
  server(mine())
  const page = renderPage(simulate, pageId)
  await open(page)
  tap(page, 'tab-after_feedback')
  await simulate.sleep(0)
  expect(textOf(page.querySelector('.rating'))).toBe('反馈后评价 意见清单全部办理完毕、发布结果反馈后，可以进行反馈后评价。')
  expect(has(page, 'outcome-star-1')).toBe(false)
  expect(has(page, 'submit-btn')).toBe(false)
})

test('both scores are required before anything is sent', async () => {
  installWx({ storage: LOGGED_IN })
  const srv = server(mine())
  const page = renderPage(simulate, pageId)
  await open(page)
  tap(page, 'submit-btn')
  await simulate.sleep(0)
  expect(textOf(page.querySelector('.form-error'))).toBe('请为结果满意度打分（1–5 星）')
  tap(page, 'outcome-star-1')
  await simulate.sleep(0)
  expect(has(page, 'form-error')).toBe(false)
  tap(page, 'submit-btn')
  await simulate.sleep(0)
  expect(textOf(page.querySelector('.form-error'))).toBe('请为过程满意度打分（1–5 星）')
  expect(srv.to(PUT_MEETING)).toEqual([])
})

test('someone who may not rate is told who may', async () => {
  installWx({ storage: LOGGED_IN })
  server(mine({ mayRate: false }))
  const page = renderPage(simulate, pageId)
  await open(page)
  expect(textOf(page.querySelector('.may-not'))).toBe('只有参加本次协商、提出或支持、关注该议题的群众可以评价。')
  expect(has(page, 'submit-btn')).toBe(false)
})

test("the server's refusal is shown in its words and the page reloads the phases", async () => {
  installWx({ storage: LOGGED_IN })
  const srv = server(mine({ feedbackOpen: true }), req => (req.method === 'PUT'
    ? { status: 409, body: errorBody('phase_not_open', '意见清单的每一项都办结（或说明不予采纳）、形成结果反馈清单后才能进行反馈后评价') }
    : undefined))
  const page = renderPage(simulate, pageId)
  await open(page)
  tap(page, 'outcome-star-3')
  await simulate.sleep(0)
  tap(page, 'process-star-3')
  await simulate.sleep(0)
  tap(page, 'submit-btn')
  await waitFor(() => srv.to(MINE).length === 2)
  await waitFor(() => !page.instance.data.busy)
  expect(srv.to(PUT_FEEDBACK)).toHaveLength(1)
  expect(page.instance.data.saveError).toContain('才能进行反馈后评价')
})

test('a bad link or an unknown consultation', async () => {
  installWx({ storage: LOGGED_IN })
  const srv = server(mine(), req => (req.path === MINE ? { status: 404, body: errorBody('consultation_not_found', '该协商活动不存在') } : undefined))
  let page = renderPage(simulate, pageId)
  await page.instance.onLoad({})
  expect(textOf(page.dom)).toBe('评价链接无效，请从会议页面打开')
  expect(srv.calls).toEqual([])
  page = renderPage(simulate, pageId)
  await open(page)
  expect(textOf(page.dom)).toBe('该协商活动不存在')
})
