// utils/download.js: a Word or Excel file from the API (wx.downloadFile with the token, the same
// 401 handling as utils/request.js), opened with wx.openDocument (showMenu: forward or save it).
const session = require('../utils/session')
const { openFile } = require('../utils/download')
const { installWx, fakeServer, fakeDownloads, errorBody } = require('./helpers/wx')

const DOCX = '/api/consultations/5/feedback-list.docx'

test('downloads with the token into a named file and opens it with the menu; a loading toast meanwhile', async () => {
  installWx({ storage: { [session.TOKEN_KEY]: 'tok-1' } })
  const d = fakeDownloads(() => ({ status: 200, body: 'PK…' }))

  await openFile({ path: DOCX, fileType: 'docx', name: '关于“村口/道路”的结果反馈清单' })

  expect(d.calls).toEqual([{
    origin: 'http://127.0.0.1:5000', path: DOCX, header: { Authorization: 'Bearer tok-1' },
    filePath: "/usr/关于“村口道路”的结果反馈清单.docx", // the simulator's USER_DATA_PATH is "/usr/"
  }])
  expect(d.opened).toEqual([{ filePath: d.calls[0].filePath, fileType: 'docx', showMenu: true }])
  expect(d.showLoading).toHaveBeenCalledTimes(1)
  expect(d.hideLoading).toHaveBeenCalledTimes(1)
})

test('on 401 logs in once and downloads again with the new token', async () => {
  const env = installWx({ storage: { [session.TOKEN_KEY]: 'old' } })
  fakeServer(() => ({ status: 200, body: { token: 'tok-2', expires_at: '2099-01-01T00:00:00Z', person: { id: 3 } } }))
  const d = fakeDownloads(req => (req.header.Authorization === 'Bearer tok-2'
    ? { status: 200, body: 'PK…' }
    : { status: 401, body: errorBody('unauthorized', '请先登录') }))

  await openFile({ path: DOCX, fileType: 'docx', name: '清单' })

  expect(env.login).toHaveBeenCalledTimes(1)
  expect(d.calls.map(c => c.header.Authorization)).toEqual(['Bearer old', 'Bearer tok-2'])
  expect(d.opened).toHaveLength(1)
})

test("a refusal shows the server's own message (read back from the file) and opens nothing", async () => {
  const env = installWx({ storage: { [session.TOKEN_KEY]: 'tok-1' } })
  const d = fakeDownloads(() => ({ status: 404, body: errorBody('feedback_list_not_found', '该协商意见尚未全部办结，结果反馈清单尚未形成') }))

  await expect(openFile({ path: DOCX, fileType: 'docx', name: '清单' })).rejects.toMatchObject({
    status: 404, code: 'feedback_list_not_found' })
  expect(env.toastTitles()).toEqual(['该协商意见尚未全部办结，结果反馈清单尚未形成'])
  expect(d.opened).toEqual([])
  expect(d.hideLoading).toHaveBeenCalledTimes(1)
})

test('no network: 网络不佳; a file the phone cannot open: says so', async () => {
  let env = installWx({ storage: { [session.TOKEN_KEY]: 'tok-1' } })
  fakeDownloads(() => ({ fail: 'timeout' }))
  await expect(openFile({ path: DOCX, fileType: 'docx', name: '清单' })).rejects.toMatchObject({ code: 'timeout' })
  expect(env.toastTitles()).toEqual(['网络不佳，请稍后重试'])

  jest.restoreAllMocks()
  env = installWx({ storage: { [session.TOKEN_KEY]: 'tok-1' } })
  fakeDownloads(() => ({ status: 200, body: 'PK…' }), { openFail: 'openDocument:fail filetype not supported' })
  await expect(openFile({ path: DOCX, fileType: 'docx', name: '清单' })).rejects.toMatchObject({ code: 'open_failed' })
  expect(env.toastTitles()).toEqual(['文件无法打开，请稍后重试'])
})
