// Inviting people to a consultation (query id = consultation id), for the convenor on a phone.
//
// Two suggestion lists with check boxes: 建议邀请的委员 (GET …/suggested-members: the platform's
// linked members, then their duty groups) and 关心本议题的群众 (GET …/suggested-residents, names
// masked by the server) invited as 群众代表 or 利益相关方; and 按手机号邀请 (name + mobile +
// group) for a neighbour who has never used the mini-program. Both POST
// /api/consultations/<id>/invitations {invitees: [{person_id, group} | {phone, name, group}]}
// and show the D9 warnings the server returns.
// 发送会议通知: POST …/notices {confirm: false}; when the server answers sent=false with
// warnings (D9: the list lacks members, residents or stakeholders), a wx.showModal lists them and
// 仍然发送 resends with {confirm: true}.
// 已邀请的人员 (GET …/invitations, also refreshed by every invitation's answer) with 生成绑定码 for
// an invitee without the mini-program: POST …/invitations/<person_id>/link-code shows the code in
// large grouped digits, its QR image, the expiry in China time and the instruction to read out or
// print (docs/auth.md 1之二). After 按手机号邀请 the same action is offered for that person at once —
// the typical chat-only neighbour. Members always hold a role (403 link_needs_staff): no button.
const { request } = require('../../utils/request')
const { actionKey } = require('../../utils/idempotency')
const { GROUP_LABELS } = require('../../utils/meetings_format')
const { confirmModal } = require('../../utils/modal')
const { idFrom } = require('../../utils/query')
const { issueLinkCode } = require('../../utils/link_code')

const INVALID_ID = '会议链接无效，请从会议页面重新打开'
const NAME_MAX = 40 // app/consultations/schemas.py InviteeIn
const NOTHING_CHOSEN = '请先勾选要邀请的人员'
const NAME_REQUIRED = '请填写被邀请人的姓名'
const PHONE_INVALID = '请填写 11 位手机号'

// Residents from the suggestion list come as one of these (D10).
const RESIDENT_GROUPS = ['resident', 'stakeholder'].map(value => ({ value, label: GROUP_LABELS[value] }))
// By phone: people outside the mini-program, usually residents, officials or departments.
const PHONE_GROUPS = ['resident', 'stakeholder', 'official', 'department'].map(value => ({ value, label: GROUP_LABELS[value] }))

// AttendanceOut.invitations → the 已邀请的人员 list.
function rosterRows(invitations) {
  return (invitations || []).map(inv => ({
    personId: inv.person_id,
    name: inv.name || '',
    groupLabel: inv.group_label || GROUP_LABELS[inv.group] || '',
    answerLabel: inv.answer_label || '',
    canLink: inv.group !== 'member',
  }))
}

// The person a phone invitation added: the one not on the list before, else the one of that name.
function invitedByPhone(roster, before, name) {
  const added = before ? roster.filter(r => !before.has(r.personId)) : []
  if (added.length === 1) return added[0]
  const named = roster.filter(r => r.name === name)
  return named.length === 1 ? named[0] : null
}

function rows(body) {
  return ((body && body.items) || []).map(item => ({
    personId: item.person_id,
    name: item.name || '',
    reason: item.reason || '',
    checked: false,
  }))
}

