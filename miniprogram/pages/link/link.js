// "我的 → 使用绑定码": a person whom phone binding cannot link (reviewers, department handlers,
// CPPCC staff) or who was registered by staff types or scans the one-time code staff or the
// convenor gave them (POST /api/auth/link). The WeChat is then attached to that person: the
// same login now acts as them, with their roles. Opened with ?code=… or a mini-program code's
// scene, the code is filled in.
const auth = require('../../utils/auth')
const { request } = require('../../utils/request')

// Ten digits (a link code), written or read with spaces or dashes.
const CODE_DIGITS = 10

function digitsOf(text) {
  return String(text || '').replace(/[\s\-_.,，、]/g, '')
}

function wellFormed(text) {
  return new RegExp(`^\\d{${CODE_DIGITS}}$`).test(digitsOf(text))
}

function scanQrCode() {
  return new Promise((resolve, reject) => {
    wx.scanCode({
      onlyFromCamera: false, // a code sent as a picture can be read from the album too
      scanType: ['qrCode'],
      success: res => resolve(String((res && res.result) || '')),
      fail: res => reject({ cancelled: /cancel/i.test((res && res.errMsg) || '') }),
    })
  })
}

Component({
  data: {
    code: '',
    busy: false,
    error: '',
    linked: null, // { name, roles } after success
  },

  methods: {
    onLoad(options) {
      const given = (options && (options.code || (options.scene && decodeURIComponent(options.scene)))) || ''
      if (given) this.setData({ code: digitsOf(given) })
    },

    onInput(event) {
      this.setData({ code: (event && event.detail && event.detail.value) || '', error: '' })
    },

    async onScan() {
      let text
      try {
        text = await scanQrCode()
      } catch (err) {
        if (!err.cancelled) wx.showToast({ title: '扫码失败，请手动输入绑定码', icon: 'none' })
        return
      }
      if (!wellFormed(text)) {
        this.setData({ error: '这不是绑定码的二维码，请扫描工作人员给您的绑定码' })
        return
      }
      this.setData({ code: digitsOf(text), error: '' })
      await this.onSubmit()
    },

    async onSubmit() {
      if (this.data.busy) return
      if (!wellFormed(this.data.code)) {
        this.setData({ error: `请输入 ${CODE_DIGITS} 位数字的绑定码` })
        return
      }
      this.setData({ busy: true, error: '' })
      try {
        await auth.ensureLogin()
        const body = await request({ path: '/api/auth/link', method: 'POST', data: { code: digitsOf(this.data.code) }, showError: false })
        this.setData({ linked: { name: body.person.name, roles: body.person.roles || [] }, code: '' })
        wx.showToast({ title: '关联成功', icon: 'success' })
      } catch (err) {
        // Wrong, expired or used codes, a WeChat that is already someone else: the server's words.
        this.setData({ error: err.message || '关联失败，请稍后再试' })
      } finally {
        this.setData({ busy: false })
      }
    },

    onDone() {
      wx.navigateBack({ delta: 1 })
    },
  },
})
