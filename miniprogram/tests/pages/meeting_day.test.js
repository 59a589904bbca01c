// The invitee's meeting-day tools on the meeting page: the phone calendar, the place or
// online link, and scan check-in (the answers and the briefing: meeting.test.js).
const path = require('path')
const simulate = require('miniprogram-simulate')
const { installWx, errorBody, renderPage, textOf, waitFor } = require('../helpers/wx')
const {
  CHECKED_IN, DETAIL, KEY_RE, LOGGED_IN, has, meeting, meetingServer, open,
  tap,
} = require('../helpers/meeting')
const { resetSubscriptions } = require('../../utils/subscribe')

let pageId
beforeAll(() => {
  pageId = simulate.load(path.join(__dirname, '../../pages/meeting/meeting'))
})

beforeEach(() => resetSubscriptions())

// --- calendar and place ----------------------------------------------------------------------

test('添加到手机日历 hands the meeting to the phone calendar; 复制会议信息 copies it as text', async () => {
  const env = installWx({ storage: LOGGED_IN })
  meetingServer()
  const page = renderPage(simulate, pageId)
  await open(page)

  tap(page, 'add-calendar-btn')
  await waitFor(() => env.toast.mock.calls.length > 0)
  const info = '协商会议：老旧小区加装电梯\n时间：2026年12月10日（星期四）14:30–16:30\n地点：现场（移动协商）：前进村文化广场\n'
    + '议程：1. 通报调研情况；2. 居民发言；3. 形成意见'
  expect(env.addPhoneCalendar.mock.calls[0][0]).toMatchObject({
    title: '协商会议：老旧小区加装电梯',
    startTime: Date.UTC(2026, 11, 10, 6, 30) / 1000,
    endTime: Date.UTC(2026, 11, 10, 8, 30) / 1000,
    location: '现场（移动协商）：前进村文化广场',
    description: info,
    alarm: true,
    alarmOffset: 3600,
  })
  expect(env.toastTitles()).toEqual(['已添加到手机日历'])

  tap(page, 'copy-info-btn')
  await simulate.sleep(0)
  expect(env.setClipboardData.mock.calls[0][0].data).toBe(info)
})

test('a refused calendar permission points to copying; a cancel says nothing', async () => {
  const env = installWx({ storage: LOGGED_IN, calendar: 'deny' })
  meetingServer()
  const page = renderPage(simulate, pageId)
  await open(page)

  page.instance.onAddCalendar()
  await waitFor(() => env.toast.mock.calls.length > 0)
  expect(env.toastTitles()).toEqual(['未能添加到手机日历，您可以点“复制会议信息”自己记下'])
})

test('an online meeting: the link is shown and can be copied', async () => {
  const env = installWx({ storage: LOGGED_IN })
  meetingServer({
    body: meeting({ place_kind: 'online', place_label: '网上', place: '腾讯会议', online_url: 'https://meeting.tencent.com/dm/abc123' }),
  })
  const page = renderPage(simulate, pageId)
  await open(page)

  expect(textOf(page.querySelector('.meeting'))).toContain('地点 网上：腾讯会议 链接 https://meeting.tencent.com/dm/abc123 复制会议链接')
  tap(page, 'copy-link-btn')
  await simulate.sleep(0)
  expect(env.setClipboardData).toHaveBeenCalledTimes(1)
  expect(env.setClipboardData.mock.calls[0][0].data).toBe('https://meeting.tencent.com/dm/abc123')
  // The copied meeting information carries the link too.
  page.instance.onCopyInfo()
  expect(env.setClipboardData.mock.calls[1][0].data).toContain('会议链接：https://meeting.tencent.com/dm/abc123')
})

// --- check-in --------------------------------------------------------------------------------

