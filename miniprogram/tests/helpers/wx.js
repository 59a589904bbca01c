/**
 * Test doubles for the WeChat APIs the mini-program uses, all as jest spies on the simulator's
 * global `wx` (jest's restoreMocks puts the originals back after each test):
 *
 *   const env = installWx()            in-memory storage, toast / login / location spies,
 *                                      navigation, image preview, modal and pickers
 *   const server = fakeServer(handler) wx.request routed to handler(req) → reply
 *   const uploads = fakeUploads(handler) wx.uploadFile routed the same way
 *
 * A reply is { status, body } or { fail: 'timeout' } for a network failure, optionally with
 * { delay: ms } before it arrives. Every request is
 * recorded in server.calls as { method, path, query, header, data }.
 *
 * installWx options beyond storage / loginCode / location:
 *   media: ['wxfile://tmp/a.jpg', …]   what wx.chooseMedia picks (null: the user cancels)
 *   chosenLocation: { name, address, latitude, longitude }   wx.chooseLocation (null: cancel)
 *   modal: { confirm: true, content: '' }                   the answer of wx.showModal
 *   scan: 'yshsl-checkin:…'                   what wx.scanCode reads (null: the user cancels;
 *                                            { fail: 'scanCode:fail …' }: it fails; a function
 *                                            is called for each scan and returns one of these)
 *   calendar: 'ok' | 'deny' | 'cancel'        the outcome of wx.addPhoneCalendar
 * wx.setClipboardData and wx.setKeepScreenOn are spies that succeed.
 */

function later(fn) {
  setTimeout(fn, 0)
}

function installWx({
  storage = {},
  loginCode = 'wx-code-1',
  location = { latitude: 34.596, longitude: 119.221 },
  media = null,
  chosenLocation = null,
  modal = { confirm: true, content: '' },
  scan = null,
  calendar = 'ok',
} = {}) {
  const store = new Map(Object.entries(storage))
  jest.spyOn(console, 'warn').mockImplementation(() => {}) // request ids of expected errors
  jest.spyOn(wx, 'getStorageSync').mockImplementation(key => (store.has(key) ? store.get(key) : ''))
  jest.spyOn(wx, 'setStorageSync').mockImplementation((key, value) => { store.set(key, value) })
  jest.spyOn(wx, 'removeStorageSync').mockImplementation(key => { store.delete(key) })
  const toast = jest.spyOn(wx, 'showToast').mockImplementation(() => {})
  let codeSeq = 0
  const login = jest.spyOn(wx, 'login').mockImplementation(opts => {
    codeSeq += 1
    later(() => opts.success({ errMsg: 'login:ok', code: `${loginCode}-${codeSeq}` }))
  })
  const getLocation = jest.spyOn(wx, 'getLocation').mockImplementation(opts => {
    later(() => {
      if (location) opts.success({ errMsg: 'getLocation:ok', ...location })
      else opts.fail({ errMsg: 'getLocation:fail auth deny' })
    })
  })
  const navigateTo = jest.spyOn(wx, 'navigateTo').mockImplementation(() => {})
  const redirectTo = jest.spyOn(wx, 'redirectTo').mockImplementation(() => {})
  const navigateBack = jest.spyOn(wx, 'navigateBack').mockImplementation(() => {})
  const previewImage = jest.spyOn(wx, 'previewImage').mockImplementation(() => {})
  const showModal = jest.spyOn(wx, 'showModal').mockImplementation(opts => {
    later(() => opts.success && opts.success({ errMsg: 'showModal:ok', confirm: Boolean(modal.confirm), cancel: !modal.confirm, content: modal.content || '' }))
  })
  const chooseMedia = jest.spyOn(wx, 'chooseMedia').mockImplementation(opts => {
    later(() => {
      if (media) {
        opts.success({ errMsg: 'chooseMedia:ok', type: 'image', tempFiles: media.map(path => ({ tempFilePath: path, size: 120000, fileType: 'image' })) })
      } else {
        opts.fail({ errMsg: 'chooseMedia:fail cancel' })
      }
    })
  })
  const chooseLocation = jest.spyOn(wx, 'chooseLocation').mockImplementation(opts => {
    later(() => {
      if (chosenLocation) opts.success({ errMsg: 'chooseLocation:ok', ...chosenLocation })
      else opts.fail({ errMsg: 'chooseLocation:fail cancel' })
    })
  })
  const scanCode = jest.spyOn(wx, 'scanCode').mockImplementation(opts => {
    const outcome = typeof scan === 'function' ? scan(opts) : scan
    later(() => {
      if (typeof outcome === 'string') {
        opts.success && opts.success({ errMsg: 'scanCode:ok', result: outcome, scanType: 'QR_CODE', charSet: 'utf-8' })
      } else if (outcome && outcome.fail) {
        opts.fail && opts.fail({ errMsg: outcome.fail })
      } else {
        opts.fail && opts.fail({ errMsg: 'scanCode:fail cancel' })
      }
      opts.complete && opts.complete()
    })
  })
  const setClipboardData = jest.spyOn(wx, 'setClipboardData').mockImplementation(opts => {
    later(() => opts && opts.success && opts.success({ errMsg: 'setClipboardData:ok' }))
  })
  const addPhoneCalendar = jest.spyOn(wx, 'addPhoneCalendar').mockImplementation(opts => {
    later(() => {
      if (calendar === 'ok') opts.success && opts.success({ errMsg: 'addPhoneCalendar:ok' })
      else opts.fail && opts.fail({ errMsg: calendar === 'cancel' ? 'addPhoneCalendar:fail cancel' : 'addPhoneCalendar:fail auth deny' })
    })
  })
  const setKeepScreenOn = jest.spyOn(wx, 'setKeepScreenOn').mockImplementation(() => {})
  jest.spyOn(wx, 'stopPullDownRefresh').mockImplementation(() => {})
  return {
    store,
    toast,
    login,
    getLocation,
    navigateTo,
    redirectTo,
    navigateBack,
    previewImage,
    showModal,
    chooseMedia,
    chooseLocation,
    scanCode,
    setClipboardData,
    addPhoneCalendar,
    setKeepScreenOn,
    toastTitles: () => toast.mock.calls.map(call => call[0].title),
  }
}

