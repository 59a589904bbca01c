// One consultation meeting (query id), the page the server's notices link to
// (/pages/meeting/meeting?id=<consultation id>).
//
// For an invitee: topic, time (China time), place (an online link can be copied), agenda and
// state; my invitation and answer with large buttons — 参加, 请假 (a reason is required), and for
// officials and departments 委派他人参加 — while the list is open; the pre-meeting briefing; the
// meeting for the phone's calendar (wx.addPhoneCalendar) or copied as text; check-in by scanning
// the code shown in the room.
// For the convenor (can_manage): the answers by group with names and decline reasons, confirming
// the final list (after a wx.showModal), and the check-in QR code, refreshed every minute while
// it is shown; links to 邀请参加人员 (pages/invite, until the list is confirmed or the meeting
// starts) and, once the meeting is held, to 会议记录 (pages/minutes) and 意见清单
// (pages/opinions) — read-only once the opinion list is routed (`concluded`).
// Answers close at the start time by the device clock: after it the buttons give way to a line.
// 401 is handled by utils/request.js (log in, retry once); refusals show the server's Chinese
// message.
const { request } = require('../../utils/request')
const { actionKey } = require('../../utils/idempotency')
const { confirmModal } = require('../../utils/modal')
const { formatTime } = require('../../utils/format')
const { meetingView, attendanceView, meetingInfoText, clockText } = require('../../utils/meetings_format')
const { idFrom } = require('../../utils/query')
const { askToSubscribe, prefetchSubscriptions } = require('../../utils/subscribe')

const INVALID_ID = '会议链接无效，请从“我的会议”中打开'
const NOT_FOUND = '该协商活动不存在或您没有受邀'
const REASON_REQUIRED = '请写明请假原因，方便召集人安排'
const SUBSTITUTE_REQUIRED = '请填写代为参加人员的姓名'
const SCAN_FAILED = '未能识别二维码，请对准会场的签到二维码重试'
const CALENDAR_FAILED = '未能添加到手机日历，您可以点“复制会议信息”自己记下'
const REASON_MAX = 200 // app/consultations/schemas.py RsvpIn
const NAME_MAX = 40
const TITLE_MAX = 60
// The code changes every 5 minutes (a code stays valid for its window and the next): refreshing
// every minute keeps the one on the screen current.
const CODE_REFRESH_MS = 60 * 1000
// The page closes the answers at the start time itself when it comes within a day (longer
// waits are beyond what a timer should hold; a page shown again is recomputed anyway).
const START_TIMER_MAX_MS = 24 * 3600 * 1000
// Refusals after which the page shows the meeting as it now is (the list was locked, the meeting
// cancelled or held meanwhile).
const STALE_CODES = ['list_locked', 'consultation_cancelled', 'consultation_held']
// Answering the invitation is the moment to ask for WeChat notices about this meeting.
const SUBSCRIBE_KINDS = ['meeting_notice', 'briefing', 'status_change']

function scanQrCode() {
  return new Promise((resolve, reject) => {
    wx.scanCode({
      onlyFromCamera: true,
      scanType: ['qrCode'],
      success: res => resolve(String((res && res.result) || '')),
      fail: res => reject({ cancelled: /cancel/i.test((res && res.errMsg) || '') }),
    })
  })
}

function keepScreenOn(on) {
  if (typeof wx.setKeepScreenOn === 'function') wx.setKeepScreenOn({ keepScreenOn: on })
}

function singleLine(text) {
  return String(text || '').replace(/\s+/g, ' ').trim()
}

