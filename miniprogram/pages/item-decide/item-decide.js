// 逐条研究意见 (D19–D23): the reviewer of a Party committee, government or special committee
// decides each opinion item it received, assigns adopted ones to a lead department, and answers
// the departments' extension requests.
// - ?routing=<id>: the items of one received list, GET /api/routings/<id>/items.
// - no query: my to-do, GET /api/opinion-items/queue (awaiting my decision, adopted and waiting
//   for a department, pending extension requests).
// Deciding: 采纳 / 部分采纳 / 不予采纳 / 向上级政协反映 (POST /api/opinion-items/<id>/decision
// {outcome, explanation}); 部分采纳 and 不予采纳 need the explanation residents will read (D23).
// Assigning (D20): a lead department from GET /api/departments, optional co-handlers and 1–60
// working days (POST /api/opinion-items/<id>/assignment {lead_body_id, co_body_ids, workdays});
// the due date shown is the server's (holidays and make-up workdays counted there).
// Extensions: 同意 / 不同意 with a required reason (POST /api/extension-requests/<id>/decision
// {approve, note}). Every action is confirmed in a wx.showModal; a stale item reloads the page.
const { request } = require('../../utils/request')
const { confirmModal } = require('../../utils/modal')
const { dateText } = require('../../utils/format')
const { idFrom } = require('../../utils/query')
const { reasonBox, rowIndex } = require('../../utils/reason_box')

const EXPLANATION_MAX = 2000 // app/followup/decision_schemas.py ItemDecisionIn
const NOTE_MAX = 500 // ExtensionDecisionIn
const WORKDAYS_MIN = 1
const WORKDAYS_MAX = 60
const CO_MAX = 10
// app/followup/models.py Outcome / OUTCOME_LABELS
const OUTCOMES = [
  { value: 'adopted', label: '采纳', explain: false },
  { value: 'partly', label: '部分采纳', explain: true },
  { value: 'not_adopted', label: '不予采纳', explain: true },
  { value: 'escalated', label: '向上级政协反映', explain: false },
]
const refuseBox = reasonBox({ list: 'extensions', open: 'refusing', field: 'note', required: '请说明不同意延期的理由', max: NOTE_MAX, tooLong: n => `理由不能超过 ${n} 字` })
const STALE_CODES = ['item_decided', 'item_assigned', 'item_not_adopted', 'item_not_found', 'extension_decided', 'extension_not_found', 'routing_not_found']
const INVALID_LINK = '链接无效，请从待办中重新打开'

/** ItemOut / QueueItemOut (app/followup/decision_schemas.py) → what the card shows. */
function itemView(i) {
  const task = i.task
  return {
    id: i.id,
    seq: i.seq,
    text: i.text || '',
    topic: i.topic_title || '',
    meta: [i.raised_by_label ? `${i.raised_by_label}提出` : '', i.current_scope_label || i.scope_label || ''].filter(Boolean).join(' · '),
    stateLabel: i.state_label || '',
    decisions: (i.decisions || []).map(d => ({
      key: `${d.scope}`,
      text: `${d.body_name || ''}：${d.outcome_label || ''}`,
      explanation: d.explanation || '',
    })),
    task: task ? {
      lead: task.lead_body_name || '',
      co: (task.co_bodies || []).map(b => b.name).join('、'),
      dueText: dateText(task.due_on),
      workdays: task.workdays,
      notice: task.estimate_notice || '',
    } : null,
    canDecide: Boolean(i.can_decide),
    canAssign: Boolean(i.can_assign),
    outcomeIndex: -1,
    explanation: '',
    leadIndex: -1,
    co: [],
    coMap: {},
    workdays: '',
    error: '',
  }
}

function extensionView(x) {
  return {
    id: x.id,
    title: `${x.topic_title || ''} 第 ${x.seq} 条`,
    text: x.item_text || '',
    lead: x.lead_body_name || '',
    dueText: dateText(x.due_on),
    requestedText: dateText(x.requested_due_on),
    reason: x.reason || '',
    refusing: false,
    note: '',
    error: '',
  }
}

