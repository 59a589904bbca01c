/**
 * Idempotency-Key for create endpoints: one key per user action, reused when the same action
 * is retried (a timeout, a double tap, "网络不佳" then tapping again), so the server creates the
 * thing once. Start a new action — call reset() — after success or when the user changes what
 * they are submitting.
 *
 *   const submitKey = actionKey()
 *   request({ path, method: 'POST', data, idempotencyKey: submitKey.current() })
 *     .then(() => submitKey.reset())
 */

// Not a secret, only unique: time + randomness, laid out as a UUID v4.
function newIdempotencyKey() {
  const hex = []
  let time = Date.now()
  for (let i = 0; i < 32; i++) {
    let r = Math.floor(Math.random() * 16)
    if (i < 12) { // mix the clock into the first digits so two phones rarely collide
      r = (r + time) % 16
      time = Math.floor(time / 16)
    }
    hex.push(r.toString(16))
  }
  hex[12] = '4'
  hex[16] = ((parseInt(hex[16], 16) & 0x3) | 0x8).toString(16)
  const s = hex.join('')
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`
}

function actionKey() {
  let key = null
  return {
    current() {
      if (!key) key = newIdempotencyKey()
      return key
    },
    reset() {
      key = null
    },
  }
}

module.exports = { newIdempotencyKey, actionKey }
