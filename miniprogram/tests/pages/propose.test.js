const path = require('path')
const simulate = require('miniprogram-simulate')
const config = require('../../utils/config')
const changes = require('../../utils/changes')
const { installWx, fakeServer, fakeUploads, errorBody, renderPage, textOf, byClass, waitFor } = require('../helpers/wx')
const { resetSubscriptions } = require('../../utils/subscribe')

const LOGGED_IN = { 'auth.token': 'tok-1', 'auth.expires_at': '2099-01-01T00:00:00Z' }
const KEY_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/
const PLATFORM = { id: 11, name: '新浦街道“有事好商量”协商议事室', kind: 'room', kind_label: '协商议事室' }
const PROPOSE_PATH = '/api/platforms/11/suggestions'
const SIMILAR_PATH = '/api/platforms/11/suggestions/similar'

// app/suggestions/schemas.py SuggestionOut, as the proposer gets it back (201).
function created(overrides = {}) {
  return {
    id: 41, title: '小区停车位太少', description: '晚上回来找不到车位', category: 'livelihood',
    category_label: '实事', source: 'proposed', source_label: '群众出题', state: 'open', state_label: '征集中',
    platform: { id: 11, name: PLATFORM.name }, proposer: '张**', assigned_by: null, campaign: null,
    address: null, latitude: null, longitude: null, vote_count: 0, comment_count: 0, follower_count: 1,
    attachments: [], created_at: '2026-11-27T02:01:19.853404Z', last_activity_at: '2026-11-27T02:01:19.853401Z',
    decline_reason: null, topic_id: null, is_mine: true, voted_by_me: false, followed_by_me: true,
    notice: null, moderation_note: null,
    ...overrides,
  }
}
// app/suggestions/schemas.py UploadOut
function uploaded(id) {
  return { id, url: `/api/uploads/key${id}Abcdefghijklmnopqrstuvwxyz0123456789`, content_type: 'image/jpeg', size_bytes: 482133, width: 1280, height: 960 }
}

let pageId
beforeAll(() => {
  pageId = simulate.load(path.join(__dirname, '../../pages/propose/propose'))
  config.SIMILAR_DEBOUNCE_MS = 30 // short for the tests; the page reads it on each keystroke
})

beforeEach(() => {
  changes.takeProposed() // forget what earlier tests proposed
  resetSubscriptions()
})

/** The platform and the similar list are answered; `propose(req)` answers the submit. */
function formServer({ propose, similar = () => ({ items: [] }), platform = { status: 200, body: PLATFORM } } = {}) {
  return fakeServer(req => {
    if (req.path === '/api/platforms/11') return platform
    if (req.path === SIMILAR_PATH) return { status: 200, body: similar(req) }
    if (req.method === 'POST' && req.path === PROPOSE_PATH && propose) return propose(req)
    return undefined
  })
}

async function openForm(page) {
  await page.instance.onLoad({ platform_id: '11' })
}

/** Type into the form the way the resident does (events on the rendered controls). */
async function fill(page, { title = '小区停车位太少', description = '晚上回来找不到车位', category = 1 } = {}) {
  page.querySelector('.title-input').dispatchEvent('input', { detail: { value: title } })
  page.querySelector('.description-input').dispatchEvent('input', { detail: { value: description } })
  if (category !== null) page.querySelectorAll('.category-option')[category].dispatchEvent('tap')
  await simulate.sleep(0)
}

test('the form names the platform and explains the three categories', async () => {
  installWx()
  const server = formServer()
  const page = renderPage(simulate, pageId)

  await openForm(page)

  expect(server.calls[0].path).toBe('/api/platforms/11')
  const text = textOf(page)
  expect(textOf(page.querySelector('.heading'))).toBe('提给：新浦街道“有事好商量”协商议事室')
  expect(byClass(page, 'category-option').map(textOf)).toEqual([
    '要事 关系本地发展、大家都关心的大事',
    '实事 身边的民生实事，如道路、停车、养老、环境',
    '难事 群众反映多、长期没有解决的难题',
  ])
  page.querySelectorAll('.category-option')[2].dispatchEvent('tap')
  await simulate.sleep(0)
  expect(byClass(page, 'category-selected').map(textOf)).toEqual(['✓ 难事 群众反映多、长期没有解决的难题'])
  expect(text).toContain('提交建议')
})