Component({
  data: {
    id: '',
    loading: true,
    error: '',
    canRetry: false,
    m: null,

    rsvpMode: '', // '' | 'decline' | 'substitute'
    reason: '',
    substituteName: '',
    substituteTitle: '',
    formError: '',
    rsvpBusy: false,
    rsvpError: '',

    briefing: { loading: false, loaded: false, text: '', researchDone: true, error: '' },
    canAddCalendar: false,
    checkin: { busy: false, done: null, error: '' },

    attendance: null,
    attendanceLoading: false,
    attendanceError: '',
    locking: false,
    lockError: '',
    qr: { visible: false, loading: false, src: '', expiresText: '', error: '' },
  },

  lifetimes: {
    detached() {
      this.leave()
    },
  },

  methods: {
    onLoad(query) {
      const id = idFrom(query)
      if (!id) {
        this.setData({ loading: false, error: INVALID_ID, canRetry: false })
        return Promise.resolve()
      }
      this.setData({ id, canAddCalendar: typeof wx.addPhoneCalendar === 'function' })
      return this.load()
    },

    // Leaving the page stops the QR refresh; coming back to it restarts it at once.
    onShow() {
      if (!this._shown) {
        this._shown = true
        return Promise.resolve()
      }
      // The start time may have passed while the page was hidden (timers do not run then).
      if (this._raw) this.apply(this._raw)
      // Back from the convenor's invite or opinion page: the list or the state may have changed.
      const work = []
      if (this._refreshOnShow) {
        this._refreshOnShow = false
        work.push(this.refresh())
      }
      if (!this.data.qr.visible) return Promise.all(work)
      keepScreenOn(true)
      this.startCodeTimer()
      return Promise.all(work.concat([this.fetchCode()]))
    },

    onHide() {
      this.stopCodeTimer()
      if (this.data.qr.visible) keepScreenOn(false)
    },

    onUnload() {
      this.leave()
    },

    // The page goes away: no more refreshing, and the screen may sleep again.
    leave() {
      this.stopCodeTimer()
      this.stopStartTimer()
      if (this.data.qr.visible) keepScreenOn(false)
    },

    onPullDownRefresh() {
      return this.refresh().then(() => wx.stopPullDownRefresh())
    },

    onRetry() {
      return this.load()
    },

    onOpenMyMeetings() {
      wx.redirectTo({ url: '/pages/meetings/meetings' })
    },

    async load() {
      this.setData({ loading: true, error: '' })
      let body
      try {
        body = await this.fetchDetail()
      } catch (err) {
        const notFound = err.status === 404
        this.setData({ loading: false, m: null, error: notFound ? NOT_FOUND : err.message, canRetry: !notFound })
        return
      }
      this.apply(body)
      this.setData({ loading: false })
      if (this.data.m.canAnswer) prefetchSubscriptions() // so the RSVP tap can ask at once
      await this.loadExtras()
    },

    // The page again as the server has it, without the loading state (after a refusal that
    // says the meeting changed, or a pull-down).
    async refresh() {
      if (!this.data.m) return this.load()
      try {
        this.apply(await this.fetchDetail())
      } catch (err) {
        return undefined // the page keeps what it shows
      }
      return this.loadExtras()
    },

    fetchDetail() {
      // The page says what went wrong itself (a 404 must not show the server's wording).
      return request({ path: `/api/consultations/${this.data.id}`, showError: false })
    },

    // What the page shows by the device clock: answers and new invitations close at the start
    // time (the server answers 409 consultation_held from then on, even while nobody has
    // checked in), so the page shows the meeting again at that moment if it is still open.
    apply(body) {
      this._raw = body
      const now = Date.now()
      const m = meetingView(body, now)
      this.setData({ m })
      this.stopStartTimer()
      const wait = m.startMs - now
      if ((m.canAnswer || m.canInvite) && wait > 0 && wait <= START_TIMER_MAX_MS) {
        this._startTimer = setTimeout(() => {
          this._startTimer = null
          this.apply(this._raw)
          this.setData({ rsvpMode: '' })
        }, wait)
      }
    },

    stopStartTimer() {
      if (this._startTimer) clearTimeout(this._startTimer)
      this._startTimer = null
    },

    loadExtras() {
      const m = this.data.m
      const work = []
      if (!m.cancelled) work.push(this.loadBriefing())
      if (m.canManage) work.push(this.loadAttendance())
      return Promise.all(work)
    },

    // --- place and calendar ---------------------------------------------------------------------

    onCopyLink() {
      const url = this.data.m && this.data.m.onlineUrl
      if (url) wx.setClipboardData({ data: url })
    },

    onCopyInfo() {
      if (this.data.m) wx.setClipboardData({ data: meetingInfoText(this.data.m) })
    },

    // The .ics file (calendar_url) cannot be used here: wx.openDocument opens only Word, Excel,
    // PowerPoint and PDF files. The phone's calendar gets the meeting through
    // wx.addPhoneCalendar instead (asks the user; base library 2.15.0+).
    onAddCalendar() {
      const m = this.data.m
      if (!m || !this.data.canAddCalendar || !(m.startUnix > 0)) return
      wx.addPhoneCalendar({
        title: `协商会议：${m.title}`,
        startTime: m.startUnix,
        endTime: m.endUnix > m.startUnix ? m.endUnix : m.startUnix,
        location: m.placeText,
        description: meetingInfoText(m),
        alarm: true,
        alarmOffset: 3600, // an hour before, like the .ics file's reminder
        success: () => wx.showToast({ title: '已添加到手机日历', icon: 'none' }),
        fail: res => {
          if (/cancel/i.test((res && res.errMsg) || '')) return
          wx.showToast({ title: CALENDAR_FAILED, icon: 'none', duration: 3000 })
        },
      })
    },

    // --- answering the invitation ---------------------------------------------------------------

    onAccept() {
      this.setData({ rsvpMode: '', formError: '' })
      return this.sendRsvp({ answer: 'accepted' })
    },

    onStartDecline() {
      this.setData({ rsvpMode: 'decline', formError: '', rsvpError: '' })
    },

    onStartSubstitute() {
      if (!this.data.m || !this.data.m.canSubstitute) return
      this.setData({ rsvpMode: 'substitute', formError: '', rsvpError: '' })
    },

    onCancelForm() {
      this.setData({ rsvpMode: '', formError: '' })
    },

    onReasonInput(event) {
      this.setData({ reason: event.detail.value, formError: '' })
    },

    onNameInput(event) {
      this.setData({ substituteName: event.detail.value, formError: '' })
    },

    onTitleInput(event) {
      this.setData({ substituteTitle: event.detail.value, formError: '' })
    },

    onSubmitDecline() {
      const reason = singleLine(this.data.reason)
      if (!reason) {
        this.setData({ formError: REASON_REQUIRED })
        return Promise.resolve()
      }
      return this.sendRsvp({ answer: 'declined', reason: reason.slice(0, REASON_MAX) })
    },

    onSubmitSubstitute() {
      if (!this.data.m || !this.data.m.canSubstitute) return Promise.resolve()
      const name = singleLine(this.data.substituteName)
      if (!name) {
        this.setData({ formError: SUBSTITUTE_REQUIRED })
        return Promise.resolve()
      }
      const data = { answer: 'substitute', substitute_name: name.slice(0, NAME_MAX) }
      const title = singleLine(this.data.substituteTitle)
      if (title) data.substitute_title = title.slice(0, TITLE_MAX)
      return this.sendRsvp(data)
    },

    // PUT: one answer per invitation, the same answer again changes nothing on the server, so
    // a retry needs no Idempotency-Key.
    async sendRsvp(data) {
      if (this.data.rsvpBusy) return
      askToSubscribe(SUBSCRIBE_KINDS) // within the tap; never holds up or fails the answer
      this.setData({ rsvpBusy: true, rsvpError: '', formError: '' })
      try {
        const body = await request({ path: `/api/consultations/${this.data.id}/rsvp`, method: 'PUT', data })
        this.apply(body)
        this.setData({ rsvpMode: '', reason: '', substituteName: '', substituteTitle: '' })
        wx.showToast({ title: `已答复：${this.data.m.answerLabel}`, icon: 'none' })
        if (this.data.m.canManage) await this.loadAttendance()
      } catch (err) {
        // The wrapper has shown the message; keep it on the page, and the form as it was.
        this.setData({ rsvpError: err.message })
        if (STALE_CODES.indexOf(err.code) >= 0) {
          this.setData({ 'm.canAnswer': false, rsvpMode: '' })
          await this.refresh()
        }
      } finally {
        this.setData({ rsvpBusy: false })
      }
    },

    // --- briefing -------------------------------------------------------------------------------

    async loadBriefing() {
      this.setData({ 'briefing.loading': true, 'briefing.error': '' })
      try {
        const body = await request({ path: `/api/consultations/${this.data.id}/briefing`, showError: false })
        this.setData({
          briefing: { loading: false, loaded: true, text: body.text || '', researchDone: body.research_done !== false, error: '' },
        })
      } catch (err) {
        this.setData({ 'briefing.loading': false, 'briefing.error': err.message })
      }
    },

    onRetryBriefing() {
      return this.loadBriefing()
    },

    // --- check-in -------------------------------------------------------------------------------

    async onScan() {
      if (this.data.checkin.busy) return
      let code
      try {
        code = (await scanQrCode()).trim()
      } catch (err) {
        if (!err.cancelled) this.setData({ 'checkin.error': SCAN_FAILED })
        return
      }
      if (!code) {
        this.setData({ 'checkin.error': SCAN_FAILED })
        return
      }
      // One key per scanned code: sending the same code again after a lost answer is the same
      // check-in (the server also records one check-in per person).
      if (!this._checkinKey || this._checkinCode !== code) {
        this._checkinKey = actionKey()
        this._checkinCode = code
      }
      this.setData({ 'checkin.busy': true, 'checkin.error': '' })
      try {
        const row = await request({
          path: `/api/consultations/${this.data.id}/checkin`,
          method: 'POST',
          data: { code },
          idempotencyKey: this._checkinKey.current(),
        })
        this._checkinKey = null
        this.setData({
          'checkin.done': {
            groupLabel: row.group_label || '',
            name: row.name || '',
            timeText: formatTime(row.checked_in_at),
          },
        })
        wx.showToast({ title: '签到成功', icon: 'success' })
        if (this._raw && this._raw.state === 'scheduled') this.refresh() // the meeting is now held
      } catch (err) {
        this.setData({ 'checkin.error': err.message })
      } finally {
        this.setData({ 'checkin.busy': false })
      }
    },

    // --- the convenor ---------------------------------------------------------------------------

    async loadAttendance() {
      this.setData({ attendanceLoading: true, attendanceError: '' })
      try {
        const body = await request({ path: `/api/consultations/${this.data.id}/invitations`, showError: false })
        this.setData({ attendance: attendanceView(body) })
      } catch (err) {
        this.setData({ attendanceError: err.message })
      } finally {
        this.setData({ attendanceLoading: false })
      }
    },

    onRefreshAttendance() {
      if (this.data.attendanceLoading) return Promise.resolve()
      return this.loadAttendance()
    },

    async onLock() {
      const m = this.data.m
      if (!m || !m.canLock || this.data.locking) return
      const a = this.data.attendance
      const pendingText = a && a.pending ? `还有 ${a.pending} 人未答复。` : ''
      const confirmed = await confirmModal({
        title: '确认参会名单',
        content: `${pendingText}确认后，受邀人员不能再修改答复，也不能再邀请新的人员。确定要确认参会名单吗？`,
        confirmText: '确认',
        cancelText: '取消',
      })
      if (!confirmed) return
      this.setData({ locking: true, lockError: '' })
      try {
        const body = await request({ path: `/api/consultations/${this.data.id}/lock`, method: 'POST' })
        this.apply({ ...this._raw, list_locked_at: body.list_locked_at || new Date().toISOString() })
        this.setData({ attendance: attendanceView(body) })
        wx.showToast({ title: '参会名单已确认', icon: 'none' })
      } catch (err) {
        this.setData({ lockError: err.message })
        if (STALE_CODES.indexOf(err.code) >= 0) await this.refresh()
      } finally {
        this.setData({ locking: false })
      }
    },

    // The convenor's pages for this meeting.
    onOpenInvite() {
      if (!this.data.m || !this.data.m.canInvite) return
      this._refreshOnShow = true
      wx.navigateTo({ url: `/pages/invite/invite?id=${this.data.id}` })
    },

    // D27: the resident's rating (会后评价, later 反馈后评价).
    onOpenRate() {
      if (this.data.m && this.data.m.canRate) wx.navigateTo({ url: `/pages/rate/rate?id=${this.data.id}` })
    },

    // Once the opinion list is routed both pages open read-only.
    onOpenMinutes() {
      if (this.data.m && this.data.m.canViewRecord) wx.navigateTo({ url: `/pages/minutes/minutes?id=${this.data.id}` })
    },

    onOpenOpinions() {
      if (!this.data.m || !this.data.m.canViewRecord) return
      this._refreshOnShow = true
      wx.navigateTo({ url: `/pages/opinions/opinions?id=${this.data.id}` })
    },

    async onShowCode() {
      if (!this.data.m || !this.data.m.canShowCode || this.data.qr.visible) return
      this.setData({ qr: { visible: true, loading: true, src: '', expiresText: '', error: '' } })
      keepScreenOn(true)
      this.startCodeTimer()
      await this.fetchCode()
    },

    onHideCode() {
      this.stopCodeTimer()
      keepScreenOn(false)
      this.setData({ qr: { visible: false, loading: false, src: '', expiresText: '', error: '' } })
    },

    startCodeTimer() {
      this.stopCodeTimer()
      this._codeTimer = setInterval(() => { this.fetchCode() }, CODE_REFRESH_MS)
    },

    stopCodeTimer() {
      if (this._codeTimer) clearInterval(this._codeTimer)
      this._codeTimer = null
    },

    async fetchCode() {
      if (this._codeBusy) return
      this._codeBusy = true
      try {
        const body = await request({ path: `/api/consultations/${this.data.id}/checkin-code`, showError: false })
        if (!this.data.qr.visible) return // closed meanwhile
        this.setData({
          'qr.src': body.qr_png || '',
          'qr.expiresText': body.expires_at ? `当前二维码有效至 ${clockText(body.expires_at)}` : '',
          'qr.error': '',
        })
      } catch (err) {
        if (!this.data.qr.visible) return
        if (err.status >= 400 && err.status < 500) {
          // Refused (409 checkin_closed outside the check-in hours, cancelled, not the
          // convenor): no code to show; the message stays under the button.
          this.stopCodeTimer()
          keepScreenOn(false)
          this.setData({ qr: { visible: false, loading: false, src: '', expiresText: '', error: err.message } })
          return
        }
        // The network or the server failed: the code on the screen stays valid a while; the
        // timer tries again.
        this.setData({ 'qr.error': `二维码刷新失败（${err.message}），稍后自动重试` })
      } finally {
        this._codeBusy = false
        if (this.data.qr.visible) this.setData({ 'qr.loading': false })
      }
    },
  },
})
