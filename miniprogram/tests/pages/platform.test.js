const path = require('path')
const simulate = require('miniprogram-simulate')
const { installWx, fakeServer, errorBody, renderPage, textOf, byClass } = require('../helpers/wx')

// Shaped like app/org/schemas.py PlatformDetail.
const must = (key, label, status, statusLabel) => ({ must: key, label, status, status_label: statusLabel, checked_on: null })
const DETAIL = {
  id: 11,
  name: '新浦街道“有事好商量”协商议事室',
  secondary_name: '新浦“老娘舅”议事厅',
  kind: 'room',
  kind_label: '协商议事室',
  host_type: 'town',
  host_label: '街道',
  host_name: '新浦街道',
  region_id: 5,
  region_name: '新浦街道',
  region_names: ['连云港市', '海州区', '新浦街道'],
  venue_address: '海州区解放中路 12 号二楼',
  latitude: 34.5967,
  longitude: 119.2213,
  distance_km: null,
  member_count: 3,
  convenor: { role: '召集人', name: '王**' },
  six_musts: {
    is_compliant: false,
    missing: ['有标识', '有成效'],
    items: [
      must('organisation', '有组织', 'met', '已达标'),
      must('rules', '有制度', 'met', '已达标'),
      must('venue', '有场所', 'met', '已达标'),
      must('signage', '有标识', 'claimed', '缺佐证'),
      must('activities', '有活动', 'met', '已达标'),
      must('results', '有成效', 'missing', '未达标'),
    ],
  },
}

let pageId
beforeAll(() => {
  pageId = simulate.load(path.join(__dirname, '../../pages/platform/platform'))
})

function detailServer(reply) {
  return fakeServer(req => (req.path.startsWith('/api/platforms/') ? reply(req) : undefined))
}

test('shows name, secondary name (D4), Chinese kind (D1), venue and the six musts (D3)', async () => {
  const env = installWx()
  jest.spyOn(wx, 'setNavigationBarTitle').mockImplementation(() => {})
  const server = detailServer(() => ({ status: 200, body: DETAIL }))
  const page = renderPage(simulate, pageId)

  await page.instance.onLoad({ id: '11' })

  expect(server.calls.map(c => c.path)).toEqual(['/api/platforms/11'])
  expect(server.calls[0].header.Authorization).toBeUndefined()
  const text = textOf(page)
  expect(text).toContain('新浦街道“有事好商量”协商议事室')
  expect(text).toContain('又名：新浦“老娘舅”议事厅')
  expect(text).toContain('类型 协商议事室')
  expect(text).toContain('承载 新浦街道')
  expect(text).toContain('地点 海州区解放中路 12 号二楼')
  expect(text).toContain('召集人 王**')
  expect(text).toContain('联系本平台的政协委员 3 位')
  expect(text).toContain('六有建设：4/6 项已达标')
  expect(byClass(page, 'must').map(textOf)).toEqual([
    '✓ 有组织', '✓ 有制度', '✓ 有场所', '✗ 有标识（缺佐证）', '✓ 有活动', '✗ 有成效（未达标）',
  ])
  expect(byClass(page, 'unmet').map(textOf)).toEqual(['✗ 有标识（缺佐证）', '✗ 有成效（未达标）'])
  expect(text).toContain('在地图上查看')
  expect(wx.setNavigationBarTitle).toHaveBeenCalledWith({ title: DETAIL.name })
  expect(env.toast).not.toHaveBeenCalled()
})

test('the map button opens the venue in the map', async () => {
  installWx()
  detailServer(() => ({ status: 200, body: DETAIL }))
  const openLocation = jest.spyOn(wx, 'openLocation').mockImplementation(() => {})
  const page = renderPage(simulate, pageId)
  await page.instance.onLoad({ id: '11' })

  page.querySelector('.btn-plain').dispatchEvent('tap')
  await simulate.sleep(0)

  expect(openLocation).toHaveBeenCalledTimes(1)
  expect(openLocation.mock.calls[0][0]).toMatchObject({
    latitude: 34.5967, longitude: 119.2213, name: DETAIL.name, address: DETAIL.venue_address,
  })
})

test('without coordinates, secondary name or six-musts data those parts are left out', async () => {
  installWx()
  detailServer(() => ({
    status: 200,
    body: {
      id: 12, name: '某村委员协商联系点', kind: 'contact_point', kind_label: '委员协商联系点', secondary_name: null,
      host_name: '', region_name: '', venue_address: null, latitude: null, longitude: null, convenor: null, member_count: 0,
    },
  }))
  const page = renderPage(simulate, pageId)
  await page.instance.onLoad({ id: '12' })

  const text = textOf(page)
  expect(text).toContain('类型 委员协商联系点')
  expect(text).toContain('地点 暂未登记地址')
  expect(text).toContain('暂无“六有”建设信息')
  expect(text).not.toContain('又名')
  expect(text).not.toContain('在地图上查看')
  expect(text).not.toContain('召集人')
  expect(text).toContain('联系本平台的政协委员 0 位')
})

test("a missing platform shows the server's message", async () => {
  const env = installWx()
  detailServer(() => ({ status: 404, body: errorBody('platform_not_found', '该平台不存在') }))
  const page = renderPage(simulate, pageId)

  await page.instance.onLoad({ id: '999' })

  expect(textOf(page)).toBe('该平台不存在 重新加载')
  expect(env.toastTitles()).toEqual(['该平台不存在'])
})

test('a malformed id is not sent to the server', async () => {
  installWx()
  const server = detailServer(() => ({ status: 200, body: DETAIL }))
  const page = renderPage(simulate, pageId)

  await page.instance.onLoad({ id: '../me' })

  expect(server.calls).toHaveLength(0)
  expect(textOf(page)).toBe('未找到该协商议事平台') // and no retry button
})

test('"我要提建议" and "查看居民建议" open the suggestion pages of this platform', async () => {
  const env = installWx()
  detailServer(() => ({ status: 200, body: DETAIL }))
  const page = renderPage(simulate, pageId)
  await page.instance.onLoad({ id: '11' })

  expect(textOf(page.querySelector('.suggestions-entry'))).toContain('我要提建议 查看居民建议')
  page.querySelector('.propose-btn').dispatchEvent('tap')
  page.querySelector('.suggestions-btn').dispatchEvent('tap')
  await simulate.sleep(0)

  expect(env.navigateTo.mock.calls.map(call => call[0].url)).toEqual([
    '/pages/propose/propose?platform_id=11',
    '/pages/suggestions/suggestions?platform_id=11',
  ])
})
