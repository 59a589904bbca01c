// My account: login state, masked phone with the "绑定手机号" button, my roles in Chinese, and
// "绑定公众号": bound or not (GET /api/me/chat-binding), a one-time 6-digit code to send to the
// Official Account as "绑定 123456" (POST /api/me/chat-binding-code), unbinding (DELETE); and
// "使用绑定码" (pages/link): a code staff issued for people phone binding cannot link; and, for
// CPPCC staff and admins only (the roles POST /api/people/<id>/link-code admits), "为人员生成绑定码"
// (pages/people-link). Department handlers (dept_handler) get "交办事项" (pages/tasks, D20) and
// CPPCC members "我的督办" (pages/supervision, D24): shown only to those holding the role.
const auth = require('../../utils/auth')
const { request } = require('../../utils/request')
const { confirmModal } = require('../../utils/modal')
const { meView } = require('../../utils/format')
const sandbox = require('../../utils/sandbox')

// app/auth/permissions.py "person.link": who may issue link codes for people.
const LINK_ISSUERS = ['staff', 'admin']

function holdsAny(me, codes) {
  return ((me && me.roles) || []).some(entry => codes.includes(typeof entry === 'string' ? entry : entry && entry.role))
}

function issuesLinkCodes(me) {
  return holdsAny(me, LINK_ISSUERS)
}

Component({
  data: {
    status: 'loading', // loading | ready | error | logged_out
    error: '',
    name: '',
    phoneMasked: '',
    roles: [],
    platforms: [],
    linkIssuer: false, // staff / admin: the "为人员生成绑定码" entry
    handler: false, // dept_handler: "交办事项"
    supervisor: false, // member: "我的督办"
    binding: false,
    // The Official Account binding: loaded false until the server answered.
    chat: { loaded: false, bound: false, code: '', instruction: '', busy: false },
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
        this.setData({
          status: 'ready', error: '', ...meView(me), linkIssuer: issuesLinkCodes(me),
          handler: holdsAny(me, ['dept_handler']), supervisor: holdsAny(me, ['member']),
        })
      } catch (err) {
        this.setData({ status: 'error', error: err.message })
        return
      }
      await this.loadChat()
    },

    // Not essential to the page: when it fails the block is simply not shown.
    async loadChat() {
      try {
        const body = await request({ path: '/api/me/chat-binding', showError: false })
        this.setData({ 'chat.loaded': true, 'chat.bound': Boolean(body.bound) })
      } catch (err) {
        this.setData({ 'chat.loaded': false })
      }
    },

    async onGetChatCode() {
      if (this.data.chat.busy) return
      this.setData({ 'chat.busy': true })
      try {
        const body = await request({ path: '/api/me/chat-binding-code', method: 'POST' })
        this.setData({ 'chat.code': body.code, 'chat.instruction': body.instruction })
      } catch (err) {
        // The request wrapper has shown the server's message.
      } finally {
        this.setData({ 'chat.busy': false })
      }
    },

    async onUnbindChat() {
      const confirmed = await confirmModal({
        title: '解除绑定',
        content: '解除后，公众号不再代您答复会议、查看会议。会议通知仍会在小程序中收到。确定解除吗？',
        confirmText: '解除',
      })
      if (!confirmed) return
      this.setData({ 'chat.busy': true })
      try {
        const body = await request({ path: '/api/me/chat-binding', method: 'DELETE' })
        this.setData({ 'chat.bound': Boolean(body.bound), 'chat.code': '', 'chat.instruction': '' })
        wx.showToast({ title: '已解除绑定', icon: 'success' })
      } catch (err) {
        // The request wrapper has shown the server's message.
      } finally {
        this.setData({ 'chat.busy': false })
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

    onOpenLinkCode() {
      wx.navigateTo({ url: '/pages/link/link' })
    },

    onOpenPeopleLink() {
      wx.navigateTo({ url: '/pages/people-link/people-link' })
    },

    onOpenTasks() {
      wx.navigateTo({ url: '/pages/tasks/tasks' })
    },

    onOpenSupervision() {
      wx.navigateTo({ url: '/pages/supervision/supervision' })
    },

    onOpenReviews() {
      wx.navigateTo({ url: '/pages/review/review' })
    },

    onOpenPlatform(event) {
      wx.navigateTo({ url: `/pages/platform/platform?id=${event.currentTarget.dataset.id}` })
    },

    onLogout() {
      const done = auth.logout()
      this.setData({
        status: 'logged_out', name: '', phoneMasked: '', roles: [], platforms: [], linkIssuer: false,
        handler: false, supervisor: false,
        chat: { loaded: false, bound: false, code: '', instruction: '', busy: false },
      })
      return done
    },
  },
})
