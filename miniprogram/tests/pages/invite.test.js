const path = require('path')
const simulate = require('miniprogram-simulate')
const { installWx, fakeServer, errorBody, renderPage, textOf, waitFor } = require('../helpers/wx')

const LOGGED_IN = { 'auth.token': 'tok-1', 'auth.expires_at': '2099-01-01T00:00:00Z' }
const KEY_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/
const BASE = '/api/consultations/5'
const GROUP_LABELS = { member: '政协委员', resident: '群众代表', stakeholder: '利益相关方', official: '党政领导', department: '职能部门' }
const D9 = '人员构成缺少利益相关方，请确认是否需要邀请'

// app/consultations/schemas.py SuggestedMembers
const MEMBERS = { items: [
  { person_id: 31, name: '钱委员', reason: '本平台联系的委员' },
  { person_id: 32, name: '孙委员', reason: '同一履职小组的委员' },
] }
const RESIDENTS = { items: [
  { person_id: 41, name: '王*', reason: '提出了相关建议' },
  { person_id: 42, name: '赵*店', reason: '支持了相关建议' },
] }

// AttendanceOut
function attendanceBody(invitees, warnings = [D9]) {
  const invitations = invitees.map((inv, i) => ({
    group: inv.group, group_label: GROUP_LABELS[inv.group], answer: 'pending', answer_label: '未答复',
    reason: null, substitute_name: null, substitute_title: null, id: i + 1,
    person_id: inv.person_id || 90 + i, name: inv.name || `受邀人${i + 1}`, answered_at: null,
  }))
  const groups = Object.keys(GROUP_LABELS).map(group => {
    const n = invitations.filter(i => i.group === group).length
    return { group, label: GROUP_LABELS[group], invited: n, accepted: 0, declined: 0, substitute: 0, pending: n }
  })
  return { groups, invitations, warnings, list_locked_at: null }
}

let pageId
beforeAll(() => {
  pageId = simulate.load(path.join(__dirname, '../../pages/invite/invite'))
})

function inviteServer({ members = MEMBERS, residents = RESIDENTS, invite, notices } = {}) {
  return fakeServer(req => {
    if (req.method === 'GET' && req.path === `${BASE}/suggested-members`) return { status: 200, body: members }
    if (req.method === 'GET' && req.path === `${BASE}/suggested-residents`) return { status: 200, body: residents }
    if (req.method === 'POST' && req.path === `${BASE}/invitations`) {
      return invite ? invite(req) : { status: 200, body: attendanceBody(req.data.invitees) }
    }
    if (req.method === 'POST' && req.path === `${BASE}/notices`) return notices ? notices(req) : undefined
    return undefined
  })
}

const tap = node => node.dispatchEvent('tap')
const tapClass = (page, cls) => tap(page.querySelector(`.${cls}`))
async function fire(page, cls, event, value) {
  page.querySelector(`.${cls}`).dispatchEvent(event, { detail: { value } })
  await simulate.sleep(0)
}

async function open(page, id = '5') {
  await page.instance.onLoad({ id })
}

test('the two suggestion lists; the chosen members and residents (as 利益相关方) are invited in one POST; the D9 warning shows', async () => {
  const env = installWx({ storage: LOGGED_IN })
  const server = inviteServer()
  const page = renderPage(simulate, pageId)
  await open(page)

  expect(server.calls.map(c => `${c.method} ${c.path}`).sort()).toEqual([`GET ${BASE}/suggested-members`, `GET ${BASE}/suggested-residents`])
  expect(textOf(page.querySelector('.members'))).toBe('建议邀请的委员 ☐ 钱委员 本平台联系的委员 ☐ 孙委员 同一履职小组的委员')
  expect(textOf(page.querySelector('.residents'))).toBe(
    '关心本议题的群众 提出、支持或关注了相关建议的群众（姓名已打码）。 勾选的群众作为 群众代表 利益相关方 ☐ 王* 提出了相关建议 ☐ 赵*店 支持了相关建议',
  )

  tap(page.querySelectorAll('.member-row')[0])
  await simulate.sleep(0)
  tap(page.querySelectorAll('.resident-row')[1])
  await simulate.sleep(0)
  tapClass(page, 'resident-group-stakeholder')
  await simulate.sleep(0)
  expect(textOf(page.querySelector('.invite-chosen-btn'))).toBe('邀请勾选的人员（2 人）')

  tapClass(page, 'invite-chosen-btn')
  await waitFor(() => env.toast.mock.calls.length > 0)
  await waitFor(() => server.calls.length === 5) // the lists are read again

  const [post] = server.to(`${BASE}/invitations`)
  expect(post.method).toBe('POST')
  expect(post.header['Idempotency-Key']).toMatch(KEY_RE)
  expect(post.data).toEqual({ invitees: [{ person_id: 31, group: 'member' }, { person_id: 42, group: 'stakeholder' }] })
  expect(env.toastTitles()).toEqual(['已邀请 2 人'])
  await waitFor(() => page.querySelector('.warnings'))
  expect(textOf(page.querySelector('.warnings'))).toBe(`人员构成提示 ${D9}`)
  expect(textOf(page.querySelector('.invited-count'))).toBe('目前已邀请 2 人')
})

