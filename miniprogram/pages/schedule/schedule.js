// Scheduling a consultation on an approved topic (query topic_id), for the platform's convenor
// on a phone: start and end (date and time pickers, China time, sent as ISO 8601 with +08:00),
// the place (议事室 / 现场 / 网上 with the fields each needs), the agenda lines, the capacity and
// how many days before the meeting the briefing goes out (default 3).
// POST /api/topics/<topic_id>/consultations with an Idempotency-Key that is kept until the
// meeting is created (a retry after a lost answer sends the same key); on success the meeting
// page opens. A refusal (topic_not_approved, consultation_exists, starts_in_past, …) shows the
// server's message and keeps the form as it was.
const { request } = require('../../utils/request')
const { actionKey } = require('../../utils/idempotency')
const { idFrom } = require('../../utils/query')

const INVALID_TOPIC = '议题链接无效，请从议题页面重新打开'
const PLACE_MAX = 200 // app/consultations/schemas.py ConsultationIn
const URL_MAX = 300
const AGENDA_ITEM_MAX = 100
const AGENDA_MAX = 20
const CAPACITY_MAX = 2000
const BRIEFING_DAYS_MAX = 14
const DEFAULT_BRIEFING_DAYS = 3
const KEPT_NOTE = '您填写的内容已保留，修改后可以再次提交。'

// app/consultations/models.py PlaceKind / PLACE_KIND_LABELS
const PLACE_KINDS = [
  { value: 'venue', label: '议事室', hint: '在本平台的议事室召开；地点可不填，默认用平台登记的议事场所地址。' },
  { value: 'mobile', label: '现场', hint: '到问题现场召开（移动协商），请填写具体地点。' },
  { value: 'online', label: '网上', hint: '网上协商，请填写会议链接（https 开头）和会议名称或平台。' },
]

function pad2(n) {
  return n < 10 ? `0${n}` : `${n}`
}

/** Today in China time as YYYY-MM-DD (the date picker's lower bound). */
function chinaToday(now = Date.now()) {
  const d = new Date(now + 8 * 3600 * 1000)
  return `${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())}`
}

/** "2026-12-10" + "14:30" → "2026-12-10T14:30:00+08:00" (China time, as the server asks). */
function isoChina(date, time) {
  return `${date}T${time}:00+08:00`
}

function singleLine(text) {
  return String(text || '').replace(/\s+/g, ' ').trim()
}

let agendaSeq = 0
function agendaLine(text = '') {
  agendaSeq += 1
  return { key: `a${agendaSeq}`, text }
}