test('similar suggestions appear under the title once it has 4 characters (debounced), and open on tap', async () => {
  const env = installWx()
  const server = formServer({
    similar: req => ({
      items: req.query.title.startsWith('小区停车')
        ? [{ id: 7, title: '小区停车难，晚上没车位', category: 'livelihood', category_label: '实事', vote_count: 12, comment_count: 3, score: 0.83 }]
        : [],
    }),
  })
  const page = renderPage(simulate, pageId)
  await openForm(page)
  const input = page.querySelector('.title-input')

  input.dispatchEvent('input', { detail: { value: '小区停' } })
  await simulate.sleep(80)
  expect(server.to(SIMILAR_PATH)).toHaveLength(0) // fewer than 4 characters

  input.dispatchEvent('input', { detail: { value: '小区停车' } })
  input.dispatchEvent('input', { detail: { value: '小区停车位' } })
  await waitFor(() => page.querySelector('.similar'))

  const calls = server.to(SIMILAR_PATH)
  expect(calls).toHaveLength(1) // only after the typing paused
  expect(calls[0].query).toEqual({ title: '小区停车位', limit: '5' })
  expect(calls[0].header.Authorization).toBeUndefined()
  expect(textOf(page.querySelector('.similar'))).toBe('已有相似的建议，您可以点开直接支持： 小区停车难，晚上没车位 实事 · 12 人支持')

  page.querySelector('.similar-item').dispatchEvent('tap')
  await simulate.sleep(0)
  expect(env.navigateTo.mock.calls[0][0].url).toBe('/pages/suggestion/suggestion?id=7')
  expect(page.instance.data.title).toBe('小区停车位') // the form is still there under the detail

  input.dispatchEvent('input', { detail: { value: '小区' } })
  await simulate.sleep(0)
  expect(page.querySelector('.similar')).toBeFalsy()
})

test('photos: chooseMedia (compressed), uploadFile to /api/uploads with progress, one key per photo', async () => {
  const env = installWx({ storage: LOGGED_IN, media: ['wxfile://tmp/a.jpg', 'wxfile://tmp/b.jpg'] })
  let nextId = 0
  const uploads = fakeUploads(() => {
    nextId += 1
    return { status: 201, body: uploaded(nextId), progress: [45], delay: 40 }
  })
  const server = formServer({ propose: () => ({ status: 201, body: created({ id: 42 }) }) })
  const page = renderPage(simulate, pageId)
  await openForm(page)

  const adding = page.instance.onAddPhotos()
  await waitFor(() => textOf(page).includes('上传中 45%'))
  expect(byClass(page, 'photo-status').map(textOf)).toEqual(['上传中 45%', '等待上传'])
  await adding

  expect(env.chooseMedia.mock.calls[0][0]).toMatchObject({ count: 9, mediaType: ['image'], sizeType: ['compressed'] })
  expect(byClass(page, 'photo-status').map(textOf)).toEqual(['已上传', '已上传'])
  expect(uploads.calls.map(c => [c.path, c.name, c.filePath])).toEqual([
    ['/api/uploads', 'file', 'wxfile://tmp/a.jpg'],
    ['/api/uploads', 'file', 'wxfile://tmp/b.jpg'],
  ])
  expect(uploads.calls[0].header.Authorization).toBe('Bearer tok-1')
  expect(uploads.calls[0].header['Idempotency-Key']).toMatch(KEY_RE)
  expect(uploads.calls[1].header['Idempotency-Key']).not.toBe(uploads.calls[0].header['Idempotency-Key'])

  // Seven more may be added, not nine.
  await page.instance.onAddPhotos()
  expect(env.chooseMedia.mock.calls[1][0].count).toBe(7)

  await fill(page)
  await page.instance.onSubmit()
  expect(server.to(PROPOSE_PATH)[0].data.attachment_ids).toEqual([1, 2, 3, 4])
})