Component({
  data: {
    routing: '',
    invalid: '',
    loading: true,
    error: '',
    notice: '',
    title: '',
    items: [],
    extensions: [],
    outcomes: OUTCOMES,
    departments: [],
    busy: false,
  },

  methods: {
    onLoad(query) {
      const hasRouting = query && query.routing !== undefined
      const routing = idFrom(query, 'routing')
      if (hasRouting && !routing) {
        this.setData({ invalid: INVALID_LINK, loading: false })
        return Promise.resolve()
      }
      this.setData({ routing })
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
      try {
        if (this.data.routing) {
          const body = await request({ path: `/api/routings/${this.data.routing}/items`, showError: false })
          this.setData({ title: body.title || '', items: (body.items || []).map(itemView), extensions: [] })
        } else {
          const body = await request({ path: '/api/opinion-items/queue', showError: false })
          const items = (body.awaiting || []).concat(body.to_assign || [])
          this.setData({ title: '', items: items.map(itemView), extensions: (body.extensions || []).map(extensionView) })
        }
        if (this.data.items.some(i => i.canAssign) && !this.data.departments.length) await this.loadDepartments()
      } catch (err) {
        this.setData({ error: err.message })
      } finally {
        this.setData({ loading: false })
      }
    },

    async loadDepartments() {
      const body = await request({ path: '/api/departments', showError: false })
      this.setData({ departments: (body.items || []).map(d => ({ id: d.id, name: d.name, label: d.region_name ? `${d.name}（${d.region_name}）` : d.name })) })
    },

    at(list, event) {
      return rowIndex(this, list, event)
    },

    // --- deciding -------------------------------------------------------------------------------

    onOutcome(event) {
      const i = this.at('items', event)
      const k = Number(event.currentTarget.dataset.outcome)
      if (i >= 0 && k >= 0 && k < OUTCOMES.length) this.setData({ [`items[${i}].outcomeIndex`]: k, [`items[${i}].error`]: '' })
    },

    onExplanation(event) {
      const i = this.at('items', event)
      if (i >= 0) this.setData({ [`items[${i}].explanation`]: event.detail.value, [`items[${i}].error`]: '' })
    },

    async onDecide(event) {
      const i = this.at('items', event)
      if (i < 0 || this.data.busy) return
      const item = this.data.items[i]
      const outcome = OUTCOMES[item.outcomeIndex]
      if (!outcome) {
        this.setData({ [`items[${i}].error`]: '请选择研究结果' })
        return
      }
      const explanation = String(item.explanation || '').trim()
      if (outcome.explain && !explanation) {
        this.setData({ [`items[${i}].error`]: '请写明给群众的解释说明' })
        return
      }
      if (explanation.length > EXPLANATION_MAX) {
        this.setData({ [`items[${i}].error`]: `解释说明不能超过 ${EXPLANATION_MAX} 字` })
        return
      }
      const confirmed = await confirmModal({
        title: outcome.label,
        content: outcome.value === 'escalated'
          ? `确定把第 ${item.seq} 条意见通过政协渠道向上级反映吗？`
          : `确定对第 ${item.seq} 条意见作出“${outcome.label}”的决定吗？决定后不能更改。`,
        confirmText: '确定',
        cancelText: '取消',
      })
      if (!confirmed) return
      const data = { outcome: outcome.value }
      if (explanation) data.explanation = explanation
      await this.send('items', i, { path: `/api/opinion-items/${item.id}/decision`, method: 'POST', data }, '已作出决定')
    },

    // --- assigning (D20) --------------------------------------------------------------------------

    onLead(event) {
      const i = this.at('items', event)
      const k = Number(event.detail.value)
      if (i >= 0 && k >= 0 && k < this.data.departments.length) {
        const lead = this.data.departments[k].id
        this.setData({ [`items[${i}].leadIndex`]: k, ...this.coPatch(i, this.data.items[i].co.filter(id => id !== lead)) })
      }
    },

    onCoHandlers(event) {
      const i = this.at('items', event)
      if (i < 0) return
      const item = this.data.items[i]
      const lead = item.leadIndex >= 0 ? this.data.departments[item.leadIndex].id : null
      const co = (event.detail.value || []).map(Number).filter(id => id !== lead)
      this.setData(this.coPatch(i, co))
    },

    coPatch(i, co) {
      const coMap = {}
      co.forEach(id => { coMap[id] = true })
      return { [`items[${i}].co`]: co, [`items[${i}].coMap`]: coMap, [`items[${i}].error`]: '' }
    },

    onWorkdays(event) {
      const i = this.at('items', event)
      if (i >= 0) this.setData({ [`items[${i}].workdays`]: event.detail.value, [`items[${i}].error`]: '' })
    },

    async onAssign(event) {
      const i = this.at('items', event)
      if (i < 0 || this.data.busy) return
      const item = this.data.items[i]
      const lead = this.data.departments[item.leadIndex]
      if (!lead) {
        this.setData({ [`items[${i}].error`]: '请选择牵头承办部门' })
        return
      }
      const raw = String(item.workdays || '').trim()
      const workdays = Number(raw)
      if (!/^\d+$/.test(raw) || workdays < WORKDAYS_MIN || workdays > WORKDAYS_MAX) {
        this.setData({ [`items[${i}].error`]: `办理时限应为 ${WORKDAYS_MIN}–${WORKDAYS_MAX} 个工作日` })
        return
      }
      if (item.co.length > CO_MAX) {
        this.setData({ [`items[${i}].error`]: `协办部门最多 ${CO_MAX} 个` })
        return
      }
      const confirmed = await confirmModal({
        title: '交办',
        content: `确定把第 ${item.seq} 条意见交${lead.name}牵头办理，办理时限 ${workdays} 个工作日吗？`,
        confirmText: '交办',
        cancelText: '取消',
      })
      if (!confirmed) return
      const answer = await this.send('items', i, {
        path: `/api/opinion-items/${item.id}/assignment`,
        method: 'POST',
        data: { lead_body_id: lead.id, co_body_ids: item.co, workdays },
      }, null)
      if (answer && answer.task) {
        const due = dateText(answer.task.due_on)
        wx.showToast({ title: `已交办，办理期限${due}`, icon: 'none' })
      }
    },

    // --- extension requests ----------------------------------------------------------------------

    async onApproveExtension(event) {
      const i = this.at('extensions', event)
      if (i < 0 || this.data.busy) return
      const x = this.data.extensions[i]
      const confirmed = await confirmModal({
        title: '同意延期',
        content: `确定同意${x.lead}把办理期限延至${x.requestedText}吗？`,
        confirmText: '同意',
        cancelText: '取消',
      })
      if (!confirmed) return
      await this.send('extensions', i, { path: `/api/extension-requests/${x.id}/decision`, method: 'POST', data: { approve: true } }, '已同意延期')
    },

    onStartRefuse(event) { refuseBox.start(this, event) },
    onCancelRefuse(event) { refuseBox.cancel(this, event) },
    onRefuseNote(event) { refuseBox.input(this, event) },

    async onConfirmRefuse(event) {
      const got = refuseBox.take(this, event)
      if (!got) return
      const { i, row: x, text: note } = got
      await this.send('extensions', i, { path: `/api/extension-requests/${x.id}/decision`, method: 'POST', data: { approve: false, note } }, '已答复')
    },

    // One action; the lists are read again afterwards (or when the item changed meanwhile).
    async send(list, i, options, doneText) {
      this.setData({ busy: true })
      let body
      try {
        body = await request(options)
      } catch (err) {
        this.setData({ busy: false })
        if (STALE_CODES.indexOf(err.code) >= 0) {
          this.setData({ notice: err.message })
          await this.load()
        } else {
          this.setData({ [`${list}[${i}].error`]: err.message })
        }
        return null
      }
      this.setData({ busy: false, notice: '' })
      if (doneText) wx.showToast({ title: doneText, icon: 'none' })
      await this.load()
      return body
    },
  },
})