test('扫码签到: the camera reads the code, POST /checkin, success with the group label', async () => {
  const env = installWx({ storage: LOGGED_IN, scan: 'yshsl-checkin:5:5986137:b0b541e0e297e0b25da3' })
  const server = meetingServer({
    extra: req => req.path === `${DETAIL}/checkin` ? { status: 200, body: CHECKED_IN } : undefined,
  })
  const page = renderPage(simulate, pageId)
  await open(page)

  tap(page, 'scan-btn')
  await waitFor(() => has(page, 'checkin-done'))

  expect(env.scanCode.mock.calls[0][0]).toMatchObject({ onlyFromCamera: true, scanType: ['qrCode'] })
  const [post] = server.to(`${DETAIL}/checkin`)
  expect(post.method).toBe('POST')
  expect(post.data).toEqual({ code: 'yshsl-checkin:5:5986137:b0b541e0e297e0b25da3' })
  expect(post.header.Authorization).toBe('Bearer tok-1')
  expect(post.header['Idempotency-Key']).toMatch(KEY_RE)
  expect(textOf(page.querySelector('.checkin'))).toBe('扫码签到 签到成功 参会身份：政协委员 签到时间：2026年12月10日 14:21')
  expect(has(page, 'scan-btn')).toBe(false)
  expect(env.toastTitles()).toEqual(['签到成功'])
})

test.each([
  [422, 'checkin_code_invalid', '签到码无效或已过期，请扫描会场现场的二维码'],
  [409, 'research_required', '议题尚未完成调研，不能召开协商会议（不调研不协商）'],
  [409, 'checkin_closed', '不在签到时间内（会前 1 小时至会后 30 分钟）'],
])('a check-in refused with %i %s shows the server message', async (status, code, message) => {
  const env = installWx({ storage: LOGGED_IN, scan: 'yshsl-checkin:5:5986100:0000000000aaaaaaaaaa' })
  const server = meetingServer({
    extra: req => req.path === `${DETAIL}/checkin` ? { status, body: errorBody(code, message) } : undefined,
  })
  const page = renderPage(simulate, pageId)
  await open(page)

  await page.instance.onScan()

  expect(server.to(`${DETAIL}/checkin`)).toHaveLength(1)
  expect(textOf(page.querySelector('.checkin-error'))).toBe(message)
  expect(has(page, 'checkin-done')).toBe(false)
  expect(has(page, 'scan-btn')).toBe(true) // try again
  expect(env.toastTitles()).toEqual([message])
})

test('a retried check-in after a lost answer sends the same code with the same key', async () => {
  installWx({ storage: LOGGED_IN, scan: 'yshsl-checkin:5:5986137:b0b541e0e297e0b25da3' })
  let online = false
  const server = meetingServer({
    extra: req => req.path === `${DETAIL}/checkin` ? (online ? { status: 200, body: CHECKED_IN } : { fail: 'timeout' }) : undefined,
  })
  const page = renderPage(simulate, pageId)
  await open(page)

  await page.instance.onScan()
  expect(textOf(page.querySelector('.checkin-error'))).toBe('网络不佳，请稍后重试')
  online = true
  await page.instance.onScan()

  const [first, retry] = server.to(`${DETAIL}/checkin`)
  expect(retry.header['Idempotency-Key']).toBe(first.header['Idempotency-Key'])
  expect(has(page, 'checkin-done')).toBe(true)
})

test('cancelling the scan sends nothing; a failed scan says so and sends nothing', async () => {
  let outcome = null
  installWx({ storage: LOGGED_IN, scan: () => outcome })
  const server = meetingServer()
  const page = renderPage(simulate, pageId)
  await open(page)

  await page.instance.onScan()
  expect(has(page, 'checkin-error')).toBe(false)

  outcome = { fail: 'scanCode:fail camera unavailable' }
  await page.instance.onScan()
  expect(textOf(page.querySelector('.checkin-error'))).toBe('未能识别二维码，请对准会场的签到二维码重试')

  outcome = '   '
  await page.instance.onScan()
  expect(textOf(page.querySelector('.checkin-error'))).toBe('未能识别二维码，请对准会场的签到二维码重试')

  expect(server.to(`${DETAIL}/checkin`)).toHaveLength(0)
})
