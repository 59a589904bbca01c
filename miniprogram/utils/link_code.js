// Issuing a staff link code (docs/auth.md 1之二): the convenor for an invitee without the
// mini-program (POST /api/consultations/<cid>/invitations/<person_id>/link-code), CPPCC staff for
// anyone within reach (POST /api/people/<id>/link-code). Both answer LinkCodeOut
// {code, expires_at, instruction, qr_png}; the code is shown only this once (the server keeps a hash).
const { request } = require('./request')
const { formatTime } = require('./format')

/** "1234567890" → "123 456 7890": read aloud in groups over the phone. */
function spacedCode(code) {
  const digits = String(code || '')
  if (digits.length !== 10) return digits
  return `${digits.slice(0, 3)} ${digits.slice(3, 6)} ${digits.slice(6)}`
}

/** LinkCodeOut as the pages show it; `name` is whom the code is for. */
function linkCodeView(body, name) {
  const b = body || {}
  return {
    name: name || '',
    code: b.code || '',
    spaced: spacedCode(b.code),
    qr: b.qr_png || '',
    expiresText: formatTime(b.expires_at), // China time
    instruction: b.instruction || '',
  }
}

/** POST the link-code endpoint at `path`; rejects with the server's ApiError (Chinese message),
 *  which the page shows next to the button. */
async function issueLinkCode(path, name) {
  const body = await request({ path, method: 'POST', showError: false })
  return linkCodeView(body, name)
}

module.exports = { spacedCode, linkCodeView, issueLinkCode }
