// Ids in page links (deep links from notices, shared pages) are checked before any request.
const MAX_ID = 2147483647 // the server's ids are 32-bit

/** The id in `query[key]` as a string, or '' when missing or not a valid id. */
function idFrom(query, key = 'id') {
  const raw = query && query[key] !== undefined && query[key] !== null ? String(query[key]) : ''
  return /^[1-9]\d{0,9}$/.test(raw) && Number(raw) <= MAX_ID ? raw : ''
}

module.exports = { idFrom, MAX_ID }
