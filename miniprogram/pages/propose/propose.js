// The propose form (query platform_id): title with similar suggestions under it while the
// resident types (so they can support one instead of repeating it), description, category
// (要事 / 实事 / 难事), up to 9 photos uploaded one by one with progress, an optional place, and
// the submit with an Idempotency-Key that is kept until the suggestion is created.
//
// Whatever fails, what the resident typed and chose stays on the form.
const { request } = require('../../utils/request')
const { actionKey } = require('../../utils/idempotency')
const { uploadPhoto } = require('../../utils/upload')
const config = require('../../utils/config')
const changes = require('../../utils/changes')
const { CATEGORY_OPTIONS, HELD_NOTICE, similarItem } = require('../../utils/format')
const { idFrom } = require('../../utils/query')
const { askToSubscribe, prefetchSubscriptions } = require('../../utils/subscribe')

const TITLE_MIN = 4
const TITLE_MAX = 60
const DESCRIPTION_MAX = 5000
const ADDRESS_MAX = 255
const SIMILAR_LIMIT = 5
const INVALID_PLATFORM = '未找到该协商议事平台'
const KEPT_NOTE = '您填写的内容都还在，可以修改后再次点击“提交建议”。'

function chooseImages(count) {
  return new Promise(resolve => {
    wx.chooseMedia({
      count,
      mediaType: ['image'],
      sizeType: ['compressed'],
      sourceType: ['album', 'camera'],
      success: res => resolve((res && res.tempFiles) || []),
      fail: () => resolve([]), // cancelled
    })
  })
}

function chooseLocation() {
  return new Promise(resolve => {
    wx.chooseLocation({
      success: res => resolve({ ok: true, res }),
      fail: res => resolve({ ok: false, cancelled: /cancel/i.test((res && res.errMsg) || '') }),
    })
  })
}

