// A resident rates a consultation (D27 群众评价; query id = consultation id), reached from the
// meeting page once the consultation is held.
//
// Two phases: 会后评价 (open once the meeting is held) and 反馈后评价 (open once every item of
// its opinion list is settled and the feedback list is out). In each: two rows of five large
// stars — 结果满意度 and 过程满意度 — and an optional comment (≤ 500 characters). Their earlier
// rating is shown and can be changed: PUT /api/consultations/<id>/evaluations/<phase>/resident
// replaces it (the same rating again changes nothing, so a retry needs no Idempotency-Key).
// The server decides who may rate (may_rate) and which phases are open; its refusals are shown
// in its own Chinese words.
const { request } = require('../../utils/request')
const { idFrom } = require('../../utils/query')
const { formatTime } = require('../../utils/format')

const INVALID_ID = '评价链接无效，请从会议页面打开'
const NOT_FOUND = '该协商活动不存在'
const MAY_NOT_RATE = '只有参加本次协商、提出或支持、关注该议题的群众可以评价。'
const PHASE_CLOSED = {
  after_meeting: '会议召开后可以进行会后评价。',
  after_feedback: '意见清单全部办理完毕、发布结果反馈后，可以进行反馈后评价。',
}
const NEED_OUTCOME = '请为结果满意度打分（1–5 星）'
const NEED_PROCESS = '请为过程满意度打分（1–5 星）'
const COMMENT_MAX = 500 // app/evaluation/models.py COMMENT_MAX
const SCORE_WORDS = ['', '很不满意', '不满意', '一般', '满意', '很满意']
const STARS = [1, 2, 3, 4, 5]

function phaseView(p) {
  const r = p.rating
  return {
    phase: p.phase,
    label: p.phase_label || '',
    isOpen: p.is_open === true,
    closedText: p.is_open ? '' : PHASE_CLOSED[p.phase] || '',
    rated: Boolean(r),
    ratedText: r ? `您已于 ${formatTime(r.updated_at)} 评价：结果 ${r.outcome_score} 星，过程 ${r.process_score} 星。可以修改。` : '',
    rating: r,
  }
}

// The phase to show first: the later one when it is open, else the first.
function defaultPhase(phases) {
  const open = phases.filter(p => p.isOpen)
  return (open.length ? open[open.length - 1] : phases[0] || { phase: '' }).phase
}

Component({
  data: {
    id: '',
    loading: true,
    error: '',
    canRetry: false,
    info: null,
    phases: [],
    phase: '',
    current: null,
    stars: STARS,
    outcome: 0,
    process: 0,
    outcomeWord: '',
    processWord: '',
    comment: '',
    formError: '',
    busy: false,
    saveError: '',
  },

  methods: {
    onLoad(query) {
      const id = idFrom(query)
      if (!id) {
        this.setData({ loading: false, error: INVALID_ID, canRetry: false })
        return Promise.resolve()
      }
      this.setData({ id })
      return this.load()
    },

    onRetry() {
      return this.load()
    },

    async load() {
      this.setData({ loading: true, error: '' })
      let body
      try {
        body = await request({ path: `/api/me/ratings/${this.data.id}`, showError: false })
      } catch (err) {
        const notFound = err.status === 404
        this.setData({ loading: false, error: notFound ? NOT_FOUND : err.message, canRetry: !notFound })
        return
      }
      const phases = (body.phases || []).map(phaseView)
      this.setData({
        loading: false,
        info: {
          title: body.topic_title || '',
          platform: body.platform_name || '',
          timeText: body.starts_at ? formatTime(body.starts_at) : '',
          mayRate: body.may_rate === true,
          mayNotText: body.may_rate === true ? '' : MAY_NOT_RATE,
        },
        phases,
      })
      this.choose(this.data.phase && phases.some(p => p.phase === this.data.phase) ? this.data.phase : defaultPhase(phases))
    },

    // Show one phase: its earlier rating fills the stars and the comment.
    choose(phase) {
      const current = this.data.phases.find(p => p.phase === phase) || null
      const r = current && current.rating
      this.setScores(r ? r.outcome_score : 0, r ? r.process_score : 0)
      this.setData({ phase, current, comment: (r && r.comment) || '', formError: '', saveError: '' })
    },

    setScores(outcome, process) {
      this.setData({ outcome, process, outcomeWord: SCORE_WORDS[outcome] || '', processWord: SCORE_WORDS[process] || '' })
    },

    onPhase(event) {
      const phase = event.currentTarget.dataset.phase
      if (phase && phase !== this.data.phase) this.choose(phase)
    },

    onStar(event) {
      const { row, score } = event.currentTarget.dataset
      const n = Number(score)
      if (!(n >= 1 && n <= 5) || !this.data.current || !this.data.current.isOpen) return
      if (row === 'outcome') this.setScores(n, this.data.process)
      else if (row === 'process') this.setScores(this.data.outcome, n)
      this.setData({ formError: '' })
    },

    onCommentInput(event) {
      this.setData({ comment: event.detail.value })
    },

    async onSubmit() {
      const c = this.data.current
      if (this.data.busy || !c || !c.isOpen || !this.data.info.mayRate) return
      if (!this.data.outcome) {
        this.setData({ formError: NEED_OUTCOME })
        return
      }
      if (!this.data.process) {
        this.setData({ formError: NEED_PROCESS })
        return
      }
      const data = { outcome_score: this.data.outcome, process_score: this.data.process }
      const comment = String(this.data.comment || '').trim()
      if (comment) data.comment = comment.slice(0, COMMENT_MAX)
      this.setData({ busy: true, saveError: '', formError: '' })
      try {
        const saved = await request({
          path: `/api/consultations/${this.data.id}/evaluations/${c.phase}/resident`,
          method: 'PUT',
          data,
        })
        const phases = this.data.phases.map(p => (p.phase === c.phase ? phaseView({ phase: p.phase, phase_label: p.label, is_open: true, rating: saved }) : p))
        this.setData({ phases })
        this.choose(c.phase)
        wx.showToast({ title: c.rated ? '评价已修改' : '感谢您的评价', icon: 'none' })
      } catch (err) {
        // The phase closed or the right to rate changed meanwhile: show the phases as they are
        // now, with the server's words under them.
        if (err.code === 'phase_not_open' || err.code === 'not_evaluator') await this.load()
        this.setData({ saveError: err.message })
      } finally {
        this.setData({ busy: false })
      }
    },
  },
})
