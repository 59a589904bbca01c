// 我的督办 (D24): the items CPPCC staff named this member to track, GET /api/me/supervision:
// the item, topic, state, lead department, due date and working days overdue, the reason it is
// key, and every supervision note so far. The member adds a note (text + optional photos from
// wx.chooseMedia, POST /api/uploads) with POST /api/opinion-items/<id>/supervision-notes.
const { request } = require('../../utils/request')
const { uploadPhoto } = require('../../utils/upload')
const { dateText, overdueText } = require('../../utils/followup')

const MAX_PHOTOS = 9

/** One SupervisedItem (app/followup/schemas.py). */
function itemView(i) {
  return {
    id: i.item_id,
    text: i.item_text || '',
    topic: i.topic_title || '',
    platform: i.platform_name || '',
    stateLabel: i.state_label || '',
    reason: i.key_reason || '',
    department: i.department || '',
    percentText: i.percent != null && i.task_id ? `进度 ${i.percent}%` : '',
    dueText: i.due_on ? `办理期限：${dateText(i.due_on)}` : '',
    overdueText: overdueText(i),
    notes: (i.notes || []).map(n => ({ id: n.id, text: n.text, author: n.author_name || '', photos: n.photos || [] })),
    writing: false,
    note: '',
    photos: [], // [{ key, url }]
    error: '',
    busy: false,
  }
}

Component({
  data: { items: [], loading: true, error: '' },

  methods: {
    onLoad() {
      return this.load()
    },

    onPullDownRefresh() {
      return this.load().then(() => wx.stopPullDownRefresh())
    },

    async load() {
      this.setData({ loading: true, error: '' })
      try {
        const body = await request({ path: '/api/me/supervision', showError: false })
        this.setData({ items: (body.items || []).map(itemView) })
      } catch (err) {
        this.setData({ error: err.message })
      } finally {
        this.setData({ loading: false })
      }
    },

    index(e) {
      return Number(e.currentTarget.dataset.index)
    },

    onWrite(e) {
      this.setData({ [`items[${this.index(e)}].writing`]: true })
    },

    onNoteInput(e) {
      this.setData({ [`items[${this.index(e)}].note`]: e.detail.value })
    },

    async onAddPhotos(e) {
      const i = this.index(e)
      const left = MAX_PHOTOS - this.data.items[i].photos.length
      if (left <= 0) return
      const files = await new Promise(resolve => wx.chooseMedia({
        count: left, mediaType: ['image'], sizeType: ['compressed'],
        success: res => resolve(res.tempFiles || []), fail: () => resolve([]),
      }))
      for (const f of files) {
        try {
          const body = await uploadPhoto({ filePath: f.tempFilePath })
          this.setData({ [`items[${i}].photos`]: [...this.data.items[i].photos, { key: body.key, url: f.tempFilePath }] })
        } catch (err) {
          // The upload helper has shown the server's message.
        }
      }
    },

    async onSubmit(e) {
      const i = this.index(e)
      const item = this.data.items[i]
      const text = item.note.trim()
      if (!text) return this.setData({ [`items[${i}].error`]: '请填写督办意见' })
      if (item.busy) return
      this.setData({ [`items[${i}].busy`]: true, [`items[${i}].error`]: '' })
      try {
        const body = await request({
          path: `/api/opinion-items/${item.id}/supervision-notes`, method: 'POST',
          data: { text, upload_keys: item.photos.map(p => p.key) },
        })
        this.setData({ [`items[${i}]`]: itemView(body) })
        wx.showToast({ title: '已记录', icon: 'success' })
      } catch (err) {
        this.setData({ [`items[${i}].error`]: err.message, [`items[${i}].busy`]: false })
      }
    },

    onPreview(e) {
      wx.previewImage({ urls: [e.currentTarget.dataset.url], current: e.currentTarget.dataset.url })
    },

    onRetry() {
      return this.load()
    },
  },
})
