const path = require('path')
const simulate = require('miniprogram-simulate')
const { installWx, fakeServer, errorBody, renderPage, textOf, byClass } = require('../helpers/wx')

// Shaped like app/org/schemas.py PlatformSummary.
function platform(id, name, kind, kindLabel, venue, regionName, distanceKm) {
  return {
    id, name, secondary_name: null, kind, kind_label: kindLabel, host_type: 'town', host_label: '街道',
    host_name: regionName, region_id: 100 + id, region_name: regionName, venue_address: venue,
    latitude: 34.6, longitude: 119.2, distance_km: distanceKm,
  }
}

const PLATFORMS = [
  platform(11, '新浦街道“有事好商量”协商议事室', 'room', '协商议事室', '海州区解放中路 12 号', '新浦街道', 0.35),
  platform(12, '连云港市教育界委员协商联系点', 'contact_point', '委员协商联系点', '海州区朝阳中路 5 号', '海州区', 1.24),
  platform(13, '东海县流动协商议事室', 'mobile', '流动协商议事室', null, '牛山街道', 18),
  platform(14, '开发区企业联合协商议事室', 'joint', '联合协商议事室', '经济技术开发区黄河路 8 号', '朝阳街道', 3),
]

let pageId
beforeAll(() => {
  pageId = simulate.load(path.join(__dirname, '../../pages/index/index'))
})

function listServer(pages) {
  return fakeServer(req => {
    if (req.path !== '/api/platforms') return undefined
    const page = pages[req.query.cursor || 'first']
    return page.status ? page : { status: 200, body: page }
  })
}

test('with the location: asks for nearby platforms and shows name, Chinese kind, address, distance', async () => {
  const env = installWx({ location: { latitude: 34.5967123, longitude: 119.2213456 } })
  const server = listServer({ first: { items: PLATFORMS, next_cursor: null } })
  const page = renderPage(simulate, pageId)

  await page.instance.onLoad({})

  expect(env.getLocation).toHaveBeenCalledTimes(1)
  expect(server.calls).toHaveLength(1)
  const { query } = server.calls[0]
  expect(query.near).toBe('34.596712,119.221346')
  expect(Number(query.radius_km)).toBeGreaterThan(0)
  expect(server.calls[0].header.Authorization).toBeUndefined() // public endpoint

  const cards = page.querySelectorAll('.platform')
  expect(cards).toHaveLength(4)
  expect(textOf(cards[0])).toBe('新浦街道“有事好商量”协商议事室 协商议事室 350 米 地址：海州区解放中路 12 号')
  expect(textOf(cards[1])).toContain('委员协商联系点')
  expect(textOf(cards[1])).toContain('1.2 公里')
  expect(textOf(cards[2])).toBe('东海县流动协商议事室 流动协商议事室 18 公里 所在：牛山街道')
  expect(textOf(cards[3])).toContain('联合协商议事室')
  const text = textOf(page)
  expect(text).not.toContain('未获得您的位置')
  expect(text).toContain('已显示全部')
  expect(text).not.toContain('正在加载')
})

test('location refused: falls back to the whole list without `near` and says why', async () => {
  const env = installWx({ location: null })
  const server = listServer({ first: { items: [{ ...PLATFORMS[0], distance_km: null }], next_cursor: null } })
  const page = renderPage(simulate, pageId)

  await page.instance.onLoad({})

  expect(env.getLocation).toHaveBeenCalledTimes(1)
  expect(server.calls[0].query.near).toBeUndefined()
  expect(server.calls[0].query.radius_km).toBeUndefined()
  const text = textOf(page)
  expect(text).toContain('未获得您的位置，下面按地区列出全部协商议事平台。')
  expect(text).toContain('新浦街道“有事好商量”协商议事室')
  expect(text).not.toMatch(/米|公里/)
})

test('after refusing, the user can allow the location in settings and get the nearby list', async () => {
  const env = installWx({ location: null })
  const server = listServer({ first: { items: [PLATFORMS[0]], next_cursor: null } })
  const openSetting = jest.spyOn(wx, 'openSetting').mockImplementation(opts => {
    setTimeout(() => opts.success({ authSetting: { 'scope.userLocation': true } }), 0)
  })
  const page = renderPage(simulate, pageId)
  await page.instance.onLoad({})
  expect(server.calls[0].query.near).toBeUndefined()

  env.getLocation.mockImplementation(opts => setTimeout(() => opts.success({ latitude: 34.6, longitude: 119.2 }), 0))
  await page.instance.onEnableLocation()

  expect(openSetting).toHaveBeenCalledTimes(1)
  expect(server.calls).toHaveLength(2)
  expect(server.calls[1].query.near).toBe('34.600000,119.200000')
  expect(textOf(page)).not.toContain('未获得您的位置')
  expect(textOf(page)).toContain('350 米')
})

