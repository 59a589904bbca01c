// One suggestion (query id): text, photos, category and state, support ("支持") with one
// Idempotency-Key per user action, follow, the public timeline, and comments with one level
// of replies (post, reply, report). 401 is handled by utils/request.js (log in, retry once);
// refusals such as 409 vote_closed show the server's Chinese message.
const { request } = require('../../utils/request')
const { actionKey } = require('../../utils/idempotency')
const changes = require('../../utils/changes')
const { idFrom } = require('../../utils/query')
const {
  suggestionDetail, threadView, commentView, timelineItem, HELD_NOTICE,
} = require('../../utils/format')

const INVALID_ID = '未找到该建议'
const COMMENT_MAX = 500
const REPORT_REASON_MAX = 200
const REPLIES_PAGE = 50

function confirmModal(options) {
  return new Promise(resolve => {
    wx.showModal({
      ...options,
      success: res => resolve(res && res.confirm ? { confirmed: true, content: res.content || '' } : { confirmed: false }),
      fail: () => resolve({ confirmed: false }),
    })
  })
}

Component({
  data: {
    id: '',
    loading: true,
    error: '',
    s: null,
    voting: false,
    voteError: '',
    following: false,
    timeline: [],
    comments: [],
    commentCount: 0,
    commentsOpen: false,
    commentsCursor: null,
    commentsLoading: false,
    commentsError: '',
    draft: '',
    replyTo: null,
    posting: false,
    commentError: '',
    commentNotice: '',
  },

  methods: {
    onLoad(query) {
      const id = idFrom(query)
      if (!id) {
        this.setData({ loading: false, error: INVALID_ID })
        return Promise.resolve()
      }
      this.setData({ id })
      return this.load()
    },

    onRetry() {
      return this.load()
    },

    // The topic this suggestion became: its public results (pages/results).
    onOpenResults() {
      const id = this.data.s && this.data.s.resultsTopicId
      if (id) wx.navigateTo({ url: `/pages/results/results?id=${id}` })
    },

    async load() {
      this.setData({ loading: true, error: '' })
      let s
      try {
        s = suggestionDetail(await request({ path: `/api/suggestions/${this.data.id}` }))
      } catch (err) {
        this.setData({ loading: false, s: null, error: err.message })
        return
      }
      this.setData({ loading: false, s })
      // Held and rejected suggestions (seen by their proposer) have no public trail or thread.
      if (s.isPublic) await Promise.all([this.loadTimeline(), this.loadComments(null)])
    },

    async loadTimeline() {
      try {
        const body = await request({ path: `/api/suggestions/${this.data.id}/timeline`, showError: false })
        this.setData({ timeline: (body.items || []).map(timelineItem) })
      } catch (err) {
        this.setData({ timeline: [] }) // the trail is extra; the page works without it
      }
    },

    // --- photos and place ---------------------------------------------------------------------

    onPreviewPhoto(event) {
      const urls = this.data.s.photos.map(p => p.url)
      wx.previewImage({ current: event.currentTarget.dataset.url, urls })
    },

    onOpenMap() {
      const s = this.data.s
      if (!s || s.latitude === null || s.longitude === null) return
      wx.openLocation({ latitude: s.latitude, longitude: s.longitude, name: s.title, address: s.address, scale: 16 })
    },

    // --- support ------------------------------------------------------------------------------

    async onVote() {
      const s = this.data.s
      if (!s || !s.isOpen || this.data.voting) return
      const vote = !s.votedByMe
      const action = vote ? 'vote' : 'withdraw'
      // One key per user action: a retry of the same action (after "网络不佳", say) sends the
      // same key, so the server counts it once.
      if (!this._voteKey || this._voteAction !== action) {
        this._voteKey = actionKey()
        this._voteAction = action
      }
      this.setData({ voting: true, voteError: '' })
      try {
        const body = await request({
          path: `/api/suggestions/${this.data.id}/vote`,
          method: vote ? 'POST' : 'DELETE',
          idempotencyKey: this._voteKey.current(),
        })
        this._voteKey = null
        const voted = body.voted === true
        const voteCount = Number(body.vote_count) || 0
        this.setData({
          's.votedByMe': voted,
          's.voteCount': voteCount,
          's.voteText': `${voteCount} 人支持`,
          // Supporting makes the supporter follow the suggestion (the server does it).
          's.followedByMe': vote && voted ? true : s.followedByMe,
        })
        changes.noteVote(this.data.id, { voted, voteCount })
        wx.showToast({ title: voted ? '感谢您的支持' : '已取消支持', icon: 'none' })
      } catch (err) {
        // The wrapper has shown the message; keep it on the page too.
        this.setData({ voteError: err.message })
        if (err.code === 'vote_closed') {
          this._voteKey = null
          this.setData({ 's.isOpen': false })
        }
      } finally {
        this.setData({ voting: false })
      }
    },

    // --- follow -------------------------------------------------------------------------------

    async onFollow() {
      const s = this.data.s
      if (!s || this.data.following) return
      const on = !s.followedByMe
      this.setData({ following: true })
      try {
        const body = await request({ path: `/api/suggestions/${this.data.id}/follow`, method: on ? 'POST' : 'DELETE' })
        this.setData({ 's.followedByMe': body.following === true })
        wx.showToast({ title: body.following ? '已关注，有进展会通知您' : '已取消关注', icon: 'none' })
      } catch (err) {
        // The wrapper has shown the message.
      } finally {
        this.setData({ following: false })
      }
    },

    // --- comments -----------------------------------------------------------------------------

    async loadComments(cursor) {
      this.setData({ commentsLoading: true, commentsError: '' })
      try {
        const page = await request({
          path: `/api/suggestions/${this.data.id}/comments`,
          query: { cursor: cursor || undefined },
          showError: false,
        })
        const threads = (page.items || []).map(threadView)
        this.setData({
          comments: cursor ? this.data.comments.concat(threads) : threads,
          commentsCursor: page.next_cursor || null,
          commentCount: Number(page.comment_count) || 0,
          commentsOpen: page.is_open === true,
        })
      } catch (err) {
        this.setData({ commentsError: err.message })
      } finally {
        this.setData({ commentsLoading: false })
      }
    },

    onMoreComments() {
      if (this.data.commentsLoading || !this.data.commentsCursor) return Promise.resolve()
      return this.loadComments(this.data.commentsCursor)
    },

    onRetryComments() {
      return this.loadComments(null)
    },

    // The thread view carries the first replies; the rest come from the replies list
    // (from its start, then with its next_cursor).
    async onMoreReplies(event) {
      const threadId = event.currentTarget.dataset.id
      const index = this.data.comments.findIndex(t => t.id === threadId)
      if (index < 0) return
      const thread = this.data.comments[index]
      try {
        const page = await request({
          path: `/api/comments/${threadId}/replies`,
          query: { cursor: thread.repliesCursor || undefined, limit: REPLIES_PAGE },
        })
        const fetched = (page.items || []).map(commentView)
        const replies = thread.repliesCursor ? thread.replies.concat(fetched) : fetched
        this.setData({
          [`comments[${index}].replies`]: replies,
          [`comments[${index}].repliesCursor`]: page.next_cursor || null,
          [`comments[${index}].hasMoreReplies`]: Boolean(page.next_cursor),
        })
      } catch (err) {
        // The wrapper has shown the message; the button stays.
      }
    },

    onDraftInput(event) {
      this.setData({ draft: event.detail.value, commentError: '' })
    },

    onReply(event) {
      const { id, author } = event.currentTarget.dataset
      this.setData({ replyTo: { id, author }, commentError: '', commentNotice: '' })
    },

    onCancelReply() {
      this.setData({ replyTo: null })
    },

    async onSendComment() {
      if (this.data.posting) return
      const body = this.data.draft.trim()
      if (!body) {
        this.setData({ commentError: '请先写下您的评论' })
        return
      }
      if (body.length > COMMENT_MAX) {
        this.setData({ commentError: `评论最多 ${COMMENT_MAX} 字` })
        return
      }
      const replyTo = this.data.replyTo
      const data = replyTo ? { body, parent_id: replyTo.id } : { body }
      if (!this._commentKey) this._commentKey = actionKey()
      this.setData({ posting: true, commentError: '', commentNotice: '' })
      try {
        const res = await request({
          path: `/api/suggestions/${this.data.id}/comments`,
          method: 'POST',
          data,
          idempotencyKey: this._commentKey.current(),
          showError: false,
        })
        this._commentKey = null
        this.addComment(commentView(res.comment))
        const held = res.comment && res.comment.state === 'held'
        this.setData({
          draft: '',
          replyTo: null,
          commentCount: Number(res.comment_count) || 0,
          commentNotice: held ? res.comment.notice || HELD_NOTICE : '',
        })
        wx.showToast({ title: held ? '已提交，审核后公开' : '评论已发表', icon: 'none' })
      } catch (err) {
        if (err.code === 'idempotency_key_reused') {
          // An earlier send of this comment reached the server after all (its answer was
          // lost): show the thread as it is; the text stays in the box.
          this._commentKey = null
          this.setData({ commentError: '您刚才的评论已经发表，请勿重复提交' })
          await this.loadComments(null)
          return
        }
        if (err.code === 'comments_closed') this.setData({ commentsOpen: false })
        this.setData({ commentError: err.message })
        wx.showToast({ title: err.message, icon: 'none', duration: 2500 })
      } finally {
        this.setData({ posting: false })
      }
    },

    addComment(comment) {
      if (!comment.parentId) {
        this.setData({ comments: [{ ...comment, replies: [], replyCount: 0, hasMoreReplies: false, repliesCursor: null }].concat(this.data.comments) })
        return
      }
      // A reply to a reply is filed under its top-level comment (the server's parent_id).
      const index = this.data.comments.findIndex(t => t.id === comment.parentId)
      if (index < 0) return
      const thread = this.data.comments[index]
      this.setData({
        [`comments[${index}].replies`]: thread.replies.concat([comment]),
        [`comments[${index}].replyCount`]: thread.replyCount + 1,
      })
    },

    async onReport(event) {
      const id = event.currentTarget.dataset.id
      const answer = await confirmModal({
        title: '举报这条评论',
        content: '确定要举报这条评论吗？工作人员会尽快核实处理。',
        editable: true,
        placeholderText: '举报理由（可不填）',
        confirmText: '举报',
        cancelText: '取消',
      })
      if (!answer.confirmed) return
      const reason = answer.content.trim().slice(0, REPORT_REASON_MAX)
      try {
        const res = await request({ path: `/api/comments/${id}/report`, method: 'POST', data: reason ? { reason } : {} })
        this.markReported(id)
        wx.showToast({ title: res.message || '举报已收到，感谢您的监督', icon: 'none', duration: 2500 })
      } catch (err) {
        // The wrapper has shown the message.
      }
    },

    markReported(id) {
      const updates = {}
      this.data.comments.forEach((thread, i) => {
        if (thread.id === id) updates[`comments[${i}].reported`] = true
        thread.replies.forEach((reply, j) => {
          if (reply.id === id) updates[`comments[${i}].replies[${j}].reported`] = true
        })
      })
      this.setData(updates)
    },
  },
})
