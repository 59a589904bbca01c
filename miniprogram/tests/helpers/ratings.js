// The evaluations of a consultation as the public results give them (app/followup/results.py
// _ratings_section → app/evaluation/services.py breakdown): every kind × phase, zero counts
// included. rows: { 'resident/after_feedback': { count, outcome_mean, process_mean }, … }.
const KINDS = [['party_government', '党政点评'], ['member', '委员评议'], ['resident', '群众评价'], ['organiser', '组织者评析']]
const PHASES = [['after_meeting', '会后评价'], ['after_feedback', '反馈后评价']]

function kindRows(rows = {}) {
  const out = []
  for (const [kind, kind_label] of KINDS) {
    for (const [phase, phase_label] of PHASES) {
      out.push({ kind, kind_label, phase, phase_label, count: 0, outcome_mean: null, process_mean: null, ...(rows[`${kind}/${phase}`] || {}) })
    }
  }
  return out
}

module.exports = { kindRows }
