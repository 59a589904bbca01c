// utils/upload.js: wx.uploadFile to POST /api/uploads with the token, the Idempotency-Key, the
// same 401 handling as utils/request.js, and the server's message on failure.
const session = require('../utils/session')
const { uploadPhoto } = require('../utils/upload')
const { installWx, fakeServer, fakeUploads, errorBody } = require('./helpers/wx')

const UPLOADED = { id: 12, url: '/api/uploads/AbcdefghijklmnopqrstuvwxyzABCDEFGH012345678', content_type: 'image/jpeg', size_bytes: 482133, width: 1280, height: 960 }

test('sends the file as field "file" with the token and the key; reports progress; parses the string body', async () => {
  installWx({ storage: { [session.TOKEN_KEY]: 'tok-1' } })
  const uploads = fakeUploads(() => ({ status: 201, body: UPLOADED, progress: [30, 80] }))
  const progress = []

  const body = await uploadPhoto({ filePath: 'wxfile://tmp/a.jpg', idempotencyKey: 'key-1', onProgress: p => progress.push(p) })

  expect(body).toEqual(UPLOADED)
  expect(progress).toEqual([30, 80])
  expect(uploads.calls).toEqual([expect.objectContaining({
    origin: 'http://127.0.0.1:5000', path: '/api/uploads', name: 'file', filePath: 'wxfile://tmp/a.jpg',
    header: { Authorization: 'Bearer tok-1', 'Idempotency-Key': 'key-1' },
  })])
})

test('on 401 logs in once and uploads again with the new token and the same key', async () => {
  const env = installWx({ storage: { [session.TOKEN_KEY]: 'old' } })
  fakeServer(() => ({ status: 200, body: { token: 'tok-2', expires_at: '2099-01-01T00:00:00Z', person: { id: 3 } } }))
  const uploads = fakeUploads(req => (req.header.Authorization === 'Bearer tok-2'
    ? { status: 201, body: UPLOADED }
    : { status: 401, body: errorBody('unauthorized', '请先登录') }))

  await uploadPhoto({ filePath: 'wxfile://tmp/a.jpg', idempotencyKey: 'key-2' })

  expect(env.login).toHaveBeenCalledTimes(1)
  expect(uploads.calls.map(c => [c.header.Authorization, c.header['Idempotency-Key']])).toEqual([
    ['Bearer old', 'key-2'], ['Bearer tok-2', 'key-2'],
  ])
})

test("a refusal rejects with the server's code and Chinese message, shown as a toast", async () => {
  const env = installWx({ storage: { [session.TOKEN_KEY]: 'tok-1' } })
  fakeUploads(() => ({ status: 413, body: errorBody('upload_too_large', '图片不能超过 5 MB') }))

  await expect(uploadPhoto({ filePath: 'wxfile://tmp/big.jpg' })).rejects.toMatchObject({
    status: 413, code: 'upload_too_large', message: '图片不能超过 5 MB',
  })
  expect(env.toastTitles()).toEqual(['图片不能超过 5 MB'])
})

test('a network failure says "网络不佳，请稍后重试"; showError: false keeps quiet', async () => {
  const env = installWx({ storage: { [session.TOKEN_KEY]: 'tok-1' } })
  fakeUploads(() => ({ fail: 'timeout' }))

  await expect(uploadPhoto({ filePath: 'wxfile://tmp/a.jpg', showError: false })).rejects.toMatchObject({
    code: 'timeout', message: '网络不佳，请稍后重试',
  })
  expect(env.toast).not.toHaveBeenCalled()
})
