// The opinion list of a consultation (query id = consultation id), for the convenor after the
// meeting (D17, D18): each opinion with what it says, the group that raised it and the level
// that can resolve it (本级可解决 / 需县（区）解决 / 需市级解决); lines can be added and removed.
// 保存 sends the whole list: PUT /api/consultations/<id>/opinions {items: [{text, raised_by,
// scope}]}. 报送 asks in a wx.showModal, then POST …/opinions/route (with an Idempotency-Key kept
// until it succeeds); afterwards the list is read-only and the routings are shown (body_name,
// scope_label, state_label; a copy nobody can read shows its blocked_reason, e.g. 无人接收). No list yet (404 opinion_list_not_found) starts with an empty line.
// ?routing=<id> (a reviewer's notice) opens pages/item-decide for that received copy.
// D21: once a routed list's items are all settled, GET …/feedback-list answers 200 and a
// 结果反馈清单 card shows its summary with 下载 Word / 下载 Excel (utils/download.js: the file is
// downloaded with the token and opened, forwardable). 404 feedback_list_not_found: no card. The
// feedback notice brings handlers and upper-level reviewers here too, who may read the feedback
// list but not the opinion list (404): they see the card alone.
const { request } = require('../../utils/request')
const { actionKey } = require('../../utils/idempotency')
const { formatTime } = require('../../utils/format')
const { GROUP_LABELS } = require('../../utils/meetings_format')
const { confirmModal } = require('../../utils/modal')
const { idFrom } = require('../../utils/query')
const { openFile } = require('../../utils/download')

const INVALID_ID = '会议链接无效，请从会议页面重新打开'
const TEXT_MAX = 2000 // app/consultations/schemas.py OpinionItemIn
const ITEMS_MAX = 100
const SAVE_FIRST = '请先保存修改，再报送'

const GROUPS = ['resident', 'stakeholder', 'member', 'official', 'department'].map(value => ({ value, label: GROUP_LABELS[value] }))
// app/consultations/rules.py OpinionScope / SCOPE_LABELS
const SCOPES = [
  { value: 'local', label: '本级可解决' },
  { value: 'county', label: '需县（区）解决' },
  { value: 'city', label: '需市级解决' },
]

function indexOf(list, value) {
  const i = list.findIndex(x => x.value === value)
  return i >= 0 ? i : 0
}

let itemSeq = 0
function itemLine(text = '', groupIndex = 0, scopeIndex = 0) {
  itemSeq += 1
  return { key: `o${itemSeq}`, text, groupIndex, scopeIndex }
}

// FeedbackListOut (app/followup/feedback_routes.py) → the card.
function feedbackView(body, id) {
  const base = `/api/consultations/${id}/feedback-list`
  return {
    title: body.title || '结果反馈清单',
    summary: body.summary || '',
    timeText: body.compiled_at ? `${formatTime(body.compiled_at)} 形成` : '',
    wordUrl: body.word_url || `${base}.docx`,
    excelUrl: body.excel_url || `${base}.xlsx`,
  }
}

function routingView(r) {
  return {
    id: r.id,
    bodyName: r.body_name || '',
    scopeLabel: r.scope_label || '',
    stateLabel: r.state_label || '',
    note: r.note || '',
    blocked: r.blocked_reason || '', // 无人接收: the body has no reviewer; staff were alerted
    decidedText: r.decided_at ? formatTime(r.decided_at) : '',
  }
}

