/**
 * A staff link code as the server answers it (app/chat/schemas.py LinkCodeOut) and the check that
 * a page shows it (utils/link_code.js): grouped digits, expiry in Beijing time, instruction, QR.
 */
const { textOf } = require('./wx')

const QR = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUg=='

/** LinkCodeOut for `code`, expiring at `expiresAt` (UTC) with the instruction the server would write. */
function linkCodeBody(code, expiresAt, beijing) {
  const spaced = `${code.slice(0, 3)} ${code.slice(3, 6)} ${code.slice(6)}`
  return {
    code,
    expires_at: expiresAt,
    instruction: `绑定码：${spaced}（${beijing} 前有效，只能用一次）。打开“有事好商量”小程序，进入“我的 → 使用绑定码”输入或扫码；或在“有事好商量”公众号里发送：绑定 ${code}`,
    qr_png: QR,
  }
}

/** The code block under `scope` (a selector, '' for the whole page) shows `body`. */
function expectLinkCodeShown(page, scope, body, { spaced, expiry }) {
  const at = cls => page.querySelector(`${scope} .${cls}`.trim())
  expect(textOf(at('link-code-digits'))).toBe(spaced)
  expect(textOf(at('link-code-expiry'))).toBe(`${expiry} 前有效，只能用一次`)
  expect(textOf(at('link-code-instruction'))).toBe(body.instruction)
  expect(at('link-code-qr').toJSON().attrs.find(a => a.name === 'src').value).toBe(QR)
}

module.exports = { QR, linkCodeBody, expectLinkCodeShown }