Component({
  data: {
    platformId: '',
    platformName: '',
    error: '',
    title: '',
    titleCount: 0,
    similar: [],
    description: '',
    categories: CATEGORY_OPTIONS,
    category: '',
    photos: [],
    photoError: '',
    maxPhotos: config.MAX_PHOTOS,
    location: null,
    formError: '',
    submitError: '',
    submitting: false,
    held: null,
  },

  methods: {
    onLoad(query) {
      const id = idFrom(query, 'platform_id')
      if (!id) {
        this.setData({ error: INVALID_PLATFORM })
        return Promise.resolve()
      }
      this.setData({ platformId: id })
      this._photoSeq = 0
      this._uploadKeys = {}
      prefetchSubscriptions() // so the submit tap can ask for notices at once
      return this.loadPlatform()
    },

    onUnload() {
      clearTimeout(this._similarTimer)
    },

    // The platform's name heads the form. Only a missing platform stops the form; any other
    // failure leaves the form usable without the name.
    async loadPlatform() {
      try {
        const body = await request({ path: `/api/platforms/${this.data.platformId}`, auth: false, showError: false })
        this.setData({ platformName: body.name || '' })
      } catch (err) {
        if (err.status === 404) this.setData({ error: err.message || INVALID_PLATFORM })
      }
    },

    // --- title and similar suggestions -----------------------------------------------------------

    onTitleInput(event) {
      const title = event.detail.value
      this.setData({ title, titleCount: title.trim().length, formError: '' })
      clearTimeout(this._similarTimer)
      const text = title.trim()
      if (text.length < TITLE_MIN) {
        this._similarFor = ''
        if (this.data.similar.length) this.setData({ similar: [] })
        return
      }
      this._similarTimer = setTimeout(() => this.searchSimilar(text), config.SIMILAR_DEBOUNCE_MS)
    },

    async searchSimilar(text) {
      this._similarFor = text
      try {
        const body = await request({
          path: `/api/platforms/${this.data.platformId}/suggestions/similar`,
          query: { title: text, limit: SIMILAR_LIMIT },
          auth: false,
          showError: false,
        })
        if (this._similarFor !== text) return // the title changed meanwhile
        this.setData({ similar: (body.items || []).map(similarItem) })
      } catch (err) {
        // Only a help: without it the resident can still submit.
      }
    },

    onOpenSimilar(event) {
      // navigateTo keeps this form (and what was typed) under the detail page.
      wx.navigateTo({ url: `/pages/suggestion/suggestion?id=${event.currentTarget.dataset.id}` })
    },

    // --- description and category ------------------------------------------------------------

    onDescriptionInput(event) {
      this.setData({ description: event.detail.value, formError: '' })
    },

    onChooseCategory(event) {
      this.setData({ category: event.currentTarget.dataset.value, formError: '' })
    },

    // --- photos -------------------------------------------------------------------------------

    async onAddPhotos() {
      const room = config.MAX_PHOTOS - this.data.photos.length
      if (room <= 0) {
        wx.showToast({ title: `最多上传 ${config.MAX_PHOTOS} 张照片`, icon: 'none' })
        return
      }
      const files = (await chooseImages(room)).slice(0, room)
      if (!files.length) return
      const added = files.map(file => {
        this._photoSeq += 1
        return { key: `p${this._photoSeq}`, path: file.tempFilePath, status: 'waiting', progress: 0, id: null, error: '' }
      })
      this.setData({ photos: this.data.photos.concat(added), formError: '' })
      // One at a time: kinder to a weak mobile connection, and each shows its own progress.
      for (const photo of added) {
        await this.uploadOne(photo.key)
      }
    },

    async uploadOne(key) {
      const photo = this.data.photos.find(p => p.key === key)
      if (!photo) return
      // One Idempotency-Key per photo, kept when its upload is retried.
      if (!this._uploadKeys[key]) this._uploadKeys[key] = actionKey()
      this.setPhoto(key, { status: 'uploading', progress: 0, error: '' })
      try {
        const body = await uploadPhoto({
          filePath: photo.path,
          idempotencyKey: this._uploadKeys[key].current(),
          onProgress: progress => this.setPhoto(key, { progress }),
          showError: false,
        })
        this.setPhoto(key, { status: 'done', progress: 100, id: body.id })
      } catch (err) {
        this.setPhoto(key, { status: 'failed', error: err.message })
      }
      this.showPhotoError()
    },

    // The reason of the latest failed upload, while any photo has failed.
    showPhotoError() {
      const failed = this.data.photos.filter(p => p.status === 'failed')
      const photoError = failed.length ? `有 ${failed.length} 张照片没有上传成功：${failed[failed.length - 1].error}` : ''
      if (photoError !== this.data.photoError) this.setData({ photoError })
    },

    setPhoto(key, changes) {
      if (!this.data.photos.some(p => p.key === key)) return // removed meanwhile
      this.setData({ photos: this.data.photos.map(p => (p.key === key ? { ...p, ...changes } : p)) })
    },

    onRetryPhoto(event) {
      return this.uploadOne(event.currentTarget.dataset.key)
    },

    onRemovePhoto(event) {
      const key = event.currentTarget.dataset.key
      delete this._uploadKeys[key]
      this.setData({ photos: this.data.photos.filter(p => p.key !== key) })
      this.showPhotoError()
    },

    onPreviewPhoto(event) {
      wx.previewImage({ current: event.currentTarget.dataset.path, urls: this.data.photos.map(p => p.path) })
    },

    // --- place --------------------------------------------------------------------------------

    async onChooseLocation() {
      const answer = await chooseLocation()
      if (!answer.ok) {
        if (!answer.cancelled) wx.showToast({ title: '暂时无法选择位置，可以不填', icon: 'none' })
        return
      }
      const { name, address, latitude, longitude } = answer.res
      if (typeof latitude !== 'number' || typeof longitude !== 'number') return
      let text = [address, name].filter(Boolean).join(' ').trim()
      if (name && address && address.indexOf(name) >= 0) text = address
      this.setData({ location: { text: text.slice(0, ADDRESS_MAX), latitude, longitude } })
    },

    onClearLocation() {
      this.setData({ location: null })
    },

    // --- submit -------------------------------------------------------------------------------

    validate() {
      const title = this.data.title.trim()
      if (title.length < TITLE_MIN) return `标题请至少写 ${TITLE_MIN} 个字`
      if (title.length > TITLE_MAX) return `标题最多 ${TITLE_MAX} 个字`
      if (this.data.description.trim().length > DESCRIPTION_MAX) return `具体说明最多 ${DESCRIPTION_MAX} 字`
      if (!this.data.category) return '请选择建议的类别：要事、实事或难事'
      if (this.data.photos.some(p => p.status === 'uploading' || p.status === 'waiting')) return '照片还在上传，请稍等再提交'
      if (this.data.photos.some(p => p.status === 'failed')) return '有照片没有上传成功，请点“重新上传”或删除这张照片'
      return ''
    },

    payload() {
      const data = {
        title: this.data.title.trim(),
        description: this.data.description.trim(),
        category: this.data.category,
        attachment_ids: this.data.photos.filter(p => p.status === 'done').map(p => p.id),
      }
      const place = this.data.location
      if (place) {
        if (place.text) data.address = place.text
        data.latitude = place.latitude
        data.longitude = place.longitude
      }
      return data
    },

    send(data) {
      return request({
        path: `/api/platforms/${this.data.platformId}/suggestions`,
        method: 'POST',
        data,
        idempotencyKey: this._submitKey.current(),
        showError: false,
      })
    },

    // The payloads sent with the current key whose answer never arrived (network failure, or
    // still running on the server): one of them may have created the suggestion.
    rememberUnsettled(data) {
      const text = JSON.stringify(data)
      this._unsettled = (this._unsettled || []).filter(d => JSON.stringify(d) !== text).concat([data])
    },

    async sendOnce(data) {
      try {
        return await this.send(data)
      } catch (err) {
        if (err.code !== 'idempotency_key_reused') throw err
        // An earlier try whose answer was lost did reach the server, and the form has been
        // changed since: fetch that answer (a replay) rather than create a second suggestion.
        const earlier = (this._unsettled || []).slice().reverse()
        for (const payload of earlier) {
          try {
            return await this.send(payload)
          } catch (again) {
            if (again.code !== 'idempotency_key_reused') throw again
          }
        }
        throw err
      }
    },

    async onSubmit() {
      if (this.data.submitting) return
      const problem = this.validate()
      if (problem) {
        this.setData({ formError: problem, submitError: '' })
        wx.showToast({ title: problem, icon: 'none', duration: 2500 })
        return
      }
      // Within the tap: progress and feedback on this suggestion by WeChat notice (never holds up
      // or fails the submission).
      askToSubscribe(['status_change', 'feedback'])
      const data = this.payload()
      // One key for this suggestion until it is created: a retry after a network failure
      // sends the same key, and the server creates the suggestion once.
      if (!this._submitKey) this._submitKey = actionKey()
      this.setData({ submitting: true, formError: '', submitError: '' })
      let body
      try {
        body = await this.sendOnce(data)
      } catch (err) {
        if (!err.status || err.code === 'request_in_progress') {
          this.rememberUnsettled(data) // no answer yet: keep the key for the retry
        } else if (err.code === 'idempotency_key_reused') {
          this._submitKey = null // nothing to replay: the next try starts afresh
          this._unsettled = []
        } else {
          this._unsettled = [] // a refusal: nothing was stored with this key
        }
        const message = err.message || '提交失败，请稍后重试'
        this.setData({ submitting: false, submitError: `${message.replace(/。$/, '')}。${KEPT_NOTE}` })
        wx.showToast({ title: message, icon: 'none', duration: 2500 })
        return
      }
      this._submitKey = null
      this._unsettled = []
      changes.noteProposed(this.data.platformId)
      this.setData({ submitting: false })
      if (body.state === 'held') {
        // Kept for review (or the check was unavailable): published after a moderator approves.
        this.setData({ held: { id: body.id, notice: body.notice || HELD_NOTICE } })
        return
      }
      wx.showToast({ title: '提交成功', icon: 'success' })
      wx.redirectTo({ url: `/pages/suggestion/suggestion?id=${body.id}` })
    },

    onOpenHeld() {
      wx.redirectTo({ url: `/pages/suggestion/suggestion?id=${this.data.held.id}` })
    },

    onBack() {
      wx.navigateBack({ delta: 1 })
    },
  },
})
