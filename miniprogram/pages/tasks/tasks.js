// 交办事项 (D20–D21): the department handler's tasks, GET /api/handling/tasks, in four tabs:
// 待签收 (state=assigned), 办理中 (state=accepted&state=planned), 已办结 (state=completed) and
// 已逾期 (overdue=true: due before today, China time, and not completed). Each row shows the
// item, the topic, lead or co-handler, the due date and progress; tapping opens pages/task.
// A person who is not a department handler gets 403: the page says so.
const { request } = require('../../utils/request')
const { dateText, overdueText } = require('../../utils/followup')

const TABS = [
  { key: 'assigned', label: '待签收', query: 'state=assigned' },
  { key: 'handling', label: '办理中', query: 'state=accepted&state=planned' },
  { key: 'completed', label: '已办结', query: 'state=completed' },
  { key: 'overdue', label: '已逾期', query: 'overdue=true' },
]

/** One TaskOut (app/followup/schemas.py). */
function taskView(t) {
  const due = dateText(t.due_on)
  return {
    id: t.id,
    text: t.item_text || '',
    topic: t.topic_title || '',
    roleLabel: t.role === 'co' ? '协办' : '牵头承办',
    stateLabel: t.state_label || '',
    dueText: due ? `办理期限：${due}` : '',
    overdueText: overdueText(t),
    percentText: t.state === 'planned' || t.state === 'completed' ? `进度 ${t.percent}%` : '',
    keyText: t.is_key ? '重点督办' : '',
  }
}

Component({
  data: {
    tabs: TABS.map(({ key, label }) => ({ key, label })),
    tab: 'assigned',
    items: [],
    loading: false,
    error: '',
  },

  methods: {
    onLoad(options) {
      const tab = options && TABS.some(t => t.key === options.tab) ? options.tab : 'assigned'
      this.setData({ tab })
      return this.load()
    },

    onPullDownRefresh() {
      return this.load().then(() => wx.stopPullDownRefresh())
    },

    // Coming back from a task: its state may have changed.
    onShow() {
      if (!this._shown) {
        this._shown = true
        return Promise.resolve()
      }
      return this.load()
    },

    async load() {
      const tab = TABS.find(t => t.key === this.data.tab)
      this.setData({ loading: true, error: '' })
      try {
        const body = await request({ path: `/api/handling/tasks?${tab.query}`, showError: false })
        if (this.data.tab !== tab.key) return // another tab was chosen meanwhile
        this.setData({ items: (body.items || []).map(taskView) })
      } catch (err) {
        this.setData({
          items: [],
          error: err.status === 403 ? '您不是承办部门经办人，没有交办事项' : err.message,
        })
      } finally {
        this.setData({ loading: false })
      }
    },

    onTab(event) {
      const tab = event.currentTarget.dataset.key
      if (tab === this.data.tab) return Promise.resolve()
      this.setData({ tab, items: [] })
      return this.load()
    },

    onOpen(event) {
      wx.navigateTo({ url: `/pages/task/task?id=${event.currentTarget.dataset.id}` })
    },

    onRetry() {
      return this.load()
    },
  },
})
