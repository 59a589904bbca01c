/**
 * Photo upload for suggestions: POST /api/uploads, multipart/form-data with the field `file`,
 * one photo per request (docs/suggestions.md "图片"). wx.request cannot send files, so this is
 * the wx.uploadFile counterpart of utils/request.js, with the same behaviour:
 *
 *   uploadPhoto({ filePath, idempotencyKey, onProgress, showError }) → Promise<UploadOut>
 *
 * - Sends the bearer token; on 401 logs in again once and retries once.
 * - `idempotencyKey` is the Idempotency-Key header: one per photo, reused when that photo's
 *   upload is retried, so a retry after a lost answer does not store the photo twice.
 * - `onProgress(percent)` follows the upload (UploadTask.onProgressUpdate).
 * - Resolves with the server's {id, url, content_type, size_bytes, width, height}; rejects with
 *   an ApiError whose message is the server's Chinese `message` ("网络不佳，请稍后重试" on a
 *   network failure), shown as a toast unless showError is false.
 */
const config = require('./config')
const session = require('./session')
const { ApiError, errorFromResponse, networkError, FALLBACK_MESSAGE } = require('./request')

const UPLOAD_PATH = '/api/uploads'
// A PDF for a handling step (D20): the same form, sniffed as a PDF by the server.
const DOCUMENT_PATH = '/api/document-uploads'

function showErrorToast(message) {
  wx.showToast({ title: message, icon: 'none', duration: 2500 })
}

// wx.uploadFile hands the body over as a string.
function parseBody(data) {
  if (data && typeof data === 'object') return data
  if (typeof data !== 'string' || !data) return {}
  try {
    const parsed = JSON.parse(data)
    return parsed && typeof parsed === 'object' ? parsed : {}
  } catch (err) {
    return {}
  }
}

function sendFile({ filePath, header, onProgress, path = UPLOAD_PATH }) {
  return new Promise((resolve, reject) => {
    const task = wx.uploadFile({
      url: config.apiBaseUrl() + path,
      filePath,
      name: 'file',
      header,
      timeout: config.UPLOAD_TIMEOUT_MS,
      success: resolve,
      fail: res => reject(networkError(res)),
    })
    if (onProgress && task && typeof task.onProgressUpdate === 'function') {
      task.onProgressUpdate(res => onProgress(Math.max(0, Math.min(100, Number(res && res.progress) || 0))))
    }
  })
}

async function uploadPhoto(options) {
  const { filePath, idempotencyKey, onProgress, showError = true, path } = options
  const header = {}
  const token = session.getToken()
  if (token) header.Authorization = `Bearer ${token}`
  if (idempotencyKey) header['Idempotency-Key'] = idempotencyKey

  let res
  try {
    res = await sendFile({ filePath, header, onProgress, path })
  } catch (err) {
    if (showError) showErrorToast(err.message)
    throw err
  }

  const body = parseBody(res.data)
  if (res.statusCode >= 200 && res.statusCode < 300) {
    if (body && body.id) return body
    const err = new ApiError({ status: res.statusCode, code: 'bad_upload_response', message: FALLBACK_MESSAGE })
    if (showError) showErrorToast(err.message)
    throw err
  }

  if (res.statusCode === 401 && !options._retried) {
    const current = session.getToken()
    if (!current || current === token) await require('./auth').login({ showError })
    return uploadPhoto({ ...options, _retried: true })
  }

  const err = errorFromResponse({ statusCode: res.statusCode, data: body })
  if (showError) showErrorToast(err.message)
  throw err
}

/** A PDF (wx.chooseMessageFile): as uploadPhoto, to POST /api/document-uploads. */
function uploadDocument(options) {
  return uploadPhoto({ ...options, path: DOCUMENT_PATH })
}

module.exports = { uploadPhoto, uploadDocument, parseBody, UPLOAD_PATH, DOCUMENT_PATH }
