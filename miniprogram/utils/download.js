/**
 * A Word or Excel file from the API, opened on the phone (e.g. the feedback list, D21):
 *
 *   openFile({ path, fileType, name, showError }) → Promise<void>
 *
 * - wx.downloadFile with the bearer token into USER_DATA_PATH/<name>.<fileType> (so the file
 *   keeps a readable name when forwarded), while a loading toast shows; on 401 logs in again
 *   once and downloads once more, like utils/request.js.
 * - wx.openDocument with showMenu: the convenor can forward the file in a chat or save it.
 * - A refusal (4xx/5xx) leaves the server's JSON error in the file: its Chinese `message` is read
 *   back and shown (toast unless showError is false); the promise rejects with an ApiError.
 *   A network failure shows "网络不佳，请稍后重试"; a file the phone cannot open,
 *   "文件无法打开，请稍后重试".
 */
const config = require('./config')
const session = require('./session')
const { ApiError, errorFromResponse, networkError } = require('./request')
const { parseBody } = require('./upload')

const OPEN_FAILED_MESSAGE = '文件无法打开，请稍后重试'
const LOADING_TITLE = '正在下载…'

function showErrorToast(message) {
  wx.showToast({ title: message, icon: 'none', duration: 2500 })
}

// Characters a file name may not hold, and spaces.
function fileName(name, fileType) {
  const base = String(name || '').replace(/[\\/:*?"<>|\s]/g, '') || '文件'
  return `${base}.${fileType}`
}

function localPath(name, fileType) {
  const dir = wx.env && wx.env.USER_DATA_PATH
  return dir ? `${String(dir).replace(/\/+$/, '')}/${fileName(name, fileType)}` : undefined
}

function download({ path, header, filePath }) {
  return new Promise((resolve, reject) => {
    wx.downloadFile({
      url: config.apiBaseUrl() + path,
      header,
      filePath,
      timeout: config.UPLOAD_TIMEOUT_MS,
      success: resolve,
      fail: res => reject(networkError(res)),
    })
  })
}

function readError(res, where) {
  let body = {}
  try {
    body = parseBody(wx.getFileSystemManager().readFileSync(where, 'utf8'))
  } catch (err) {
    body = {}
  }
  return errorFromResponse({ statusCode: res.statusCode, data: body })
}

function open(filePath, fileType) {
  return new Promise((resolve, reject) => {
    wx.openDocument({
      filePath,
      fileType,
      showMenu: true,
      success: resolve,
      fail: () => reject(new ApiError({ code: 'open_failed', message: OPEN_FAILED_MESSAGE })),
    })
  })
}

async function fetchAndOpen(options) {
  const { path, fileType, name } = options
  const header = {}
  const token = session.getToken()
  if (token) header.Authorization = `Bearer ${token}`
  const res = await download({ path, header, filePath: localPath(name, fileType) })
  const where = res.filePath || res.tempFilePath
  if (res.statusCode >= 200 && res.statusCode < 300) return open(where, fileType)
  if (res.statusCode === 401 && !options._retried) {
    const current = session.getToken()
    if (!current || current === token) await require('./auth').login({ showError: false })
    return fetchAndOpen({ ...options, _retried: true })
  }
  throw readError(res, where)
}

async function openFile(options) {
  const { showError = true } = options
  wx.showLoading({ title: LOADING_TITLE, mask: true })
  try {
    await fetchAndOpen(options)
  } catch (err) {
    wx.hideLoading()
    if (showError) showErrorToast(err.message)
    throw err
  }
  wx.hideLoading()
}

module.exports = { openFile, fileName, OPEN_FAILED_MESSAGE }
