// 交办事项详情 (D20–D21), GET /api/handling/tasks/<id>: the item, its due date, progress and every
// step so far (with photos and PDFs). What the handler can do depends on the state and on
// whether their department leads the task (a co-handler only posts progress):
// - 签收 (assigned, lead): POST …/accept
// - 提交工作方案 (accepted, lead): POST …/plan {text}
// - 报送进展 (planned, lead or co): POST …/progress {percent, text, upload_keys}; photos from
//   wx.chooseMedia (POST /api/uploads), a PDF from a chat via wx.chooseMessageFile
//   (POST /api/document-uploads)
// - 办结 (planned, lead): POST …/complete {result, upload_keys}
// - 申请延期 (not completed, lead, none pending): a date picker after the current due date,
//   POST …/extension {due_on, reason}
// Every action answers with the task as it now is; a refused one shows the server's message.
const { request } = require('../../utils/request')
const { confirmModal } = require('../../utils/modal')
const { uploadPhoto, uploadDocument } = require('../../utils/upload')
const { dateText, nextDay, todayIso, overdueText } = require('../../utils/followup')

const MAX_UPLOADS = 9 // app/followup/handling.py MAX_UPLOADS

/** TaskDetail (app/followup/schemas.py) → what the page shows and which actions it offers. */
function detailView(t) {
  const lead = t.role !== 'co'
  const open = t.state !== 'completed'
  const pending = t.pending_extension
  return {
    id: t.id,
    text: t.item_text || '',
    topic: t.topic_title || '',
    platform: t.platform_name || '',
    leadName: (t.lead_body && t.lead_body.name) || '',
    coNames: (t.co_bodies || []).map(b => b.name).join('、'),
    roleLabel: lead ? '牵头承办' : '协办',
    stateLabel: t.state_label || '',
    dueText: dateText(t.due_on),
    dueOn: t.due_on,
    estimated: Boolean(t.due_estimated),
    overdueText: overdueText(t),
    percent: t.percent || 0,
    plan: t.plan_text || '',
    result: t.result_text || '',
    pendingText: pending ? `已申请延期至${dateText(pending.requested_due_on)}，等待交办单位审批` : '',
    canAccept: lead && t.state === 'assigned',
    canPlan: lead && t.state === 'accepted',
    canProgress: t.state === 'planned',
    canComplete: lead && t.state === 'planned',
    canExtend: lead && open && !pending,
    events: (t.events || []).map(e => ({
      id: e.id,
      title: `${e.kind_label || ''}${e.body_name ? ` · ${e.body_name}` : ''}`,
      meta: [e.actor_name || '', e.percent != null && e.kind === 'progress' ? `进度 ${e.percent}%` : '',
        e.due_on && e.kind !== 'assigned' ? `日期 ${dateText(e.due_on)}` : ''].filter(Boolean).join(' · '),
      text: e.text || '',
      photos: (e.attachments || []).filter(a => !a.is_document).map(a => a.url),
      documents: (e.attachments || []).filter(a => a.is_document).map((a, i) => ({ url: a.url, name: `附件${i + 1}.pdf` })),
    })),
  }
}

