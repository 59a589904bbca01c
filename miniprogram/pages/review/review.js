// 待办审核: the to-do list of an official who acts for a body (Party committee, government, CPPCC
// party group, special committee; the reviewer role). Two sections:
// - 议题审核 (D8): GET /api/me/reviews; each pending step can be approved
//   (POST /api/topics/<id>/steps/<step>/approve {}) or returned with a required reason
//   (…/return {note}). The topic's text is read on demand with GET /api/topics/<id>.
//   A person without the reviewer role gets 403 there: that section is simply empty.
// - 协商意见清单 (D18): GET /api/me/opinion-inbox; a party group's review forwards
//   ({forward: true}) or holds back with a required reason ({forward: false, note}); a receiving
//   body acknowledges ({forward: true}). POST /api/opinion-routings/<id>/decision.
//   逐条研究 opens pages/item-decide?routing=<id>: decisions per item (D19–D23) and assignment;
//   the button under the lists opens the same page with all of my bodies' items and extensions.
// Every action is confirmed in a wx.showModal first; afterwards (or when the server says it was
// already handled) the lists are read again.
const { request } = require('../../utils/request')
const { confirmModal } = require('../../utils/modal')
const { dateText } = require('../../utils/format')
const { reasonBox, rowIndex } = require('../../utils/reason_box')

const RETURN_MAX = 1000 // app/topics/schemas.py StepDecisionIn
const HOLD_MAX = 500 // app/consultations/schemas.py DecisionIn
const RETURN_REQUIRED = '请填写退回理由'
const HOLD_REQUIRED = '请说明暂不转送的理由'
// Errors after which the lists are read again: the item was handled or changed meanwhile.
const returnBox = reasonBox({ list: 'reviews', open: 'returning', field: 'reason', required: RETURN_REQUIRED, max: RETURN_MAX, tooLong: n => `退回理由不能超过 ${n} 字` })
const holdBox = reasonBox({ list: 'inbox', open: 'holding', field: 'reason', required: HOLD_REQUIRED, max: HOLD_MAX, tooLong: n => `理由不能超过 ${n} 字` })
const STALE_CODES = ['step_not_current', 'step_not_found', 'routing_decided', 'routing_not_found', 'topic_not_found', 'not_found']

/** One ReviewItem of GET /api/me/reviews (app/topics/schemas.py). */
function reviewView(r) {
  const due = dateText(r.due_on)
  return {
    stepId: r.step_id,
    topicId: r.topic_id,
    title: r.topic_title || '',
    kindLabel: r.kind_label || '',
    dueText: due ? `办理期限：${due}` : '',
    open: false,
    loadingDetail: false,
    detail: null,
    detailError: '',
    returning: false,
    reason: '',
    error: '',
  }
}

/** TopicOut of GET /api/topics/<id>: what the reviewer reads before deciding. */
function topicDetailView(t) {
  return {
    categoryLabel: t.category_label || '',
    sourceLabel: t.source_label || '',
    description: t.description || '',
    steps: (t.steps || [])
      .filter(s => s.round === t.approval_round)
      .map(s => ({
        id: s.id,
        text: `${s.body_name || ''}${s.kind_label || ''}：${s.state_label || ''}`,
        note: s.note || '',
      })),
  }
}

/** One InboxEntry of GET /api/me/opinion-inbox (app/consultations/schemas.py). */
function inboxView(e) {
  const r = e.routing || {}
  const isReview = r.action === 'review'
  return {
    id: r.id,
    title: e.title || '',
    platformName: e.platform_name || '',
    scopeLabel: r.scope_label || '',
    bodyName: r.body_name || '',
    isReview,
    actionLabel: isReview ? '审核' : '接收',
    items: (e.items || []).map(i => ({
      seq: i.seq,
      text: i.text || '',
      meta: [i.raised_by_label ? `${i.raised_by_label}提出` : '', i.scope_label || ''].filter(Boolean).join(' · '),
    })),
    holding: false,
    reason: '',
    error: '',
  }
}

