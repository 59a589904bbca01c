// The minutes of a consultation (query id = consultation id), kept by the convenor during the
// meeting: the speeches in order (GET /api/consultations/<id>/minutes) with the server's D16
// reminders (`notes`: residents speak first and most), and a form to add one — speaker's name,
// group, what was said — POST …/minutes with an Idempotency-Key kept until the speech is
// recorded. Refusals (409 research_required: 不调研不协商, consultation_cancelled, …) show the
// server's message and keep the form. Once the opinion list is routed (the meeting's state
// `concluded`, read from GET /api/consultations/<id>; or a 409 consultation_concluded) the record
// is closed: the speeches are shown read-only with a line saying so, without the form.
const { request } = require('../../utils/request')
const { actionKey } = require('../../utils/idempotency')
const { formatTime } = require('../../utils/format')
const { GROUP_LABELS, RECORD_CLOSED_TEXT } = require('../../utils/meetings_format')
const { idFrom } = require('../../utils/query')

const INVALID_ID = '会议链接无效，请从会议页面重新打开'
const SPEAKER_MAX = 40 // app/consultations/schemas.py SpeechIn
const TEXT_MAX = 5000
const SPEAKER_REQUIRED = '请填写发言人'
const TEXT_REQUIRED = '请填写发言内容'

// D16: residents first, so they head the picker.
const GROUPS = ['resident', 'stakeholder', 'member', 'official', 'department'].map(value => ({ value, label: GROUP_LABELS[value] }))

function speechView(s) {
  return {
    seq: s.seq,
    speaker: s.speaker_name || '',
    groupLabel: s.group_label || GROUP_LABELS[s.group] || '',
    text: s.text || '',
    timeText: formatTime(s.created_at),
  }
}

Component({
  data: {
    id: '',
    invalid: '',
    loading: true,
    error: '',
    speeches: [],
    notes: [],
    closed: '', // RECORD_CLOSED_TEXT once the opinion list is routed

    groups: GROUPS,
    groupIndex: 0,
    speaker: '',
    text: '',
    formError: '',
    submitError: '',
    submitting: false,
  },

  methods: {
    onLoad(query) {
      const id = idFrom(query)
      if (!id) {
        this.setData({ invalid: INVALID_ID, loading: false })
        return Promise.resolve()
      }
      this.setData({ id })
      return this.load()
    },

    onPullDownRefresh() {
      return this.load().then(() => wx.stopPullDownRefresh())
    },

    onRetry() {
      return this.load()
    },

    async load() {
      this.setData({ loading: true, error: '' })
      // The meeting's state says whether the record is still open; without it the form stays
      // (the server refuses a closed record all the same).
      const state = request({ path: `/api/consultations/${this.data.id}`, showError: false })
        .then(body => (body && body.state) || '', () => '')
      try {
        const [minutes, now] = await Promise.all([
          request({ path: `/api/consultations/${this.data.id}/minutes`, showError: false }), state,
        ])
        this.apply(minutes)
        if (now === 'concluded') this.setData({ closed: RECORD_CLOSED_TEXT })
      } catch (err) {
        this.setData({ error: err.message })
      } finally {
        this.setData({ loading: false })
      }
    },

    apply(body) {
      this.setData({
        speeches: ((body && body.items) || []).map(speechView),
        notes: ((body && body.notes) || []).slice(),
      })
    },

    // --- a new speech -----------------------------------------------------------------------------

    onGroup(event) {
      const index = Number(event.detail.value)
      if (!(index >= 0 && index < GROUPS.length)) return
      this._key = null
      this.setData({ groupIndex: index, formError: '' })
    },

    onSpeakerInput(event) {
      this._key = null
      this.setData({ speaker: event.detail.value, formError: '' })
    },

    onTextInput(event) {
      this._key = null
      this.setData({ text: event.detail.value, formError: '' })
    },

    async onSubmit() {
      if (this.data.submitting) return
      const speaker = String(this.data.speaker || '').replace(/\s+/g, ' ').trim()
      const text = String(this.data.text || '').trim()
      const problem = !speaker ? SPEAKER_REQUIRED : !text ? TEXT_REQUIRED : ''
      if (problem) {
        this.setData({ formError: problem, submitError: '' })
        return
      }
      // The same speech tried again (after a lost answer) keeps its key.
      if (!this._key) this._key = actionKey()
      this.setData({ submitting: true, formError: '', submitError: '' })
      try {
        const body = await request({
          path: `/api/consultations/${this.data.id}/minutes`,
          method: 'POST',
          data: {
            group: GROUPS[this.data.groupIndex].value,
            text: text.slice(0, TEXT_MAX),
            speaker_name: speaker.slice(0, SPEAKER_MAX),
          },
          idempotencyKey: this._key.current(),
        })
        this._key = null
        this.apply(body)
        this.setData({ speaker: '', text: '' })
        wx.showToast({ title: '发言已记录', icon: 'none' })
      } catch (err) {
        // The wrapper has shown the message; it stays on the page with the form as it was.
        this.setData({ submitError: err.message })
        if (err.code === 'consultation_concluded') this.setData({ closed: RECORD_CLOSED_TEXT, notes: [] })
      } finally {
        this.setData({ submitting: false })
      }
    },
  },
})
