/**
 * Changes made on one page that a page further down the stack should show when the user comes
 * back to it: a vote on the detail page seen in the suggestion list, a new suggestion that the
 * list should show. In memory only; each change is taken once.
 *
 *   noteVote(id, { voted, voteCount })          the detail page, after a vote or withdrawal
 *   takeVotes() → { [id]: { voted, voteCount } }  the list page, in onShow
 *   noteProposed(platformId)                    the propose form, after a suggestion is created
 *   takeProposed() → [platformId, …]            the list page, in onShow (then it reloads)
 */
let votes = {}
let proposed = []

function noteVote(id, { voted, voteCount }) {
  votes[String(id)] = { voted: Boolean(voted), voteCount: Number(voteCount) || 0 }
}

function takeVotes() {
  const taken = votes
  votes = {}
  return taken
}

function noteProposed(platformId) {
  const id = String(platformId)
  if (proposed.indexOf(id) < 0) proposed.push(id)
}

function takeProposed() {
  const taken = proposed
  proposed = []
  return taken
}

module.exports = { noteVote, takeVotes, noteProposed, takeProposed }
