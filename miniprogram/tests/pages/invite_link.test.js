// pages/invite: 已邀请的人员 and 生成绑定码 for an invitee without the mini-program
// (POST /api/consultations/<cid>/invitations/<person_id>/link-code, docs/auth.md 1之二).
const path = require('path')
const simulate = require('miniprogram-simulate')
const { installWx, fakeServer, errorBody, renderPage, textOf, waitFor } = require('../helpers/wx')
const { linkCodeBody, expectLinkCodeShown } = require('../helpers/link_code')

const LOGGED_IN = { 'auth.token': 'tok-1', 'auth.expires_at': '2099-01-01T00:00:00Z' }
const BASE = '/api/consultations/5'
// Expires 02:30 UTC = 10:30 in Beijing.
const LINK = linkCodeBody('4827150396', '2026-12-03T02:30:00Z', '12月3日 10:30')
const LABELS = { member: '政协委员', resident: '群众代表', stakeholder: '利益相关方' }

// AttendanceOut with these invitations
function attendance(list) {
  return {
    groups: [],
    invitations: list.map(([personId, name, group], i) => ({
      id: i + 1, person_id: personId, name, group, group_label: LABELS[group], answer: 'pending',
      answer_label: '未答复', reason: null, substitute_name: null, substitute_title: null, answered_at: null,
    })),
    warnings: [],
    list_locked_at: null,
  }
}
const BEFORE = [[31, '钱委员', 'member'], [41, '王大妈', 'resident']]

let pageId
beforeAll(() => {
  pageId = simulate.load(path.join(__dirname, '../../pages/invite/invite'))
})

function server({ link = () => ({ status: 201, body: LINK }), invite } = {}) {
  return fakeServer(req => {
    if (req.method === 'GET' && /suggested-/.test(req.path)) return { status: 200, body: { items: [] } }
    if (req.method === 'GET' && req.path === `${BASE}/invitations`) return { status: 200, body: attendance(BEFORE) }
    if (req.method === 'POST' && req.path === `${BASE}/invitations`) return invite(req)
    const m = req.method === 'POST' && req.path.match(/^\/api\/consultations\/5\/invitations\/(\d+)\/link-code$/)
    if (m) return link(req, Number(m[1]))
    return undefined
  })
}

function expectCodeShown(page, scope) {
  expectLinkCodeShown(page, scope, LINK, { spaced: '482 715 0396', expiry: '2026年12月3日 10:30' })
}

test('已邀请的人员: a resident gets 生成绑定码, which POSTs the invitee endpoint and shows code, QR, Beijing expiry and instruction; a member has no button', async () => {
  installWx({ storage: LOGGED_IN })
  const api = server()
  const page = renderPage(simulate, pageId)
  await page.instance.onLoad({ id: '5' })

  page.querySelector('.show-roster-btn').dispatchEvent('tap')
  await waitFor(() => page.querySelector('.invitee-41'))
  expect(api.to(`${BASE}/invitations`).map(c => c.method)).toEqual(['GET'])
  expect(textOf(page.querySelector('.invitee-31'))).toBe('钱委员 政协委员 · 未答复')
  expect(page.querySelector('.invitee-31 .invitee-link-btn')).toBeFalsy() // members: 403 link_needs_staff

  page.querySelector('.invitee-41 .invitee-link-btn').dispatchEvent('tap')
  await waitFor(() => page.querySelector('.invitee-41 .link-code'))
  const posts = api.to(`${BASE}/invitations/41/link-code`)
  expect(posts.map(c => c.method)).toEqual(['POST'])
  expect(posts[0].header.Authorization).toBe('Bearer tok-1')
  expectCodeShown(page, '.invitee-41')
})

test('the server refusing the code: its Chinese message shows under that invitee, no code', async () => {
  installWx({ storage: LOGGED_IN })
  server({ link: () => ({ status: 409, body: errorBody('person_has_wechat', '该人员已经关联了微信，可以直接在微信里答复会议') }) })
  const page = renderPage(simulate, pageId)
  await page.instance.onLoad({ id: '5' })
  page.querySelector('.show-roster-btn').dispatchEvent('tap')
  await waitFor(() => page.querySelector('.invitee-41'))

  page.querySelector('.invitee-41 .invitee-link-btn').dispatchEvent('tap')
  await waitFor(() => page.querySelector('.invitee-41 .link-error'))
  expect(textOf(page.querySelector('.invitee-41 .link-error'))).toBe('该人员已经关联了微信，可以直接在微信里答复会议')
  expect(page.querySelector('.link-code')).toBeFalsy()
})

test('按手机号邀请 a neighbour: the answer lists them and 为<name>生成绑定码 issues their code right there', async () => {
  installWx({ storage: LOGGED_IN })
  const api = server({ invite: () => ({ status: 200, body: attendance(BEFORE.concat([[77, '李大爷', 'resident']])) }) })
  const page = renderPage(simulate, pageId)
  await page.instance.onLoad({ id: '5' })
  page.querySelector('.show-roster-btn').dispatchEvent('tap')
  await waitFor(() => page.querySelector('.invitee-41'))

  page.querySelector('.phone-name-input').dispatchEvent('input', { detail: { value: '李大爷' } })
  page.querySelector('.phone-input').dispatchEvent('input', { detail: { value: '13900001111' } })
  await simulate.sleep(0)
  page.querySelector('.invite-phone-btn').dispatchEvent('tap')
  await waitFor(() => page.querySelector('.phone-link-btn'))
  expect(textOf(page.querySelector('.phone-link-btn'))).toBe('为李大爷生成绑定码')
  expect(page.querySelector('.invitee-77')).toBeTruthy() // the list follows the answer

  page.querySelector('.phone-link-btn').dispatchEvent('tap')
  await waitFor(() => page.querySelector('.phone-invited .link-code'))
  expect(api.to(`${BASE}/invitations/77/link-code`).map(c => c.method)).toEqual(['POST'])
  expectCodeShown(page, '.phone-invited')
})