Component({
  data: {
    loading: true,
    error: '',
    notice: '',
    reviews: [],
    inbox: [],
    busy: false,
  },

  methods: {
    onLoad() {
      return this.load()
    },

    onPullDownRefresh() {
      return this.load().then(() => wx.stopPullDownRefresh())
    },

    onRetry() {
      this.setData({ notice: '' })
      return this.load()
    },

    async load() {
      this.setData({ loading: true, error: '' })
      const reviews = request({ path: '/api/me/reviews', showError: false })
        .then(body => ({ items: body.items || [] }))
        .catch(err => (err.status === 403 && err.code === 'forbidden' ? { items: [] } : { err })) // not a reviewer
      const inbox = request({ path: '/api/me/opinion-inbox', showError: false })
        .then(body => ({ items: body.items || [] }))
        .catch(err => ({ err }))
      const [r, o] = await Promise.all([reviews, inbox])
      const failed = r.err || o.err
      this.setData({
        loading: false,
        error: failed ? failed.message : '',
        reviews: r.err ? [] : r.items.map(reviewView),
        inbox: o.err ? [] : o.items.map(inboxView),
      })
    },

    indexIn(list, event) {
      return rowIndex(this, list, event)
    },

    /** After an action the server refused: its message, and a fresh list when the item is stale. */
    async failed(list, i, err) {
      if (STALE_CODES.indexOf(err.code) >= 0) {
        this.setData({ notice: err.message })
        await this.load()
      } else {
        this.setData({ [`${list}[${i}].error`]: err.message })
      }
    },

    async done(message) {
      wx.showToast({ title: message, icon: 'none' })
      this.setData({ notice: '' })
      await this.load()
    },

    // --- 议题审核 (D8) -------------------------------------------------------------------------

    async onToggleDetail(event) {
      const i = this.indexIn('reviews', event)
      if (i < 0) return
      const item = this.data.reviews[i]
      if (item.open) {
        this.setData({ [`reviews[${i}].open`]: false })
        return
      }
      this.setData({ [`reviews[${i}].open`]: true })
      if (item.detail || item.loadingDetail) return
      this.setData({ [`reviews[${i}].loadingDetail`]: true, [`reviews[${i}].detailError`]: '' })
      try {
        const body = await request({ path: `/api/topics/${item.topicId}`, showError: false })
        this.setData({ [`reviews[${i}].detail`]: topicDetailView(body) })
      } catch (err) {
        this.setData({ [`reviews[${i}].detailError`]: err.message })
      } finally {
        this.setData({ [`reviews[${i}].loadingDetail`]: false })
      }
    },

    async onApprove(event) {
      const i = this.indexIn('reviews', event)
      if (i < 0 || this.data.busy) return
      const item = this.data.reviews[i]
      this.setData({ [`reviews[${i}].error`]: '' })
      const confirmed = await confirmModal({
        title: '审核通过',
        content: `确定通过“${item.title}”的${item.kindLabel}吗？`,
        confirmText: '通过',
        cancelText: '取消',
      })
      if (!confirmed) return
      await this.send(
        'reviews', i,
        { path: `/api/topics/${item.topicId}/steps/${item.stepId}/approve`, method: 'POST', data: {} },
        '已审核通过',
      )
    },

    onStartReturn(event) { returnBox.start(this, event) },
    onCancelReturn(event) { returnBox.cancel(this, event) },
    onReturnReason(event) { returnBox.input(this, event) },

    async onConfirmReturn(event) {
      const got = returnBox.take(this, event)
      if (!got) return
      const { i, row: item, text: note } = got
      const confirmed = await confirmModal({
        title: '退回修改',
        content: `确定退回“${item.title}”吗？退回理由会告知提交人。`,
        confirmText: '退回',
        cancelText: '取消',
      })
      if (!confirmed) return
      await this.send(
        'reviews', i,
        { path: `/api/topics/${item.topicId}/steps/${item.stepId}/return`, method: 'POST', data: { note } },
        '已退回修改',
      )
    },

    // --- 协商意见清单 (D18) --------------------------------------------------------------------

    async decide(i, data, modal, doneText) {
      const confirmed = await confirmModal({ ...modal, cancelText: '取消' })
      if (!confirmed) return
      const item = this.data.inbox[i]
      await this.send('inbox', i, { path: `/api/opinion-routings/${item.id}/decision`, method: 'POST', data }, doneText)
    },

    async onForward(event) {
      const i = this.indexIn('inbox', event)
      if (i < 0 || this.data.busy) return
      this.setData({ [`inbox[${i}].error`]: '' })
      const item = this.data.inbox[i]
      await this.decide(i, { forward: true }, {
        title: '转送意见清单',
        content: `确定把“${item.title}”的意见（${item.scopeLabel}）转送党委、政府吗？`,
        confirmText: '转送',
      }, '已转送')
    },

    onStartHold(event) { holdBox.start(this, event) },
    onCancelHold(event) { holdBox.cancel(this, event) },
    onHoldReason(event) { holdBox.input(this, event) },

    async onConfirmHold(event) {
      const got = holdBox.take(this, event)
      if (!got) return
      const { i, row: item, text: note } = got
      await this.decide(i, { forward: false, note }, {
        title: '暂不转送',
        content: `确定暂不转送“${item.title}”的意见吗？`,
        confirmText: '暂不转送',
      }, '已暂不转送')
    },

    // Items of copies already acknowledged, adopted items to assign and extension requests.
    onOpenQueue() {
      wx.navigateTo({ url: '/pages/item-decide/item-decide' })
    },

    onOpenItems(event) {
      const i = this.indexIn('inbox', event)
      if (i >= 0) wx.navigateTo({ url: `/pages/item-decide/item-decide?routing=${this.data.inbox[i].id}` })
    },

    async onAcknowledge(event) {
      const i = this.indexIn('inbox', event)
      if (i < 0 || this.data.busy) return
      this.setData({ [`inbox[${i}].error`]: '' })
      const item = this.data.inbox[i]
      await this.decide(i, { forward: true }, {
        title: '确认收到',
        content: `确认已收到“${item.title}”的意见清单吗？`,
        confirmText: '确认收到',
      }, '已确认收到')
    },

    // One decision: shown by the request wrapper's toast on failure as well as on the page.
    async send(list, i, options, doneText) {
      this.setData({ busy: true })
      try {
        await request(options)
      } catch (err) {
        this.setData({ busy: false })
        await this.failed(list, i, err)
        return
      }
      this.setData({ busy: false })
      await this.done(doneText)
    },
  },
})