Component({
  data: {
    id: '',
    invalid: '',
    members: [],
    membersLoaded: false,
    membersError: '',
    residents: [],
    residentsLoaded: false,
    residentsError: '',
    residentGroups: RESIDENT_GROUPS,
    residentGroup: 'resident',
    chosenCount: 0,

    phoneGroups: PHONE_GROUPS,
    phoneGroupIndex: 0,
    phoneName: '',
    phone: '',
    phoneError: '',

    inviting: '', // '' | 'list' | 'phone'
    inviteError: '',
    warnings: [],
    invitedCount: null,

    sending: false,
    sendError: '',
    sentText: '',

    roster: [], // 已邀请的人员
    rosterShown: false,
    rosterLoading: false,
    rosterError: '',
    phoneInvited: null, // the roster row the last 按手机号邀请 added
    linkingId: null, // person id whose code is being issued
    linkPlace: '', // 'phone' | 'roster': where the result or error is shown
    linkForId: null,
    linkError: '',
    linkResult: null, // utils/link_code.js linkCodeView
  },

  methods: {
    onLoad(query) {
      const id = idFrom(query)
      if (!id) {
        this.setData({ invalid: INVALID_ID })
        return Promise.resolve()
      }
      this.setData({ id })
      return this.loadSuggestions()
    },

    onPullDownRefresh() {
      return this.loadSuggestions().then(() => wx.stopPullDownRefresh())
    },

    loadSuggestions() {
      return Promise.all([this.loadList('members', 'suggested-members'), this.loadList('residents', 'suggested-residents')])
        .then(() => this.countChosen())
    },

    async loadList(name, endpoint) {
      this.setData({ [`${name}Error`]: '' })
      try {
        const body = await request({ path: `/api/consultations/${this.data.id}/${endpoint}`, showError: false })
        this.setData({ [name]: rows(body), [`${name}Loaded`]: true })
      } catch (err) {
        this.setData({ [`${name}Error`]: err.message })
      }
    },

    onRetryLists() {
      return this.loadSuggestions()
    },

    // --- choosing ---------------------------------------------------------------------------------

    countChosen() {
      const n = this.data.members.filter(p => p.checked).length + this.data.residents.filter(p => p.checked).length
      this.setData({ chosenCount: n })
    },

    toggle(list, index) {
      const people = this.data[list]
      if (!(index >= 0 && index < people.length)) return
      this.setData({ [`${list}[${index}].checked`]: !people[index].checked, inviteError: '' })
      this._listKey = null // another choice is another action
      this.countChosen()
    },

    onToggleMember(event) {
      this.toggle('members', Number(event.currentTarget.dataset.index))
    },

    onToggleResident(event) {
      this.toggle('residents', Number(event.currentTarget.dataset.index))
    },

    onResidentGroup(event) {
      const value = event.currentTarget.dataset.value
      if (!RESIDENT_GROUPS.some(g => g.value === value)) return
      this._listKey = null
      this.setData({ residentGroup: value })
    },

    // --- inviting ---------------------------------------------------------------------------------

    async onInviteChosen() {
      if (this.data.inviting) return
      const invitees = this.data.members.filter(p => p.checked).map(p => ({ person_id: p.personId, group: 'member' }))
        .concat(this.data.residents.filter(p => p.checked).map(p => ({ person_id: p.personId, group: this.data.residentGroup })))
      if (!invitees.length) {
        this.setData({ inviteError: NOTHING_CHOSEN })
        return
      }
      if (!this._listKey) this._listKey = actionKey()
      const ok = await this.invite(invitees, 'list', this._listKey)
      if (!ok) return
      this._listKey = null
      await this.loadSuggestions() // the invited are no longer suggested
    },

    onPhoneName(event) {
      this._phoneKey = null
      this.setData({ phoneName: event.detail.value, phoneError: '' })
    },

    onPhoneInput(event) {
      this._phoneKey = null
      this.setData({ phone: event.detail.value, phoneError: '' })
    },

    onPhoneGroup(event) {
      const index = Number(event.detail.value)
      if (!(index >= 0 && index < PHONE_GROUPS.length)) return
      this._phoneKey = null
      this.setData({ phoneGroupIndex: index })
    },

    async onInviteByPhone() {
      if (this.data.inviting) return
      const name = String(this.data.phoneName || '').replace(/\s+/g, ' ').trim()
      const phone = String(this.data.phone || '').replace(/[\s-]/g, '')
      if (!name) {
        this.setData({ phoneError: NAME_REQUIRED })
        return
      }
      if (!/^1\d{10}$/.test(phone)) {
        this.setData({ phoneError: PHONE_INVALID })
        return
      }
      const group = PHONE_GROUPS[this.data.phoneGroupIndex].value
      if (!this._phoneKey) this._phoneKey = actionKey()
      const ok = await this.invite([{ phone, name: name.slice(0, NAME_MAX), group }], 'phone', this._phoneKey)
      if (!ok) return
      this._phoneKey = null
      this.setData({ phoneName: '', phone: '' })
    },

    // --- who is invited; link codes ----------------------------------------------------------------

    setRoster(invitations) {
      const roster = rosterRows(invitations)
      this._rosterIds = new Set(roster.map(r => r.personId))
      this.setData({ roster, rosterShown: true, rosterError: '' })
      return roster
    },

    async onShowRoster() {
      if (this.data.rosterLoading) return
      this.setData({ rosterLoading: true, rosterError: '' })
      try {
        const body = await request({ path: `/api/consultations/${this.data.id}/invitations`, showError: false })
        this.setRoster(body.invitations)
      } catch (err) {
        this.setData({ rosterError: err.message })
      } finally {
        this.setData({ rosterLoading: false })
      }
    },

    async issueFor(row, place) {
      if (!row || this.data.linkingId !== null) return
      this.setData({ linkingId: row.personId, linkPlace: place, linkForId: row.personId, linkError: '', linkResult: null })
      try {
        const result = await issueLinkCode(
          `/api/consultations/${this.data.id}/invitations/${row.personId}/link-code`, row.name)
        this.setData({ linkResult: result })
      } catch (err) {
        this.setData({ linkError: err.message })
      } finally {
        this.setData({ linkingId: null })
      }
    },

    onLinkInvitee(event) {
      const personId = Number(event.currentTarget.dataset.id)
      return this.issueFor(this.data.roster.find(r => r.personId === personId), 'roster')
    },

    onLinkPhoneInvitee() {
      return this.issueFor(this.data.phoneInvited, 'phone')
    },

    onPreviewLinkQr() {
      const qr = this.data.linkResult && this.data.linkResult.qr
      if (qr) wx.previewImage({ urls: [qr], current: qr })
    },

    // POST …/invitations; the key stays the same when the same invitation is tried again.
    async invite(invitees, what, key) {
      this.setData({ inviting: what, inviteError: '', phoneError: '', sentText: '', phoneInvited: null })
      try {
        const body = await request({
          path: `/api/consultations/${this.data.id}/invitations`,
          method: 'POST',
          data: { invitees },
          idempotencyKey: key.current(),
        })
        const before = this._rosterIds
        this.setData({
          warnings: (body.warnings || []).slice(),
          invitedCount: (body.invitations || []).length,
        })
        const roster = this.setRoster(body.invitations)
        if (what === 'phone') {
          const row = invitedByPhone(roster, before, invitees[0].name)
          this.setData({ phoneInvited: row && row.canLink ? row : null })
        }
        wx.showToast({ title: `已邀请 ${invitees.length} 人`, icon: 'none' })
        return true
      } catch (err) {
        // The wrapper has shown the message; it stays on the page, and the choice as it was.
        if (what === 'phone') this.setData({ phoneError: err.message })
        else this.setData({ inviteError: err.message })
        return false
      } finally {
        this.setData({ inviting: '' })
      }
    },

    // --- the notice -------------------------------------------------------------------------------

    sendNotices(confirm) {
      return request({
        path: `/api/consultations/${this.data.id}/notices`,
        method: 'POST',
        data: { confirm },
      })
    },

    async onSendNotices() {
      if (this.data.sending) return
      this.setData({ sending: true, sendError: '', sentText: '' })
      try {
        let body = await this.sendNotices(false)
        if (!body.sent) {
          const warnings = body.warnings || []
          this.setData({ warnings: warnings.slice() })
          const confirmed = await confirmModal({
            title: '人员构成提示',
            content: `${warnings.join('；')}。确定仍然发送会议通知吗？`,
            confirmText: '仍然发送',
            cancelText: '再邀请',
          })
          if (!confirmed) return
          body = await this.sendNotices(true)
        }
        const sentText = `会议通知已发送给 ${body.recipients} 人`
        this.setData({ sentText })
        wx.showToast({ title: sentText, icon: 'none' })
      } catch (err) {
        this.setData({ sendError: err.message })
      } finally {
        this.setData({ sending: false })
      }
    },

    onOpenMeeting() {
      wx.navigateBack({
        fail: () => wx.redirectTo({ url: `/pages/meeting/meeting?id=${this.data.id}` }),
      })
    },
  },
})
