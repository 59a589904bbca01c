// "我的会议": the consultation meetings I am invited to (GET /api/me/consultations, newest
// first), each with its time in China time, place, state and my answer ("未答复" stands out).
// Tap one for the meeting page. 401 is handled by utils/request.js (log in, retry once).
const { request } = require('../../utils/request')
const { meetingListItem } = require('../../utils/meetings_format')

Component({
  data: {
    loading: true,
    error: '',
    items: [],
  },

  methods: {
    onLoad() {
      return this.load()
    },

    // Coming back from a meeting page: the answer may have changed there. The first onShow
    // comes right after onLoad.
    onShow() {
      if (!this._shown) {
        this._shown = true
        return Promise.resolve()
      }
      if (this.data.loading) return Promise.resolve()
      return this.load({ quiet: true })
    },

    onPullDownRefresh() {
      return this.load({ quiet: true }).then(() => wx.stopPullDownRefresh())
    },

    onRetry() {
      return this.load()
    },

    // quiet: keep the list on the screen while it reloads, and keep it when the reload fails.
    async load({ quiet = false } = {}) {
      if (!quiet || !this.data.items.length) this.setData({ loading: true, error: '' })
      try {
        const body = await request({ path: '/api/me/consultations', showError: quiet })
        this.setData({ loading: false, error: '', items: (body.items || []).map(item => meetingListItem(item)) })
      } catch (err) {
        if (quiet && this.data.items.length) return
        this.setData({ loading: false, items: [], error: err.message })
      }
    },

    onOpen(event) {
      wx.navigateTo({ url: `/pages/meeting/meeting?id=${event.currentTarget.dataset.id}` })
    },
  },
})
