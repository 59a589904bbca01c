/**
 * Shared by the follow-through pages (pages/tasks, pages/task, pages/supervision): dates as
 * Chinese text and the overdue line.
 */

/** "2026-12-05" → "2026年12月5日" ('' when missing or unreadable). */
function dateText(value) {
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(value || '')
  return m ? `${m[1]}年${Number(m[2])}月${Number(m[3])}日` : ''
}

/** The day after an ISO date ("2026-12-31" → "2027-01-01"). */
function nextDay(value) {
  const [y, m, d] = value.split('-').map(Number)
  const next = new Date(y, m - 1, d + 1)
  const pad = n => String(n).padStart(2, '0')
  return `${next.getFullYear()}-${pad(next.getMonth() + 1)}-${pad(next.getDate())}`
}

/** Today on the phone's calendar as "YYYY-MM-DD". */
function todayIso(now = new Date()) {
  const pad = n => String(n).padStart(2, '0')
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`
}

/** "已逾期 3 个工作日" for an overdue task or item ('' otherwise). */
function overdueText(row) {
  return row && row.overdue ? `已逾期 ${row.workdays_overdue} 个工作日` : ''
}

module.exports = { dateText, nextDay, todayIso, overdueText }
