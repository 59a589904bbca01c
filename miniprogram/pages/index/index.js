// Nearby platforms. Asks for the location; if refused (or unavailable) lists all platforms
// without `near`. Written with Component() — WeChat runs it as a page, and so can the tests.
const { request } = require('../../utils/request')
const config = require('../../utils/config')
const { platformListItem } = require('../../utils/format')

const EMPTY_NEAR = '附近暂无协商议事平台'
const EMPTY_ALL = '暂无协商议事平台'

function getLocation() {
  return new Promise((resolve, reject) => {
    wx.getLocation({ type: 'gcj02', success: resolve, fail: reject })
  })
}

Component({
  data: {
    items: [],
    nextCursor: null,
    near: '',
    locationDenied: false,
    loading: false,
    loadingMore: false,
    error: '',
    emptyText: '',
  },

  methods: {
    onLoad() {
      return this.refresh()
    },

    onPullDownRefresh() {
      return this.refresh().then(() => wx.stopPullDownRefresh())
    },

    onReachBottom() {
      return this.loadMore()
    },

    onRetry() {
      return this.refresh()
    },

    // The location was refused earlier: WeChat does not ask again, the settings page can.
    onEnableLocation() {
      return new Promise(resolve => {
        wx.openSetting({
          success: res => resolve(Boolean(res.authSetting && res.authSetting['scope.userLocation'])),
          fail: () => resolve(false),
        })
      }).then(allowed => (allowed ? this.refresh() : undefined))
    },

    onOpen(event) {
      const id = event.currentTarget.dataset.id
      wx.navigateTo({ url: `/pages/platform/platform?id=${id}` })
    },

    async refresh() {
      this.setData({ loading: true, error: '' })
      let near = ''
      try {
        const loc = await getLocation()
        near = `${loc.latitude.toFixed(6)},${loc.longitude.toFixed(6)}`
      } catch (err) {
        near = '' // refused, switched off or timed out: the whole list instead
      }
      this.setData({ near, locationDenied: !near })
      try {
        const page = await this.fetchPage(null)
        this.setData({
          items: (page.items || []).map(platformListItem),
          nextCursor: page.next_cursor || null,
          emptyText: near ? EMPTY_NEAR : EMPTY_ALL,
        })
      } catch (err) {
        this.setData({ items: [], nextCursor: null, error: err.message })
      } finally {
        this.setData({ loading: false })
      }
    },

    async loadMore() {
      if (this.data.loading || this.data.loadingMore || !this.data.nextCursor) return
      this.setData({ loadingMore: true })
      try {
        const page = await this.fetchPage(this.data.nextCursor)
        this.setData({
          items: this.data.items.concat((page.items || []).map(platformListItem)),
          nextCursor: page.next_cursor || null,
        })
      } catch (err) {
        // The toast has told the user; scrolling down again retries.
      } finally {
        this.setData({ loadingMore: false })
      }
    },

    fetchPage(cursor) {
      const near = this.data.near
      return request({
        path: '/api/platforms',
        query: {
          near: near || undefined,
          radius_km: near ? config.NEARBY_RADIUS_KM : undefined,
          limit: config.PAGE_SIZE,
          cursor: cursor || undefined,
        },
        auth: false,
      })
    },
  },
})
