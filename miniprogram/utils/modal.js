// wx.showModal as a promise: true when the person tapped the confirm button.
function confirmModal(options) {
  return new Promise(resolve => {
    wx.showModal({
      ...options,
      success: res => resolve(Boolean(res && res.confirm)),
      fail: () => resolve(false),
    })
  })
}

module.exports = { confirmModal }
