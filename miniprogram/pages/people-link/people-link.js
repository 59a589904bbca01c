// 为人员生成绑定码 (CPPCC staff and admins, reached from 我的): find a person within reach by name or
// full mobile number (GET /api/people?q=…, PeoplePage {items: [{id, name, phone_masked,
// home_region, roles}], total}), pick one, POST /api/people/<id>/link-code and show the code
// large (grouped for reading aloud), its QR image, the expiry in China time and the instruction
// to read out or print. Errors (link_out_of_reach, account_disabled, rate limit) show the
// server's Chinese message next to the person.
const { request } = require('../../utils/request')
const { roleLabel } = require('../../utils/format')
const { issueLinkCode } = require('../../utils/link_code')

const QUERY_MAX = 32 // app/auth/schemas.py PeopleQuery.q
const QUERY_REQUIRED = '请输入姓名或完整手机号'

function personRow(p) {
  return {
    id: p.id,
    name: p.name || '',
    phoneMasked: p.phone_masked || '',
    region: (p.home_region && p.home_region.name) || '',
    roles: (p.roles || []).map(roleLabel).join('、'),
    active: p.is_active !== false,
  }
}

Component({
  data: {
    q: '',
    searching: false,
    searched: false,
    searchError: '',
    people: [],
    total: 0,
    issuingId: null,
    issueError: '',
    errorFor: null,
    result: null, // linkCodeView
  },

  methods: {
    onQuery(event) {
      this.setData({ q: event.detail.value, searchError: '' })
    },

    async onSearch() {
      if (this.data.searching) return
      const q = String(this.data.q || '').trim().slice(0, QUERY_MAX)
      if (!q) {
        this.setData({ searchError: QUERY_REQUIRED })
        return
      }
      this.setData({ searching: true, searchError: '', issueError: '', errorFor: null, result: null })
      try {
        const body = await request({ path: '/api/people', query: { q, per_page: 20 }, showError: false })
        this.setData({ people: (body.items || []).map(personRow), total: body.total || 0, searched: true })
      } catch (err) {
        this.setData({ searchError: err.message, people: [], searched: false })
      } finally {
        this.setData({ searching: false })
      }
    },

    async onIssue(event) {
      if (this.data.issuingId !== null) return
      const id = Number(event.currentTarget.dataset.id)
      const person = this.data.people.find(p => p.id === id)
      if (!person) return
      this.setData({ issuingId: id, issueError: '', errorFor: null, result: null })
      try {
        const result = await issueLinkCode(`/api/people/${id}/link-code`, person.name)
        this.setData({ result })
      } catch (err) {
        this.setData({ issueError: err.message, errorFor: id })
      } finally {
        this.setData({ issuingId: null })
      }
    },

    onPreviewQr() {
      const qr = this.data.result && this.data.result.qr
      if (qr) wx.previewImage({ urls: [qr], current: qr })
    },
  },
})