test('if the user leaves location off in settings, nothing reloads', async () => {
  installWx({ location: null })
  const server = listServer({ first: { items: [PLATFORMS[0]], next_cursor: null } })
  jest.spyOn(wx, 'openSetting').mockImplementation(opts => {
    setTimeout(() => opts.success({ authSetting: { 'scope.userLocation': false } }), 0)
  })
  const page = renderPage(simulate, pageId)
  await page.instance.onLoad({})
  await page.instance.onEnableLocation()
  expect(server.calls).toHaveLength(1)
  expect(textOf(page)).toContain('未获得您的位置')
})

test('empty nearby list: "附近暂无协商议事平台"', async () => {
  installWx()
  listServer({ first: { items: [], next_cursor: null } })
  const page = renderPage(simulate, pageId)

  await page.instance.onLoad({})

  expect(textOf(page)).toBe('附近暂无协商议事平台')
  expect(page.querySelectorAll('.platform')).toHaveLength(0)
})

test('empty list without location says there are none at all', async () => {
  installWx({ location: null })
  listServer({ first: { items: [], next_cursor: null } })
  const page = renderPage(simulate, pageId)
  await page.instance.onLoad({})
  expect(textOf(page)).toBe('未获得您的位置，下面按地区列出全部协商议事平台。 允许使用位置，查看附近平台 暂无协商议事平台')
})

test('a failed load shows the message and a retry that works', async () => {
  const env = installWx()
  let fail = true
  fakeServer(() => (fail
    ? { status: 503, body: errorBody('service_unavailable', '服务暂时不可用，请稍后再试') }
    : { status: 200, body: { items: [PLATFORMS[1]], next_cursor: null } }))
  const page = renderPage(simulate, pageId)

  await page.instance.onLoad({})
  expect(textOf(page)).toBe('服务暂时不可用，请稍后再试 重新加载')
  expect(env.toastTitles()).toEqual(['服务暂时不可用，请稍后再试'])

  fail = false
  await page.instance.onRetry()
  expect(textOf(page)).toContain('连云港市教育界委员协商联系点')
  expect(textOf(page)).not.toContain('重新加载')
})

test('scrolling to the bottom loads the next page with the cursor and keeps `near`', async () => {
  installWx()
  const server = listServer({
    first: { items: PLATFORMS.slice(0, 2), next_cursor: 'c2' },
    c2: { items: PLATFORMS.slice(2), next_cursor: null },
  })
  const page = renderPage(simulate, pageId)

  await page.instance.onLoad({})
  expect(page.querySelectorAll('.platform')).toHaveLength(2)
  expect(textOf(page)).not.toContain('已显示全部')

  await page.instance.onReachBottom()
  expect(server.calls).toHaveLength(2)
  expect(server.calls[1].query.cursor).toBe('c2')
  expect(server.calls[1].query.near).toBe(server.calls[0].query.near)
  expect(byClass(page, 'name').map(textOf)).toEqual(PLATFORMS.map(p => p.name))
  expect(textOf(page)).toContain('已显示全部')

  await page.instance.onReachBottom() // nothing more to load
  expect(server.calls).toHaveLength(2)
})

test('tapping a platform opens its detail page', async () => {
  const env = installWx()
  listServer({ first: { items: PLATFORMS.slice(0, 2), next_cursor: null } })
  const page = renderPage(simulate, pageId)
  await page.instance.onLoad({})

  page.querySelectorAll('.platform')[1].dispatchEvent('tap')
  await simulate.sleep(0) // the simulator delivers events asynchronously

  expect(env.navigateTo).toHaveBeenCalledTimes(1)
  expect(env.navigateTo.mock.calls[0][0].url).toBe('/pages/platform/platform?id=12')
})

test('pull-down refresh reloads and stops the spinner', async () => {
  installWx()
  const server = listServer({ first: { items: PLATFORMS.slice(0, 1), next_cursor: null } })
  const page = renderPage(simulate, pageId)
  await page.instance.onLoad({})
  await page.instance.onPullDownRefresh()
  expect(server.calls).toHaveLength(2)
  expect(wx.stopPullDownRefresh).toHaveBeenCalledTimes(1)
})
