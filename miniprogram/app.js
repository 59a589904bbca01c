const auth = require('./utils/auth')

App({
  onLaunch() {
    // Silent login (wx.login needs no tap). Pages that need the person call ensureLogin()
    // again; a failure here is shown there, not at start-up.
    return auth.ensureLogin({ showError: false }).catch(() => null)
  },
})