function fakeServer(handler) {
  const calls = []
  const spy = jest.spyOn(wx, 'request').mockImplementation(opts => {
    const url = new URL(opts.url)
    const req = {
      method: (opts.method || 'GET').toUpperCase(),
      origin: url.origin,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      header: opts.header || {},
      data: opts.data,
      timeout: opts.timeout,
    }
    calls.push(req)
    const reply = handler(req) || { status: 404, body: { error: 'not_found', message: '内容不存在或您无权查看' } }
    setTimeout(() => {
      if (reply.fail) {
        opts.fail && opts.fail({ errMsg: `request:fail ${reply.fail}` })
      } else {
        opts.success && opts.success({ statusCode: reply.status || 200, data: reply.body, header: {} })
      }
      opts.complete && opts.complete()
    }, reply.delay || 0)
    return { abort() {} }
  })
  return { calls, spy, to: path => calls.filter(c => c.path === path) }
}

/** wx.uploadFile routed to handler(req) → reply, like fakeServer. req is { path, filePath,
 *  name, header, formData }; the reply { status, body } may add { progress: [30, 60] }, progress
 *  events sent at once, and { delay: ms } before the answer. The body is sent as a string, as
 *  WeChat does. Calls are recorded in uploads.calls. */
function fakeUploads(handler) {
  const calls = []
  const spy = jest.spyOn(wx, 'uploadFile').mockImplementation(opts => {
    const url = new URL(opts.url)
    const req = {
      origin: url.origin,
      path: url.pathname,
      filePath: opts.filePath,
      name: opts.name,
      header: opts.header || {},
      formData: opts.formData,
    }
    calls.push(req)
    const reply = handler(req) || { status: 404, body: { error: 'not_found', message: '内容不存在或您无权查看' } }
    const listeners = []
    setTimeout(() => {
      for (const progress of reply.progress || []) {
        listeners.forEach(fn => fn({ progress, totalBytesSent: progress * 1000, totalBytesExpectedToSend: 100000 }))
      }
    }, 0)
    setTimeout(() => {
      if (reply.fail) {
        opts.fail && opts.fail({ errMsg: `uploadFile:fail ${reply.fail}` })
      } else {
        const data = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body)
        opts.success && opts.success({ statusCode: reply.status || 201, data, errMsg: 'uploadFile:ok' })
      }
      opts.complete && opts.complete()
    }, reply.delay || 0)
    return {
      onProgressUpdate(fn) { listeners.push(fn) },
      offProgressUpdate() {},
      abort() {},
    }
  })
  return { calls, spy }
}