test('nothing chosen: a hint and no request', async () => {
  installWx({ storage: LOGGED_IN })
  const server = inviteServer()
  const page = renderPage(simulate, pageId)
  await open(page)
  tapClass(page, 'invite-chosen-btn')
  await simulate.sleep(0)
  expect(textOf(page.querySelector('.invite-error'))).toBe('请先勾选要邀请的人员')
  expect(server.to(`${BASE}/invitations`)).toHaveLength(0)
})

test('a failed invitation keeps the choice; the retry sends the same Idempotency-Key and the same body', async () => {
  const env = installWx({ storage: LOGGED_IN })
  let n = 0
  const server = inviteServer({
    invite: req => {
      n += 1
      return n === 1 ? { fail: 'timeout' } : { status: 200, body: attendanceBody(req.data.invitees, []) }
    },
  })
  const page = renderPage(simulate, pageId)
  await open(page)
  tap(page.querySelectorAll('.member-row')[1])
  await simulate.sleep(0)
  tapClass(page, 'invite-chosen-btn')
  await waitFor(() => page.querySelector('.invite-error'))
  expect(textOf(page.querySelector('.invite-error'))).toBe('网络不佳，请稍后重试')
  expect(page.instance.data.members[1].checked).toBe(true)

  tapClass(page, 'invite-chosen-btn')
  await waitFor(() => env.toastTitles().includes('已邀请 1 人'))
  await waitFor(() => server.calls.length === 6)
  const tries = server.to(`${BASE}/invitations`)
  expect(tries).toHaveLength(2)
  expect(tries[1].header['Idempotency-Key']).toBe(tries[0].header['Idempotency-Key'])
  expect(tries[1].data).toEqual({ invitees: [{ person_id: 32, group: 'member' }] })
  expect(page.querySelector('.warnings')).toBeFalsy()
})

test('按手机号邀请: name and mobile are checked, then {phone, name, group} is sent; a refusal shows the server message', async () => {
  const env = installWx({ storage: LOGGED_IN })
  let n = 0
  const server = inviteServer({
    invite: req => {
      n += 1
      return n === 1
        ? { status: 422, body: errorBody('invalid_phone', '手机号格式不正确（仅支持中国大陆手机号）') }
        : { status: 200, body: attendanceBody(req.data.invitees, []) }
    },
  })
  const page = renderPage(simulate, pageId)
  await open(page)

  tapClass(page, 'invite-phone-btn')
  await simulate.sleep(0)
  expect(textOf(page.querySelector('.phone-error'))).toBe('请填写被邀请人的姓名')
  await fire(page, 'phone-name-input', 'input', ' 周 镇长 ')
  await fire(page, 'phone-input', 'input', '1380013')
  tapClass(page, 'invite-phone-btn')
  await simulate.sleep(0)
  expect(textOf(page.querySelector('.phone-error'))).toBe('请填写 11 位手机号')
  expect(server.to(`${BASE}/invitations`)).toHaveLength(0)

  await fire(page, 'phone-input', 'input', '13800138000')
  await fire(page, 'phone-group', 'change', '2')
  expect(textOf(page.querySelector('.phone-group'))).toBe('党政领导 ▾')
  tapClass(page, 'invite-phone-btn')
  await waitFor(() => page.querySelector('.phone-error'))
  expect(textOf(page.querySelector('.phone-error'))).toBe('手机号格式不正确（仅支持中国大陆手机号）')
  expect(env.toastTitles()).toEqual(['手机号格式不正确（仅支持中国大陆手机号）'])
  expect(page.instance.data.phone).toBe('13800138000')

  tapClass(page, 'invite-phone-btn')
  await waitFor(() => env.toastTitles().includes('已邀请 1 人'))
  const tries = server.to(`${BASE}/invitations`)
  expect(tries[1].data).toEqual({ invitees: [{ phone: '13800138000', name: '周 镇长', group: 'official' }] })
  expect(tries[1].header['Idempotency-Key']).toBe(tries[0].header['Idempotency-Key'])
  await waitFor(() => page.instance.data.phone === '')
  expect(page.instance.data.phoneName).toBe('')
})