test('a failed upload can be retried with the same key, or removed from the suggestion', async () => {
  installWx({ storage: LOGGED_IN, media: ['wxfile://tmp/a.jpg', 'wxfile://tmp/b.jpg'] })
  let failB = true
  const uploads = fakeUploads(req => {
    if (req.filePath.endsWith('b.jpg') && failB) return { fail: 'timeout' }
    return { status: 201, body: uploaded(req.filePath.endsWith('a.jpg') ? 5 : 6) }
  })
  const server = formServer({ propose: () => ({ status: 201, body: created() }) })
  const page = renderPage(simulate, pageId)
  await openForm(page)

  await page.instance.onAddPhotos()
  expect(byClass(page, 'photo-status').map(textOf)).toEqual(['已上传', '上传失败'])
  expect(byClass(page, 'retry').map(textOf)).toEqual(['重新上传'])
  expect(textOf(page.querySelector('.photo-error'))).toBe('有 1 张照片没有上传成功：网络不佳，请稍后重试')

  // Submitting now is stopped with a clear reason.
  await fill(page)
  await page.instance.onSubmit()
  expect(server.to(PROPOSE_PATH)).toHaveLength(0)
  expect(textOf(page.querySelector('.form-error'))).toBe('有照片没有上传成功，请点“重新上传”或删除这张照片')

  failB = false
  page.querySelector('.retry').dispatchEvent('tap')
  await waitFor(() => byClass(page, 'photo-status').map(textOf).join() === '已上传,已上传')
  const tries = uploads.calls.filter(c => c.filePath.endsWith('b.jpg'))
  expect(tries).toHaveLength(2)
  expect(tries[1].header['Idempotency-Key']).toBe(tries[0].header['Idempotency-Key'])
  expect(page.querySelector('.photo-error')).toBeFalsy()

  page.querySelectorAll('.remove')[0].dispatchEvent('tap')
  await simulate.sleep(0)
  expect(page.querySelectorAll('.photo-item')).toHaveLength(1)

  await page.instance.onSubmit()
  expect(server.to(PROPOSE_PATH)[0].data.attachment_ids).toEqual([6])
})

test("an upload refused by the server shows as failed with the server's reason, until removed", async () => {
  installWx({ storage: LOGGED_IN, media: ['wxfile://tmp/doc.pdf'] })
  fakeUploads(() => ({ status: 422, body: errorBody('upload_invalid', '只能上传 JPG、PNG 或 WebP 格式的图片') }))
  formServer()
  const page = renderPage(simulate, pageId)
  await openForm(page)

  await page.instance.onAddPhotos()

  expect(byClass(page, 'photo-status').map(textOf)).toEqual(['上传失败'])
  expect(textOf(page.querySelector('.photo-error'))).toBe('有 1 张照片没有上传成功：只能上传 JPG、PNG 或 WebP 格式的图片')

  page.querySelector('.remove').dispatchEvent('tap')
  await simulate.sleep(0)
  expect(page.querySelector('.photo-item')).toBeFalsy()
  expect(page.querySelector('.photo-error')).toBeFalsy()
})

test('success: POST with the exact fields and an Idempotency-Key, then the new suggestion opens', async () => {
  const env = installWx({
    storage: LOGGED_IN,
    chosenLocation: { name: '新浦小区', address: '江苏省连云港市海州区人民路 12 号', latitude: 34.6012, longitude: 119.2234 },
  })
  const server = formServer({ propose: () => ({ status: 201, body: created({ id: 42 }) }) })
  const page = renderPage(simulate, pageId)
  await openForm(page)

  await fill(page, { title: '  小区停车位太少 ', description: '晚上回来找不到车位\n消防通道被占', category: 1 })
  page.querySelector('.choose-location').dispatchEvent('tap')
  await waitFor(() => page.instance.data.location)
  expect(textOf(page.querySelector('.location-text'))).toBe('江苏省连云港市海州区人民路 12 号 新浦小区')

  page.querySelector('.submit').dispatchEvent('tap')
  await waitFor(() => env.redirectTo.mock.calls.length > 0)

  const [post] = server.to(PROPOSE_PATH)
  expect(post.data).toEqual({
    title: '小区停车位太少',
    description: '晚上回来找不到车位\n消防通道被占',
    category: 'livelihood',
    attachment_ids: [],
    address: '江苏省连云港市海州区人民路 12 号 新浦小区',
    latitude: 34.6012,
    longitude: 119.2234,
  })
  expect(post.header.Authorization).toBe('Bearer tok-1')
  expect(post.header['Idempotency-Key']).toMatch(KEY_RE)
  expect(env.redirectTo.mock.calls[0][0].url).toBe('/pages/suggestion/suggestion?id=42')
  expect(env.toastTitles()).toEqual(['提交成功'])
  expect(changes.takeProposed()).toEqual(['11']) // the platform's list reloads when shown again
})