/** wx.downloadFile routed to handler(req) → reply, then wx.openDocument. req is { path, header,
 *  filePath }; the reply is { status, body } (the body is what the file holds: an error body is
 *  JSON the page can read back with wx.getFileSystemManager().readFileSync) or { fail: 'timeout' }.
 *  openFail: 'openDocument:fail …' makes wx.openDocument fail. Downloads are recorded in
 *  downloads.calls, opened documents in downloads.opened ({ filePath, fileType, showMenu }).
 *  wx.showLoading / wx.hideLoading are spies. */
function fakeDownloads(handler, { openFail = null } = {}) {
  const calls = []
  const opened = []
  const files = new Map()
  const spy = jest.spyOn(wx, 'downloadFile').mockImplementation(opts => {
    const url = new URL(opts.url)
    const req = { origin: url.origin, path: url.pathname, header: opts.header || {}, filePath: opts.filePath }
    calls.push(req)
    const reply = handler(req) || { status: 404, body: { error: 'not_found', message: '内容不存在或您无权查看' } }
    setTimeout(() => {
      if (reply.fail) {
        opts.fail && opts.fail({ errMsg: `downloadFile:fail ${reply.fail}` })
      } else {
        const where = opts.filePath || `wxfile://tmp/download-${calls.length}`
        files.set(where, typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body || ''))
        const res = { statusCode: reply.status || 200, errMsg: 'downloadFile:ok' }
        if (opts.filePath) res.filePath = where
        else res.tempFilePath = where
        opts.success && opts.success(res)
      }
      opts.complete && opts.complete()
    }, reply.delay || 0)
    return { abort() {}, onProgressUpdate() {} }
  })
  const openDocument = jest.spyOn(wx, 'openDocument').mockImplementation(opts => {
    setTimeout(() => {
      if (openFail) {
        opts.fail && opts.fail({ errMsg: openFail })
      } else {
        opened.push({ filePath: opts.filePath, fileType: opts.fileType, showMenu: opts.showMenu })
        opts.success && opts.success({ errMsg: 'openDocument:ok' })
      }
      opts.complete && opts.complete()
    }, 0)
  })
  jest.spyOn(wx, 'getFileSystemManager').mockImplementation(() => ({
    readFileSync(filePath) {
      if (!files.has(filePath)) throw new Error(`readFileSync:fail no such file ${filePath}`)
      return files.get(filePath)
    },
  }))
  const showLoading = jest.spyOn(wx, 'showLoading').mockImplementation(() => {})
  const hideLoading = jest.spyOn(wx, 'hideLoading').mockImplementation(() => {})
  return { calls, opened, spy, openDocument, showLoading, hideLoading }
}

function errorBody(error, message) {
  return { error, message, request_id: 'req-test-1' }
}

module.exports = { installWx, fakeServer, fakeUploads, fakeDownloads, errorBody }

/** Render a page loaded once per file with simulate.load, attached so it has a DOM. */
function renderPage(simulate, componentId) {
  const page = simulate.render(componentId)
  page.attach(document.createElement('parent-wrapper'))
  return page
}

/** The visible text of a rendered page or element: its text pieces joined by single spaces. */
function textOf(node) {
  const dom = node.dom || node
  const pieces = []
  const walker = document.createTreeWalker(dom, NodeFilter.SHOW_TEXT)
  while (walker.nextNode()) {
    const text = walker.currentNode.nodeValue.replace(/\s+/g, ' ').trim()
    if (text) pieces.push(text)
  }
  return pieces.join(' ')
}

/** Elements of a rendered page by their WXSS class (the simulator prefixes classes with the
 *  page's tag name, "main--"). */
function byClass(page, className) {
  return Array.from(page.dom.querySelectorAll(`.main--${className}`))
}

/** Wait until check() is truthy (for work started by a simulated event, which the test cannot
 *  await). Gives up after `limit` turns of the event loop. */
async function waitFor(check, limit = 500) {
  for (let i = 0; i < limit; i++) {
    if (check()) return
    await new Promise(resolve => setTimeout(resolve, 0))
  }
  throw new Error('waitFor: condition never became true')
}

module.exports.waitFor = waitFor
module.exports.renderPage = renderPage
module.exports.textOf = textOf
module.exports.byClass = byClass
