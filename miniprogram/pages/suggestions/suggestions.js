// A platform's public suggestions (query platform_id): stage tabs (征集中 / 已立题 / 已协商 /
// 办理中 / 已办结, so a suggestion taken up stays in view), sort tabs, keyset "加载更多" with
// next_cursor, tap an item for its detail. GET /api/suggestions is public; when a token is
// stored it is sent, so each item says whether I have supported it (voted_by_me).
const { request } = require('../../utils/request')
const config = require('../../utils/config')
const changes = require('../../utils/changes')
const { suggestionListItem } = require('../../utils/format')
const { idFrom } = require('../../utils/query')

const SORTS = [
  { key: 'new', label: '最新' },
  { key: 'supported', label: '支持最多' },
  { key: 'active', label: '最近活跃' },
]
// GET /api/suggestions?stage=… (app/followup/results.py STAGES). 征集中 is the default list,
// asked for without `stage` (the same open suggestions).
const STAGES = [
  { key: 'open', label: '征集中', empty: '这里还没有居民建议，欢迎您提出第一条。' },
  { key: 'topic', label: '已立题', empty: '暂无已列为议题的建议。' },
  { key: 'consulted', label: '已协商', empty: '暂无已协商的建议。' },
  { key: 'handling', label: '办理中', empty: '暂无正在办理的建议。' },
  { key: 'done', label: '已办结', empty: '暂无已办结的建议。' },
]
const INVALID_PLATFORM = '未找到该协商议事平台'

Component({
  data: {
    platformId: '',
    sorts: SORTS,
    sort: 'new',
    stages: STAGES,
    stage: 'open',
    emptyText: STAGES[0].empty,
    items: [],
    nextCursor: null,
    loading: false,
    loadingMore: false,
    error: '',
    invalid: false,
  },

  methods: {
    onLoad(query) {
      const id = idFrom(query, 'platform_id')
      if (!id) {
        this.setData({ invalid: true, error: INVALID_PLATFORM })
        return Promise.resolve()
      }
      this.setData({ platformId: id })
      return this.refresh()
    },

    // Coming back from a detail page: show the votes made there (no reload, the place in a
    // long list is kept); after a suggestion was proposed here, reload to show it. The first
    // onShow comes right after onLoad.
    onShow() {
      const votes = changes.takeVotes()
      const proposed = changes.takeProposed()
      if (!this._shown) {
        this._shown = true
        return Promise.resolve()
      }
      if (proposed.indexOf(this.data.platformId) >= 0) return this.refresh()
      if (!this.data.items.some(item => votes[String(item.id)])) return Promise.resolve()
      this.setData({
        items: this.data.items.map(item => {
          const vote = votes[String(item.id)]
          if (!vote) return item
          return { ...item, votedByMe: vote.voted, voteCount: vote.voteCount, voteText: `${vote.voteCount} 人支持` }
        }),
      })
      return Promise.resolve()
    },

    onPullDownRefresh() {
      return this.refresh().then(() => wx.stopPullDownRefresh())
    },

    onReachBottom() {
      return this.loadMore()
    },

    onRetry() {
      return this.refresh()
    },

    onSort(event) {
      const sort = event.currentTarget.dataset.sort
      if (!sort || sort === this.data.sort || !SORTS.some(s => s.key === sort)) return Promise.resolve()
      // A cursor belongs to its sort order: start again from the first page.
      this.setData({ sort, items: [], nextCursor: null })
      return this.refresh()
    },

    onStage(event) {
      const stage = event.currentTarget.dataset.stage
      const found = STAGES.find(s => s.key === stage)
      if (!found || stage === this.data.stage) return Promise.resolve()
      // A cursor belongs to its tab: start again from the first page.
      this.setData({ stage, emptyText: found.empty, items: [], nextCursor: null })
      return this.refresh()
    },

    onOpen(event) {
      wx.navigateTo({ url: `/pages/suggestion/suggestion?id=${event.currentTarget.dataset.id}` })
    },

    onPropose() {
      wx.navigateTo({ url: `/pages/propose/propose?platform_id=${this.data.platformId}` })
    },

    async refresh() {
      if (this.data.invalid) return
      const seq = (this._seq || 0) + 1
      this._seq = seq
      this.setData({ loading: true, error: '' })
      try {
        const page = await this.fetchPage(null)
        if (seq !== this._seq) return // the sort or the tab changed meanwhile
        this.setData({
          items: (page.items || []).map(suggestionListItem),
          nextCursor: page.next_cursor || null,
        })
      } catch (err) {
        if (seq !== this._seq) return
        this.setData({ items: [], nextCursor: null, error: err.message })
      } finally {
        if (seq === this._seq) this.setData({ loading: false })
      }
    },

    async loadMore() {
      if (this.data.loading || this.data.loadingMore || !this.data.nextCursor) return
      const seq = this._seq
      this.setData({ loadingMore: true })
      try {
        const page = await this.fetchPage(this.data.nextCursor)
        if (seq !== this._seq) return
        this.setData({
          items: this.data.items.concat((page.items || []).map(suggestionListItem)),
          nextCursor: page.next_cursor || null,
        })
      } catch (err) {
        // The toast has told the user; "加载更多" stays to try again.
      } finally {
        this.setData({ loadingMore: false })
      }
    },

    fetchPage(cursor) {
      return request({
        path: '/api/suggestions',
        query: {
          platform_id: this.data.platformId,
          stage: this.data.stage === 'open' ? undefined : this.data.stage,
          sort: this.data.sort,
          limit: config.PAGE_SIZE,
          cursor: cursor || undefined,
        },
      })
    },
  },
})