test('发送会议通知: sent at once when the list is complete', async () => {
  const env = installWx({ storage: LOGGED_IN })
  const server = inviteServer({ notices: () => ({ status: 200, body: { sent: true, warnings: [], recipients: 6 } }) })
  const page = renderPage(simulate, pageId)
  await open(page)
  tapClass(page, 'send-notices-btn')
  await waitFor(() => env.toast.mock.calls.length > 0)
  const posts = server.to(`${BASE}/notices`)
  expect(posts.map(p => p.data)).toEqual([{ confirm: false }])
  expect(env.showModal).not.toHaveBeenCalled()
  expect(textOf(page.querySelector('.sent-text'))).toBe('会议通知已发送给 6 人')
})

test('发送会议通知 with D9 warnings: the modal lists them; 仍然发送 resends with confirm true', async () => {
  const env = installWx({ storage: LOGGED_IN, modal: { confirm: true } })
  const server = inviteServer({
    notices: req => req.data.confirm
      ? { status: 200, body: { sent: true, warnings: [D9], recipients: 4 } }
      : { status: 200, body: { sent: false, warnings: [D9], recipients: 0 } },
  })
  const page = renderPage(simulate, pageId)
  await open(page)
  tapClass(page, 'send-notices-btn')
  await waitFor(() => env.toast.mock.calls.length > 0)

  expect(env.showModal).toHaveBeenCalledTimes(1)
  expect(env.showModal.mock.calls[0][0].content).toBe(`${D9}。确定仍然发送会议通知吗？`)
  expect(server.to(`${BASE}/notices`).map(p => p.data)).toEqual([{ confirm: false }, { confirm: true }])
  expect(textOf(page.querySelector('.sent-text'))).toBe('会议通知已发送给 4 人')
  expect(textOf(page.querySelector('.warnings'))).toBe(`人员构成提示 ${D9}`)
})

test('发送会议通知 with D9 warnings, cancelled in the modal: nothing more is sent', async () => {
  const env = installWx({ storage: LOGGED_IN, modal: { confirm: false } })
  const server = inviteServer({ notices: () => ({ status: 200, body: { sent: false, warnings: [D9], recipients: 0 } }) })
  const page = renderPage(simulate, pageId)
  await open(page)
  tapClass(page, 'send-notices-btn')
  await waitFor(() => env.showModal.mock.calls.length > 0)
  await waitFor(() => !page.instance.data.sending)
  expect(server.to(`${BASE}/notices`).map(p => p.data)).toEqual([{ confirm: false }])
  expect(page.querySelector('.sent-text')).toBeFalsy()
  expect(env.toast).not.toHaveBeenCalled()
})

test('发送会议通知 refused (409 no_invitees): the message stays under the button', async () => {
  const env = installWx({ storage: LOGGED_IN })
  inviteServer({ notices: () => ({ status: 409, body: errorBody('no_invitees', '请先邀请参加人员') }) })
  const page = renderPage(simulate, pageId)
  await open(page)
  tapClass(page, 'send-notices-btn')
  await waitFor(() => page.querySelector('.send-error'))
  expect(textOf(page.querySelector('.send-error'))).toBe('请先邀请参加人员')
  expect(env.toastTitles()).toEqual(['请先邀请参加人员'])
})

test('a list that cannot be read says so and can be reloaded; an invalid id sends nothing', async () => {
  installWx({ storage: LOGGED_IN })
  let fail = true
  fakeServer(req => {
    if (req.path === `${BASE}/suggested-members`) {
      return fail ? { status: 403, body: errorBody('not_topic_manager', '只有本平台召集人或政协工作人员可以办理') } : { status: 200, body: MEMBERS }
    }
    if (req.path === `${BASE}/suggested-residents`) return { status: 200, body: { items: [] } }
    return undefined
  })
  const page = renderPage(simulate, pageId)
  await open(page)
  expect(textOf(page.querySelector('.members-error'))).toBe('只有本平台召集人或政协工作人员可以办理')
  expect(textOf(page.querySelector('.residents'))).toContain('暂时没有可以邀请的群众。')
  fail = false
  tapClass(page, 'retry-lists-btn')
  await waitFor(() => page.instance.data.members.length === 2)

  const server = inviteServer()
  const other = renderPage(simulate, pageId)
  const before = server.calls.length
  await other.instance.onLoad({ id: '0' })
  expect(textOf(other)).toBe('会议链接无效，请从会议页面重新打开')
  expect(server.calls.length).toBe(before)
})