Component({
  data: {
    id: '',
    invalid: '',
    loading: true,
    error: '',
    title: '',
    routed: false,
    routedText: '',
    items: [],
    readItems: [],
    routings: [],
    feedback: null,
    feedbackError: '',
    feedbackOnly: false,
    groups: GROUPS,
    scopes: SCOPES,
    dirty: false,
    saved: false,

    formError: '',
    saving: false,
    saveError: '',
    routing: false,
    routeError: '',
    downloading: false,
  },

  methods: {
    onLoad(query) {
      // A reviewer's notice links a received copy (app/consultations/opinions.py inbox_link):
      // its items are decided one by one on the item-decide page.
      const routing = idFrom(query, 'routing')
      if (routing) {
        wx.redirectTo({ url: `/pages/item-decide/item-decide?routing=${routing}` })
        return Promise.resolve()
      }
      const id = idFrom(query)
      if (!id) {
        this.setData({ invalid: INVALID_ID, loading: false })
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
      let body = null
      let listError = null
      try {
        body = await request({ path: `/api/consultations/${this.data.id}/opinions`, showError: false })
      } catch (err) {
        listError = err
      }
      if (body) {
        this.apply(body)
      } else if (listError.code === 'opinion_list_not_found') {
        this.setData({ items: [itemLine()], saved: false, dirty: false })
      }
      // Only a routed list can have a feedback list (D21); a 404 may be someone who reads
      // only the feedback list (a handler, an upper-level reviewer).
      const routed = body && body.state === 'routed'
      const hidden = listError && listError.status === 404 && listError.code !== 'opinion_list_not_found'
      const feedback = routed || hidden ? await this.loadFeedback() : { feedback: null, feedbackError: '' }
      const unreadable = Boolean(listError) && listError.code !== 'opinion_list_not_found'
      this.setData({
        ...feedback,
        feedbackOnly: unreadable && Boolean(feedback.feedback),
        error: unreadable && !feedback.feedback ? listError.message : '',
        loading: false,
      })
    },

    /** GET …/feedback-list: the card, nothing (404: not compiled yet, or not for this person),
     *  or a quiet line when it could not be read. */
    async loadFeedback() {
      try {
        const body = await request({ path: `/api/consultations/${this.data.id}/feedback-list`, showError: false })
        return { feedback: feedbackView(body, this.data.id), feedbackError: '' }
      } catch (err) {
        return { feedback: null, feedbackError: err.status === 404 ? '' : `结果反馈清单暂时无法读取：${err.message}` }
      }
    },

    onDownloadWord() {
      return this.download('wordUrl', 'docx')
    },

    onDownloadExcel() {
      return this.download('excelUrl', 'xlsx')
    },

    async download(field, fileType) {
      const f = this.data.feedback
      if (!f || this.data.downloading) return
      this.setData({ downloading: true })
      try {
        await openFile({ path: f[field], fileType, name: f.title })
      } catch (err) {
        // openFile has shown the message
      } finally {
        this.setData({ downloading: false })
      }
    },

    /** OpinionListOut → the form (a draft) or the read-only list with its routings. */
    apply(body) {
      const items = body.items || []
      const routed = body.state === 'routed'
      this.setData({
        title: body.title || '',
        routed,
        routedText: routed && body.routed_at ? `已于 ${formatTime(body.routed_at)} 报送` : '',
        items: items.map(i => itemLine(i.text || '', indexOf(GROUPS, i.raised_by), indexOf(SCOPES, i.scope))),
        readItems: items.map(i => ({
          seq: i.seq,
          text: i.text || '',
          raisedByLabel: i.raised_by_label || GROUP_LABELS[i.raised_by] || '',
          scopeLabel: i.scope_label || '',
        })),
        routings: (body.routings || []).map(routingView),
        saved: items.length > 0,
        dirty: false,
      })
    },

    // --- editing ----------------------------------------------------------------------------------

    edited(patch) {
      this._routeKey = null
      this.setData({ ...patch, dirty: true, formError: '', saveError: '', routeError: '' })
    },

    at(event) {
      const index = Number(event.currentTarget.dataset.index)
      return index >= 0 && index < this.data.items.length ? index : -1
    },

    onTextInput(event) {
      const i = this.at(event)
      if (i >= 0) this.edited({ [`items[${i}].text`]: event.detail.value })
    },

    onGroup(event) {
      const i = this.at(event)
      const value = Number(event.detail.value)
      if (i >= 0 && value >= 0 && value < GROUPS.length) this.edited({ [`items[${i}].groupIndex`]: value })
    },

    onScope(event) {
      const i = this.at(event)
      const value = Number(event.detail.value)
      if (i >= 0 && value >= 0 && value < SCOPES.length) this.edited({ [`items[${i}].scopeIndex`]: value })
    },

    onAdd() {
      if (this.data.items.length >= ITEMS_MAX) {
        this.setData({ formError: `意见清单最多 ${ITEMS_MAX} 条` })
        return
      }
      this.edited({ items: this.data.items.concat([itemLine()]) })
    },

    onRemove(event) {
      const i = this.at(event)
      if (i >= 0) this.edited({ items: this.data.items.filter((_, n) => n !== i) })
    },

    validate() {
      const items = this.data.items
      if (!items.length) return '请至少填写一条意见'
      for (let n = 0; n < items.length; n++) {
        const text = String(items[n].text || '').trim()
        if (!text) return `第 ${n + 1} 条意见内容为空`
        if (text.length > TEXT_MAX) return `第 ${n + 1} 条意见超过 ${TEXT_MAX} 字`
      }
      return ''
    },

    // PUT replaces the whole list: trying again sends the same list, so no key is needed.
    async onSave() {
      if (this.data.saving || this.data.routed) return
      const problem = this.validate()
      if (problem) {
        this.setData({ formError: problem })
        return
      }
      const items = this.data.items.map(i => ({
        text: String(i.text).trim(),
        raised_by: GROUPS[i.groupIndex].value,
        scope: SCOPES[i.scopeIndex].value,
      }))
      this.setData({ saving: true, formError: '', saveError: '' })
      try {
        const body = await request({ path: `/api/consultations/${this.data.id}/opinions`, method: 'PUT', data: { items } })
        this.apply(body)
        wx.showToast({ title: '意见清单已保存', icon: 'none' })
      } catch (err) {
        this.setData({ saveError: err.message }) // the form stays as it was
      } finally {
        this.setData({ saving: false })
      }
    },

    async onRoute() {
      if (this.data.routing || this.data.routed) return
      if (this.data.dirty || !this.data.saved) {
        this.setData({ routeError: SAVE_FIRST })
        return
      }
      const confirmed = await confirmModal({
        title: '报送意见清单',
        content: `共 ${this.data.items.length} 条意见。报送后清单不能再修改，将按解决层级送交相关党委、政府和部门。确定报送吗？`,
        confirmText: '报送',
        cancelText: '取消',
      })
      if (!confirmed) return
      if (!this._routeKey) this._routeKey = actionKey()
      this.setData({ routing: true, routeError: '' })
      try {
        const body = await request({
          path: `/api/consultations/${this.data.id}/opinions/route`,
          method: 'POST',
          idempotencyKey: this._routeKey.current(),
        })
        this._routeKey = null
        this.apply(body)
        wx.showToast({ title: '意见清单已报送', icon: 'none' })
      } catch (err) {
        this.setData({ routeError: err.message })
        if (err.code === 'opinion_list_routed') await this.load() // routed meanwhile
      } finally {
        this.setData({ routing: false })
      }
    },
  },
})
