// My account: login state, masked phone with the "绑定手机号" button, my roles in Chinese.
const auth = require('../../utils/auth')
const { request } = require('../../utils/request')
const { meView } = require('../../utils/format')
const sandbox = require('../../utils/sandbox')

Component({
  data: {
    status: 'loading', // loading | ready | error | logged_out
    error: '',
    name: '',
    phoneMasked: '',
    roles: [],
    platforms: [],
    binding: false,
  },

  methods: {
    onLoad() {
      return this.load()
    },

    // A tab page: WeChat calls onShow right after onLoad (nothing to do then) and again each
    // time the user comes back, when the person may have changed (roles, phone).
    onShow() {
      if (!this._shown) {
        this._shown = true
        return Promise.resolve()
      }
      if (this.data.status !== 'ready') return Promise.resolve()
      return this.load()
    },

    async load() {
      if (this.data.status !== 'ready') this.setData({ status: 'loading', error: '' })
      try {
        await auth.ensureLogin()
        const me = await request({ path: '/api/me' })
        this.setData({ status: 'ready', error: '', ...meView(me) })
      } catch (err) {
        this.setData({ status: 'error', error: err.message })
      }
    },

    async onLogin() {
      this.setData({ status: 'loading', error: '' })
      try {
        await auth.login()
      } catch (err) {
        this.setData({ status: 'error', error: err.message })
        return
      }
      await this.load()
    },

    async onGetPhoneNumber(event) {
      const detail = (event && event.detail) || {}
      // DevTools with the placeholder appid gives no code: utils/sandbox.js may supply one.
      const code = sandbox.phoneCode() || detail.code
      if (!code) {
        // Refused, or a base library too old to give a code.
        wx.showToast({ title: auth.PHONE_DENIED_MESSAGE, icon: 'none', duration: 2500 })
        return
      }
      this.setData({ binding: true })
      try {
        const phoneMasked = await auth.bindPhone(code)
        this.setData({ phoneMasked: phoneMasked || '' })
        wx.showToast({ title: '绑定成功', icon: 'success' })
      } catch (err) {
        // The request wrapper has shown the server's message.
      } finally {
        this.setData({ binding: false })
      }
    },

    onOpenMeetings() {
      wx.navigateTo({ url: '/pages/meetings/meetings' })
    },

    onOpenReviews() {
      wx.navigateTo({ url: '/pages/review/review' })
    },

    onOpenPlatform(event) {
      wx.navigateTo({ url: `/pages/platform/platform?id=${event.currentTarget.dataset.id}` })
    },

    onLogout() {
      const done = auth.logout()
      this.setData({ status: 'logged_out', name: '', phoneMasked: '', roles: [], platforms: [] })
      return done
    },
  },
})