test('提交建议 asks for notices on its progress within the tap and reports the answers', async () => {
  const env = installWx({ storage: LOGGED_IN })
  const list = {
    kinds: [
      { kind: 'status_change', kind_label: '进展通知', template_id: 'T_STATUS', long_term: false, subscribed: false, credits: 2 },
      { kind: 'feedback', kind_label: '反馈通知', template_id: 'T_FEED', long_term: true, subscribed: false, credits: 0 },
    ],
    max_per_request: 3,
    credit_cap: 50,
  }
  const server = fakeServer(req => {
    if (req.path === '/api/platforms/11') return { status: 200, body: PLATFORM }
    if (req.path === SIMILAR_PATH) return { status: 200, body: { items: [] } }
    if (req.path === '/api/me/subscriptions') return { status: 200, body: list }
    if (req.method === 'POST' && req.path === PROPOSE_PATH) return { status: 201, body: created({ id: 43 }) }
    return undefined
  })
  const dialog = jest.spyOn(wx, 'requestSubscribeMessage').mockImplementation(opts => {
    setTimeout(() => opts.success({ errMsg: 'requestSubscribeMessage:ok', T_STATUS: 'accept', T_FEED: 'reject' }), 0)
  })
  const page = renderPage(simulate, pageId)
  await openForm(page)
  await waitFor(() => server.to('/api/me/subscriptions').length === 1)
  await fill(page)

  page.querySelector('.submit').dispatchEvent('tap')
  await waitFor(() => env.redirectTo.mock.calls.length > 0)

  expect(dialog.mock.calls[0][0].tmplIds).toEqual(['T_STATUS', 'T_FEED'])
  expect(server.to(PROPOSE_PATH)).toHaveLength(1)
  await waitFor(() => server.calls.some(c => c.method === 'POST' && c.path === '/api/me/subscriptions'))
  const report = server.calls.find(c => c.method === 'POST' && c.path === '/api/me/subscriptions')
  expect(report.data).toEqual({ T_STATUS: 'accept', T_FEED: 'reject' })
})

test('held for review: a clear notice that it is published after review, and a way to see it', async () => {
  const env = installWx({ storage: LOGGED_IN })
  formServer({ propose: () => ({ status: 201, body: created({ id: 43, state: 'held', state_label: '审核中', notice: '已提交，审核通过后公开' }) }) })
  const page = renderPage(simulate, pageId)
  await openForm(page)
  await fill(page)

  await page.instance.onSubmit()

  expect(textOf(page)).toBe('已提交，审核通过后公开 为保证内容文明、真实，您的建议需要工作人员审核。审核通过后会公开，并通知您。 查看我提交的建议 返回')
  expect(env.redirectTo).not.toHaveBeenCalled()

  page.querySelector('.btn').dispatchEvent('tap')
  await simulate.sleep(0)
  expect(env.redirectTo.mock.calls[0][0].url).toBe('/pages/suggestion/suggestion?id=43')
  page.querySelector('.btn-plain').dispatchEvent('tap')
  await simulate.sleep(0)
  expect(env.navigateBack).toHaveBeenCalledTimes(1)
})

test("refused as risky: the server's message, and everything typed stays", async () => {
  const env = installWx({ storage: LOGGED_IN })
  const server = formServer({ propose: () => ({ status: 422, body: errorBody('content_risky', '内容含有不当信息，请修改后再提交') }) })
  const page = renderPage(simulate, pageId)
  await openForm(page)
  await fill(page, { title: '某某不当标题', description: '不当说明', category: 0 })

  await page.instance.onSubmit()

  expect(server.to(PROPOSE_PATH)).toHaveLength(1)
  expect(textOf(page.querySelector('.submit-error'))).toBe('内容含有不当信息，请修改后再提交。您填写的内容都还在，可以修改后再次点击“提交建议”。')
  expect(env.toastTitles()).toEqual(['内容含有不当信息，请修改后再提交'])
  expect(env.redirectTo).not.toHaveBeenCalled()
  expect(changes.takeProposed()).toEqual([])
  expect(page.querySelector('.title-input').toJSON().attrs).toContainEqual({ name: 'value', value: '某某不当标题' })
  expect(page.querySelector('.description-input').toJSON().attrs).toContainEqual({ name: 'value', value: '不当说明' })
  expect(byClass(page, 'category-selected').map(textOf)[0]).toMatch(/^✓ 要事/)
})

test('a network failure keeps the form; the retry sends the same body with the same key', async () => {
  const env = installWx({ storage: LOGGED_IN })
  let online = false
  const server = formServer({ propose: () => (online ? { status: 201, body: created({ id: 44 }) } : { fail: 'timeout' }) })
  const page = renderPage(simulate, pageId)
  await openForm(page)
  await fill(page)

  await page.instance.onSubmit()
  expect(textOf(page.querySelector('.submit-error'))).toBe('网络不佳，请稍后重试。您填写的内容都还在，可以修改后再次点击“提交建议”。')
  expect(page.instance.data.title).toBe('小区停车位太少')
  expect(page.instance.data.category).toBe('livelihood')
  expect(env.redirectTo).not.toHaveBeenCalled()

  online = true
  await page.instance.onSubmit()
  const [first, retry] = server.to(PROPOSE_PATH)
  expect(retry.header['Idempotency-Key']).toBe(first.header['Idempotency-Key'])
  expect(retry.data).toEqual(first.data)
  expect(env.redirectTo.mock.calls[0][0].url).toBe('/pages/suggestion/suggestion?id=44')
})

