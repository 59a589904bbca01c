// Platform detail (public): name, secondary name (D4), kind (D1), venue, six musts (D3),
// and the way to its residents' suggestions (list, propose).
const { request } = require('../../utils/request')
const { platformDetail } = require('../../utils/format')
const { idFrom } = require('../../utils/query')

Component({
  data: {
    id: null,
    platform: null,
    loading: true,
    error: '',
  },

  methods: {
    onLoad(query) {
      const id = idFrom(query)
      if (!id) {
        this.setData({ loading: false, error: '未找到该协商议事平台' })
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
      try {
        const body = await request({ path: `/api/platforms/${this.data.id}`, auth: false })
        const platform = platformDetail(body)
        this.setData({ platform })
        if (platform.name) wx.setNavigationBarTitle({ title: platform.name })
      } catch (err) {
        this.setData({ platform: null, error: err.message })
      } finally {
        this.setData({ loading: false })
      }
    },

    onOpenSuggestions() {
      wx.navigateTo({ url: `/pages/suggestions/suggestions?platform_id=${this.data.id}` })
    },

    onPropose() {
      wx.navigateTo({ url: `/pages/propose/propose?platform_id=${this.data.id}` })
    },

    onOpenMap() {
      const p = this.data.platform
      if (!p || p.latitude === null || p.longitude === null) return
      wx.openLocation({ latitude: p.latitude, longitude: p.longitude, name: p.name, address: p.address, scale: 16 })
    },
  },
})
