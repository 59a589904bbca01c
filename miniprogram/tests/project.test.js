// The project as WeChat DevTools reads it: every declared page complete and valid, and the
// readability rule for elderly users (no text under 32rpx) kept in every style sheet.
const fs = require('fs')
const path = require('path')

const ROOT = path.join(__dirname, '..')
const readJson = file => JSON.parse(fs.readFileSync(path.join(ROOT, file), 'utf8'))

function wxssFiles(dir = ROOT) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap(entry => {
    if (['node_modules', 'tests', 'miniprogram_npm'].includes(entry.name)) return []
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) return wxssFiles(full)
    return entry.name.endsWith('.wxss') ? [full] : []
  })
}

const app = readJson('app.json')

test('app.json: the window title and every tab page is a declared page', () => {
  expect(app.window.navigationBarTitleText).toBe('有事好商量')
  for (const tab of app.tabBar.list) expect(app.pages).toContain(tab.pagePath)
  expect(app.pages[0]).toBe('pages/index/index')
})

test.each(app.pages)('%s has its four files, valid JSON, and is built with Component()', page => {
  for (const ext of ['js', 'json', 'wxml', 'wxss']) {
    expect(fs.existsSync(path.join(ROOT, `${page}.${ext}`))).toBe(true)
  }
  const json = readJson(`${page}.json`)
  expect(json.usingComponents).toEqual(expect.any(Object))
  const js = fs.readFileSync(path.join(ROOT, `${page}.js`), 'utf8')
  expect(js).toMatch(/\bComponent\(\{/)
  expect(js).not.toMatch(/\bPage\(\{/)
})

test('no style sheet sets text smaller than 32rpx, or in px', () => {
  const files = wxssFiles()
  expect(files.length).toBeGreaterThanOrEqual(1 + app.pages.length)
  const offenders = []
  for (const file of files) {
    const css = fs.readFileSync(file, 'utf8')
    for (const [, value] of css.matchAll(/font-size:\s*([^;]+);/g)) {
      const rpx = /^(\d+(?:\.\d+)?)rpx$/.exec(value.trim())
      if (!rpx || Number(rpx[1]) < 32) offenders.push(`${path.relative(ROOT, file)}: ${value.trim()}`)
    }
  }
  expect(offenders).toEqual([])
})

test('project.config.json: placeholder appid, and DevTools may call the local sandbox server', () => {
  const project = readJson('project.config.json')
  expect(project.appid).toBe('touristappid')
  expect(project.setting.urlCheck).toBe(false)
  expect(project.packOptions.ignore).toContainEqual({ type: 'folder', value: 'tests' })
  readJson('sitemap.json')
})
