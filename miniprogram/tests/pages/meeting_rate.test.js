// D27: a resident or stakeholder invited to a held consultation finds 评价本次协商 on the meeting
// page, which opens pages/rate.
const path = require('path')
const simulate = require('miniprogram-simulate')
const { installWx, renderPage, textOf } = require('../helpers/wx')
const { LOGGED_IN, has, invitation, meeting, meetingServer, open, tap } = require('../helpers/meeting')

let pageId
beforeAll(() => {
  pageId = simulate.load(path.join(__dirname, '../../pages/meeting/meeting'))
})

test.each([
  ['resident', 'held', '已召开'],
  ['stakeholder', 'concluded', '已形成意见清单'],
])('a %s invitee of a %s consultation can open the rating page', async (group, state, stateLabel) => {
  const env = installWx({ storage: LOGGED_IN })
  meetingServer({ body: meeting({ state, state_label: stateLabel, my_invitation: invitation({ group, answer: 'accepted', answer_label: '参加' }) }) })
  const page = renderPage(simulate, pageId)
  await open(page)

  expect(textOf(page.querySelector('.rate'))).toBe('评价本次协商 请为协商的结果和过程打分。意见全部办结、发布结果反馈后，还可以再评价一次。 评价本次协商')
  tap(page, 'rate-btn')
  await simulate.sleep(0)
  expect(env.navigateTo).toHaveBeenCalledWith({ url: '/pages/rate/rate?id=5' })
})

test.each([
  ['a scheduled consultation', { state: 'scheduled', my_invitation: invitation({ group: 'resident' }) }],
  ['a cancelled one', { state: 'cancelled', state_label: '已取消', my_invitation: invitation({ group: 'resident' }) }],
  ['a member (member appraisal is not the resident rating)', { state: 'held', state_label: '已召开', my_invitation: invitation() }],
  ['someone not invited', { state: 'held', state_label: '已召开', my_invitation: null }],
])('no rating button for %s', async (_, overrides) => {
  installWx({ storage: LOGGED_IN })
  meetingServer({ body: meeting(overrides) })
  const page = renderPage(simulate, pageId)
  await open(page)
  expect(has(page, 'rate-btn')).toBe(false)
})