Component({
  data: {
    topicId: '',
    invalid: '',
    topicTitle: '',
    topicNote: '',
    today: '',
    placeKinds: PLACE_KINDS,

    startDate: '',
    startTime: '14:30',
    endDate: '',
    endTime: '16:30',
    placeKind: 'venue',
    placeHint: PLACE_KINDS[0].hint,
    place: '',
    onlineUrl: '',
    agenda: [],
    capacity: '',
    briefingDays: `${DEFAULT_BRIEFING_DAYS}`,

    formError: '',
    submitError: '',
    submitting: false,
  },

  methods: {
    onLoad(query) {
      const id = idFrom(query, 'topic_id')
      if (!id) {
        this.setData({ invalid: INVALID_TOPIC })
        return Promise.resolve()
      }
      this.setData({ topicId: id, today: chinaToday(), agenda: [agendaLine()] })
      return this.loadTopic()
    },

    // The topic's title heads the form. Only a help: the form works without it, and the server
    // decides whether the topic may be scheduled.
    async loadTopic() {
      try {
        const topic = await request({ path: `/api/topics/${this.data.topicId}`, showError: false })
        const note = topic.state && topic.state !== 'approved'
          ? `该议题目前为“${topic.state_label || topic.state}”，议题审定后才能安排协商。`
          : ''
        this.setData({ topicTitle: topic.title || '', topicNote: note })
      } catch (err) {
        this.setData({ topicTitle: '', topicNote: '' })
      }
    },

    // --- the form -------------------------------------------------------------------------------

    edited(patch) {
      this.setData({ ...patch, formError: '' })
    },

    onStartDate(event) {
      const startDate = event.detail.value
      const patch = { startDate }
      if (!this.data.endDate || this.data.endDate < startDate) patch.endDate = startDate
      this.edited(patch)
    },

    onStartTime(event) {
      this.edited({ startTime: event.detail.value })
    },

    onEndDate(event) {
      this.edited({ endDate: event.detail.value })
    },

    onEndTime(event) {
      this.edited({ endTime: event.detail.value })
    },

    onPlaceKind(event) {
      const value = event.currentTarget.dataset.value
      const kind = PLACE_KINDS.find(k => k.value === value)
      if (!kind) return
      this.edited({ placeKind: kind.value, placeHint: kind.hint })
    },

    onPlaceInput(event) {
      this.edited({ place: event.detail.value })
    },

    onUrlInput(event) {
      this.edited({ onlineUrl: event.detail.value })
    },

    onAgendaInput(event) {
      const index = Number(event.currentTarget.dataset.index)
      if (!(index >= 0 && index < this.data.agenda.length)) return
      this.edited({ [`agenda[${index}].text`]: event.detail.value })
    },

    onAddAgenda() {
      if (this.data.agenda.length >= AGENDA_MAX) {
        this.setData({ formError: `议程最多 ${AGENDA_MAX} 项` })
        return
      }
      this.edited({ agenda: this.data.agenda.concat([agendaLine()]) })
    },

    onRemoveAgenda(event) {
      const index = Number(event.currentTarget.dataset.index)
      const agenda = this.data.agenda.filter((_, i) => i !== index)
      this.edited({ agenda })
    },

    onCapacityInput(event) {
      this.edited({ capacity: event.detail.value })
    },

    onBriefingInput(event) {
      this.edited({ briefingDays: event.detail.value })
    },

    /** The first problem with the form in Chinese, or '' (the server checks again). */
    validate() {
      const d = this.data
      if (!d.startDate || !d.startTime) return '请选择开始日期和时间'
      if (!d.endDate || !d.endTime) return '请选择结束日期和时间'
      const start = Date.parse(isoChina(d.startDate, d.startTime))
      const end = Date.parse(isoChina(d.endDate, d.endTime))
      if (!(start > Date.now())) return '协商时间应晚于现在'
      if (!(end > start)) return '结束时间应晚于开始时间'
      if (end - start > 12 * 3600 * 1000) return '一次协商活动不超过 12 小时'
      const place = singleLine(d.place)
      if (d.placeKind !== 'venue' && !place) return '请填写协商地点'
      if (place.length > PLACE_MAX) return `地点最多 ${PLACE_MAX} 字`
      if (d.placeKind === 'online') {
        const url = String(d.onlineUrl || '').trim()
        if (!url) return '网上协商需要填写会议链接'
        if (!/^https:\/\/\S+$/.test(url) || url.length > URL_MAX) return '会议链接应以 https:// 开头，且不含空格'
      }
      for (let i = 0; i < d.agenda.length; i++) {
        if (singleLine(d.agenda[i].text).length > AGENDA_ITEM_MAX) return `第 ${i + 1} 项议程超过 ${AGENDA_ITEM_MAX} 字`
      }
      const capacity = String(d.capacity || '').trim()
      if (capacity && (!/^\d+$/.test(capacity) || Number(capacity) < 1 || Number(capacity) > CAPACITY_MAX)) {
        return `可容纳人数应为 1–${CAPACITY_MAX} 的整数`
      }
      const days = String(d.briefingDays || '').trim()
      if (days && (!/^\d+$/.test(days) || Number(days) > BRIEFING_DAYS_MAX)) {
        return `会前通报应在会前 0–${BRIEFING_DAYS_MAX} 天发送`
      }
      return ''
    },

    /** The body of POST /api/topics/<id>/consultations (ConsultationIn). */
    payload() {
      const d = this.data
      const data = {
        starts_at: isoChina(d.startDate, d.startTime),
        ends_at: isoChina(d.endDate, d.endTime),
        place_kind: d.placeKind,
        agenda: d.agenda.map(a => singleLine(a.text)).filter(Boolean),
        briefing_days_before: String(d.briefingDays || '').trim() === ''
          ? DEFAULT_BRIEFING_DAYS
          : Number(d.briefingDays),
      }
      const place = singleLine(d.place)
      if (place) data.place = place
      if (d.placeKind === 'online') data.online_url = String(d.onlineUrl).trim()
      const capacity = String(d.capacity || '').trim()
      if (capacity) data.capacity = Number(capacity)
      return data
    },

    async onSubmit() {
      if (this.data.submitting || !this.data.topicId) return
      const problem = this.validate()
      if (problem) {
        this.setData({ formError: problem, submitError: '' })
        wx.showToast({ title: problem, icon: 'none', duration: 2500 })
        return
      }
      // One key until the meeting is created: a retry after a network failure sends the same
      // key, so the meeting is created once.
      if (!this._submitKey) this._submitKey = actionKey()
      this.setData({ submitting: true, formError: '', submitError: '' })
      let body
      try {
        body = await request({
          path: `/api/topics/${this.data.topicId}/consultations`,
          method: 'POST',
          data: this.payload(),
          idempotencyKey: this._submitKey.current(),
          showError: false,
        })
      } catch (err) {
        // A key the server has seen with another form: the next try starts afresh.
        if (err.code === 'idempotency_key_reused') this._submitKey = null
        const message = err.message || '提交失败，请稍后重试'
        this.setData({ submitting: false, submitError: `${message.replace(/。$/, '')}。${KEPT_NOTE}` })
        wx.showToast({ title: message, icon: 'none', duration: 2500 })
        return
      }
      this._submitKey = null
      this.setData({ submitting: false })
      wx.showToast({ title: '协商会议已安排', icon: 'success' })
      wx.redirectTo({ url: `/pages/meeting/meeting?id=${body.id}` })
    },
  },
})