test('if the lost try had been saved and the form was changed, its answer is replayed (no second suggestion)', async () => {
  const env = installWx({ storage: LOGGED_IN })
  const stored = {} // the server's idempotency record: key → the first body
  const server = formServer({
    propose: req => {
      const key = req.header['Idempotency-Key']
      if (!stored[key]) {
        stored[key] = JSON.stringify(req.data)
        return { fail: 'timeout' } // saved, but the answer never arrives
      }
      if (stored[key] !== JSON.stringify(req.data)) {
        return { status: 422, body: errorBody('idempotency_key_reused', '该请求标识已用于另一项不同的提交，请刷新后重新提交') }
      }
      return { status: 201, body: created({ id: 45 }) }
    },
  })
  const page = renderPage(simulate, pageId)
  await openForm(page)
  await fill(page)
  await page.instance.onSubmit()

  await page.instance.onDescriptionInput({ detail: { value: '晚上回来找不到车位，补充一句' } })
  await page.instance.onSubmit()

  const calls = server.to(PROPOSE_PATH)
  expect(calls).toHaveLength(3)
  expect(new Set(calls.map(c => c.header['Idempotency-Key'])).size).toBe(1)
  expect(calls[2].data).toEqual(calls[0].data)
  expect(env.redirectTo.mock.calls[0][0].url).toBe('/pages/suggestion/suggestion?id=45')
})

test('an expired login is renewed and the submit retried with the same key', async () => {
  const env = installWx({ storage: { 'auth.token': 'old-token' } })
  const server = fakeServer(req => {
    if (req.path === '/api/platforms/11') return { status: 200, body: PLATFORM }
    if (req.path === '/api/auth/wx-login') {
      return { status: 200, body: { token: 'tok-2', expires_at: '2099-01-01T00:00:00Z', is_new: true, person: { id: 9, name: '周**', roles: [] } } }
    }
    if (req.path === PROPOSE_PATH) {
      return req.header.Authorization === 'Bearer tok-2'
        ? { status: 201, body: created({ id: 46 }) }
        : { status: 401, body: errorBody('unauthorized', '请先登录') }
    }
    return undefined
  })
  const page = renderPage(simulate, pageId)
  await openForm(page)
  await fill(page)

  await page.instance.onSubmit()

  const calls = server.to(PROPOSE_PATH)
  expect(calls.map(c => c.header.Authorization)).toEqual(['Bearer old-token', 'Bearer tok-2'])
  expect(calls[1].header['Idempotency-Key']).toBe(calls[0].header['Idempotency-Key'])
  expect(env.redirectTo.mock.calls[0][0].url).toBe('/pages/suggestion/suggestion?id=46')
})

test('the form is checked before sending: title length and category', async () => {
  const env = installWx({ storage: LOGGED_IN })
  const server = formServer({ propose: () => ({ status: 201, body: created() }) })
  const page = renderPage(simulate, pageId)
  await openForm(page)

  await fill(page, { title: '停车', category: null })
  await page.instance.onSubmit()
  expect(textOf(page.querySelector('.form-error'))).toBe('标题请至少写 4 个字')

  await fill(page, { title: '小区停车位太少', category: null })
  await page.instance.onSubmit()
  expect(textOf(page.querySelector('.form-error'))).toBe('请选择建议的类别：要事、实事或难事')

  expect(server.to(PROPOSE_PATH)).toHaveLength(0)
  expect(env.toastTitles()).toEqual(['标题请至少写 4 个字', '请选择建议的类别：要事、实事或难事'])
})

test('an invalid platform_id shows a friendly error and sends nothing', async () => {
  installWx()
  const server = formServer()
  const page = renderPage(simulate, pageId)

  await page.instance.onLoad({ platform_id: 'abc' })

  expect(server.calls).toHaveLength(0)
  expect(textOf(page)).toBe('未找到该协商议事平台')
})

test('a platform that does not exist (404) shows its message instead of the form', async () => {
  installWx()
  formServer({ platform: { status: 404, body: errorBody('platform_not_found', '该平台不存在') } })
  const page = renderPage(simulate, pageId)

  await openForm(page)

  expect(textOf(page)).toBe('该平台不存在')
})
