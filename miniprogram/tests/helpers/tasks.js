// Shared by the handler pages' tests (pages/tasks, pages/task): login state, small actions and
// server answers shaped like app/followup/schemas.py.
const simulate = require('miniprogram-simulate')

const LOGGED_IN = { 'auth.token': 'tok-1', 'auth.expires_at': '2099-01-01T00:00:00Z' }
const ok = body => ({ status: 200, body })
const tap = node => node.dispatchEvent('tap')
const posts = server => server.calls.filter(c => c.method === 'POST')
async function type(node, value) {
  node.dispatchEvent('input', { detail: { value } })
  await simulate.sleep(0)
}

// app/followup/schemas.py TaskOut / TaskDetail
function taskOut(over = {}) {
  return {
    id: 5, item_id: 9, item_text: '村口道路坑洼，建议年内修缮', topic_title: '村道修缮', platform_name: '前进村协商议事室',
    role: 'lead', lead_body: { id: 3, name: '东县住房和城乡建设局' }, co_bodies: [{ id: 4, name: '东县交通运输局' }],
    state: 'assigned', state_label: '已交办', assigned_on: '2026-09-28', workdays: 5, due_on: '2026-10-12',
    original_due_on: '2026-10-12', due_estimated: false, overdue: false, workdays_overdue: 0, percent: 0,
    plan_text: null, result_text: null, completed_on: null, is_key: false, pending_extension: null, ...over,
  }
}
function detail(over = {}, events = []) {
  return { ...taskOut(over), events: [
    { id: 1, kind: 'assigned', kind_label: '交办', body_name: '新坝镇党委', actor_name: '审核人', percent: null, text: null, due_on: '2026-10-12', at: '2026-09-28T02:00:00Z', attachments: [] },
    ...events,
  ] }
}

module.exports = { LOGGED_IN, ok, tap, posts, type, taskOut, detail }