Component({
  data: {
    id: null,
    task: null,
    loading: true,
    error: '',
    busy: false,
    planText: '',
    percent: 0,
    progressText: '',
    resultText: '',
    uploads: [], // [{ key, name, isDocument }]
    extending: false,
    extensionDate: '',
    extensionMin: '',
    extensionReason: '',
    formError: '',
  },

  methods: {
    onLoad(options) {
      this.setData({ id: Number(options && options.id) || null })
      return this.load()
    },

    async load() {
      if (!this.data.id) {
        this.setData({ loading: false, error: '事项不存在' })
        return
      }
      this.setData({ loading: true, error: '' })
      try {
        this.show(await request({ path: `/api/handling/tasks/${this.data.id}`, showError: false }))
      } catch (err) {
        this.setData({ error: err.message })
      } finally {
        this.setData({ loading: false })
      }
    },

    show(body) {
      const task = detailView(body)
      // A new due date is after the current one and not in the past (the server checks too).
      const after = task.dueOn ? nextDay(task.dueOn) : ''
      const today = todayIso()
      this.setData({ task, percent: Math.max(this.data.percent, task.percent), extensionMin: after > today ? after : today })
    },

    async act(step, data, done) {
      if (this.data.busy) return
      this.setData({ busy: true, formError: '' })
      try {
        const body = await request({ path: `/api/handling/tasks/${this.data.id}/${step}`, method: 'POST', data: data || {} })
        this.show(body)
        wx.showToast({ title: done, icon: 'success' })
        return body
      } catch (err) {
        this.setData({ formError: err.message })
        return null
      } finally {
        this.setData({ busy: false })
      }
    },

    async onAccept() {
      if (!(await confirmModal({ title: '签收', content: '确定签收该交办事项吗？签收后请及时提交工作方案。' }))) return
      await this.act('accept', {}, '已签收')
    },

    onPlanInput(e) { this.setData({ planText: e.detail.value }) },
    onPercentChange(e) { this.setData({ percent: Number(e.detail.value) || 0 }) },
    onProgressInput(e) { this.setData({ progressText: e.detail.value }) },
    onResultInput(e) { this.setData({ resultText: e.detail.value }) },
    onReasonInput(e) { this.setData({ extensionReason: e.detail.value }) },
    onDateChange(e) { this.setData({ extensionDate: e.detail.value }) },

    async onPlan() {
      const text = this.data.planText.trim()
      if (!text) return this.setData({ formError: '请填写工作方案' })
      if (await this.act('plan', { text }, '方案已提交')) this.setData({ planText: '' })
    },

    keys() {
      return this.data.uploads.map(u => u.key)
    },

    async onProgress() {
      const text = this.data.progressText.trim()
      if (!text) return this.setData({ formError: '请填写办理进展' })
      if (this.data.percent < this.data.task.percent) {
        return this.setData({ formError: `进度不能低于上次报送的 ${this.data.task.percent}%` })
      }
      const ok = await this.act('progress', { percent: this.data.percent, text, upload_keys: this.keys() }, '进展已报送')
      if (ok) this.setData({ progressText: '', uploads: [] })
    },

    async onComplete() {
      const result = this.data.resultText.trim()
      if (!result) return this.setData({ formError: '请填写办理结果' })
      if (!(await confirmModal({ title: '办结', content: '办结后不能再更改，确定办结吗？' }))) return
      const ok = await this.act('complete', { result, upload_keys: this.keys() }, '已办结')
      if (ok) this.setData({ resultText: '', uploads: [] })
    },

    onStartExtension() {
      this.setData({ extending: true, formError: '' })
    },

    async onExtend() {
      const reason = this.data.extensionReason.trim()
      if (!this.data.extensionDate) return this.setData({ formError: '请选择延期后的日期' })
      if (!reason) return this.setData({ formError: '请说明延期理由' })
      const ok = await this.act('extension', { due_on: this.data.extensionDate, reason }, '已提交申请')
      if (ok) this.setData({ extending: false, extensionReason: '', extensionDate: '' })
    },

    room() {
      const left = MAX_UPLOADS - this.data.uploads.length
      if (left <= 0) this.setData({ formError: `最多附 ${MAX_UPLOADS} 个图片或文件` })
      return left
    },

    async onAddPhotos() {
      const left = this.room()
      if (left <= 0) return
      const files = await new Promise(resolve => wx.chooseMedia({
        count: left, mediaType: ['image'], sizeType: ['compressed'],
        success: res => resolve(res.tempFiles || []), fail: () => resolve([]),
      }))
      for (const f of files) {
        await this.uploadOne(() => uploadPhoto({ filePath: f.tempFilePath }), '图片', false)
      }
    },

    async onAddDocument() {
      if (this.room() <= 0) return
      const files = await new Promise(resolve => wx.chooseMessageFile({
        count: 1, type: 'file', extension: ['pdf'],
        success: res => resolve(res.tempFiles || []), fail: () => resolve([]),
      }))
      for (const f of files) {
        await this.uploadOne(() => uploadDocument({ filePath: f.path }), f.name || 'PDF 文件', true)
      }
    },

    async uploadOne(send, name, isDocument) {
      this.setData({ busy: true })
      try {
        const body = await send()
        this.setData({ uploads: [...this.data.uploads, { key: body.key, name, isDocument }] })
      } catch (err) {
        // The upload helper has shown the server's message.
      } finally {
        this.setData({ busy: false })
      }
    },

    onRemoveUpload(e) {
      const i = Number(e.currentTarget.dataset.index)
      this.setData({ uploads: this.data.uploads.filter((_, j) => j !== i) })
    },

    onPreview(e) {
      wx.previewImage({ urls: [e.currentTarget.dataset.url], current: e.currentTarget.dataset.url })
    },

    onRetry() {
      return this.load()
    },
  },
})
