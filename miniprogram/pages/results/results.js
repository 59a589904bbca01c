// The public results of one topic (query id): what became of it, for anyone — the suggestions
// it came from, approval, research, the consultation, then every opinion item as a card with
// its decision (D19, D22 escalation trail, D23 explanation) and the handling department's
// progress bar, plan, events and result (D20, D21); then the feedback list (D21) and the
// evaluations with the model case badge (D26–D27), and a 我要评价 button per held consultation
// that opens pages/rate. GET /api/topics/<id>/results is public:
// names are masked and phone numbers blanked by the server. Shareable (onShareAppMessage).
const { request } = require('../../utils/request')
const { idFrom } = require('../../utils/query')
const { resultsView } = require('../../utils/results_format')

const INVALID_ID = '未找到该议题'

Component({
  data: {
    id: '',
    loading: true,
    error: '',
    r: null,
  },

  methods: {
    onLoad(query) {
      const id = idFrom(query)
      if (!id) {
        this.setData({ loading: false, error: INVALID_ID })
        return Promise.resolve()
      }
      this.setData({ id })
      return this.load()
    },

    onRetry() {
      return this.load()
    },

    onPullDownRefresh() {
      return this.load().then(() => wx.stopPullDownRefresh())
    },

    async load() {
      if (!this.data.id) return
      this.setData({ loading: true, error: '' })
      try {
        const r = resultsView(await request({ path: `/api/topics/${this.data.id}/results` }))
        this.setData({ loading: false, r })
      } catch (err) {
        this.setData({ loading: false, r: null, error: err.message })
      }
    },

    onOpenSuggestion(event) {
      wx.navigateTo({ url: `/pages/suggestion/suggestion?id=${event.currentTarget.dataset.id}` })
    },

    // D27: the rate page itself checks who may rate and shows the server's refusal.
    onRate(event) {
      wx.navigateTo({ url: `/pages/rate/rate?id=${event.currentTarget.dataset.id}` })
    },

    // The share card: residents pass the results on to neighbours in their chat groups.
    onShareAppMessage() {
      const r = this.data.r
      return {
        title: r ? `协商结果：${r.title}（${r.stageLabel}）` : '协商办理结果',
        path: `/pages/results/results?id=${this.data.id}`,
      }
    },
  },
})
