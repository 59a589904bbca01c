// The public results of a topic (GET /api/topics/<id>/results, app/followup/results_routes.py
// TopicResults) shaped for pages/results: dates in Chinese, one line per fact, large text.

/** '2026-10-19' → '2026年10月19日' ('' when missing). */
function dateText(iso) {
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(iso || '')
  return m ? `${Number(m[1])}年${Number(m[2])}月${Number(m[3])}日` : ''
}

function percentOf(value) {
  const n = Number(value)
  return Number.isFinite(n) ? Math.max(0, Math.min(100, Math.round(n))) : 0
}

function handlingView(h) {
  if (!h) return null
  const extended = h.original_due_on && h.due_on && h.original_due_on !== h.due_on
  const co = (h.co_handlers || []).join('、')
  const percent = percentOf(h.percent)
  let resultLine = ''
  if (h.result) {
    const when = h.completed_on ? `${dateText(h.completed_on)}办结` : '已办结'
    const onTime = h.on_time === true ? '，按期办结' : h.on_time === false ? '，逾期办结' : ''
    resultLine = `办理结果：${h.result}（${when}${onTime}）`
  }
  return {
    lead: `承办部门：${h.lead_department}${co ? `（协办：${co}）` : ''}`,
    stateLabel: h.state_label || '',
    percent,
    percentText: `已完成 ${percent}%`,
    barStyle: `width: ${percent}%`,
    due: `办理期限：${dateText(h.due_on)}${extended ? `（已延期，原定${dateText(h.original_due_on)}）` : ''}`
      + (h.due_estimated ? '（按工作日估算）' : ''),
    plan: h.plan ? `工作方案：${h.plan}` : '',
    result: resultLine,
    events: (h.events || []).map((e, n) => ({
      key: `${n}`,
      text: [dateText(e.on), e.kind_label, e.percent !== null && e.percent !== undefined ? `${e.percent}%` : '', e.text || '']
        .filter(Boolean).join(' '),
    })),
    extensions: (h.extensions || []).map((x, n) => ({
      key: `${n}`,
      text: `申请延期至${dateText(x.requested_due_on)}：${x.reason}（${x.state_label}${x.note && x.state !== 'approved' ? `：${x.note}` : ''}）`,
    })),
  }
}

function itemView(item) {
  // D22: an escalated item, or one decided at more than one level, shows its trail level by
  // level (each with its explanation); otherwise the one decision's explanation (D23).
  const decisions = item.decisions || []
  const trail = decisions.length > 1 || item.outcome === 'escalated'
  return {
    id: item.id,
    text: `${item.seq}. ${item.text}`,
    scopeLabel: item.scope_label || '',
    stateLabel: item.state_label || '',
    outcome: item.outcome || 'pending',
    outcomeLabel: item.outcome_label || '待研究',
    explanation: item.explanation && !trail ? `解释说明：${item.explanation}` : '',
    decisions: trail
      ? decisions.map((d, n) => ({ key: `${n}`, text: `${d.body}：${d.outcome_label}${d.explanation ? ` ${d.explanation}` : ''}` }))
      : [],
    handling: handlingView(item.handling),
  }
}

// D21: the feedback list's figures, once every item is settled.
function feedbackText(f) {
  if (!f) return ''
  return `${dateText(f.compiled_on)}形成结果反馈清单：${f.summary}`
    + (f.done ? `，其中按期办结${f.on_time}条` : '')
}

// D27: each kind and phase that has evaluations, then all of them (averages only, no names).
function ratingLines(r) {
  if (!r) return []
  const lines = (r.by_kind || []).filter(g => g.count > 0).map(g => ({
    key: `${g.kind}-${g.phase}`,
    text: `${g.kind_label}（${g.phase_label}）${g.count} 条：结果 ${g.outcome_mean} 分，过程 ${g.process_mean} 分`,
  }))
  if (r.overall && r.overall.count) {
    lines.push({ key: 'overall', text: `共 ${r.overall.count} 条评价：结果平均 ${r.overall.outcome_mean} 分，过程平均 ${r.overall.process_mean} 分` })
  }
  return lines
}

function consultationView(c) {
  const groups = (c.attendance || []).map(g => `${g.group_label} ${g.count} 人`).join('、')
  return {
    id: c.id,
    line: [dateText(c.held_on), c.place_kind_label, c.attendee_count ? `参加 ${c.attendee_count} 人：${groups}` : '']
      .filter(Boolean).join(' '),
    feedback: feedbackText(c.feedback),
    ratings: ratingLines(c.ratings),
    items: (c.items || []).map(itemView),
  }
}

function summaryText(s) {
  if (!s || !s.item_count) return ''
  const parts = [`采纳 ${s.adopted_count} 条`]
  if (s.not_adopted_count) parts.push(`不予采纳 ${s.not_adopted_count} 条`)
  const progress = [`已办结 ${s.done_count} 条`]
  if (s.handling_count) progress.push(`办理中 ${s.handling_count} 条`)
  return `共 ${s.item_count} 条意见建议：${parts.join('，')}；${progress.join('，')}`
}

function resultsView(body) {
  const t = body.topic || {}
  const consultations = (body.consultations || []).map(consultationView)
  return {
    topicId: t.id,
    title: t.title || '',
    platformName: (t.platform && t.platform.name) || '',
    stageLabel: body.stage_label || '',
    stages: (body.stages || []).map(s => ({ code: s.code, label: s.label, reached: s.reached === true })),
    approved: t.approved_on
      ? `${dateText(t.approved_on)} 审定通过（${[t.source_label, t.category_label].filter(Boolean).join(' · ')}）` : '',
    suggestions: (body.suggestions || []).map(s => ({
      id: s.id, title: s.title, proposer: s.proposer, voteText: `${s.vote_count} 人支持` })),
    research: (body.research || []).map((r, n) => ({
      key: `${n}`,
      label: r.title ? `${r.kind_label}：${r.title}` : r.kind_label,
      done: r.completed_on ? `${dateText(r.completed_on)}完成` : '进行中',
    })),
    consultations,
    items: consultations.reduce((all, c) => all.concat(c.items), []),
    summary: summaryText(body.summary),
  }
}

module.exports = { resultsView, dateText }
