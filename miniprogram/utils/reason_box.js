// A reason box on one row of a list (return a topic step, hold a list back, refuse an extension):
// the row opens it, takes the typed text, cancels it, and on confirm gives the trimmed text or
// shows on the row why it cannot be sent (empty, too long). The page's data[list][i] carries
// `open` (the box is shown), `field` (the text) and `error`.

/** The row index from a tap's data-index, or -1 when it is not a row of data[list]. */
function rowIndex(page, list, event) {
  const i = Number(event.currentTarget.dataset.index)
  return i >= 0 && i < page.data[list].length ? i : -1
}

function reasonBox({ list, open, field, required, max, tooLong }) {
  const key = (i, name) => `${list}[${i}].${name}`
  return {
    start(page, event) {
      const i = rowIndex(page, list, event)
      if (i >= 0) page.setData({ [key(i, open)]: true, [key(i, 'error')]: '' })
    },
    cancel(page, event) {
      const i = rowIndex(page, list, event)
      if (i >= 0) page.setData({ [key(i, open)]: false, [key(i, field)]: '', [key(i, 'error')]: '' })
    },
    input(page, event) {
      const i = rowIndex(page, list, event)
      if (i >= 0) page.setData({ [key(i, field)]: event.detail.value, [key(i, 'error')]: '' })
    },
    /** {i, row, text} to send, or null (not a row, busy, or the text refused on the row). */
    take(page, event) {
      const i = rowIndex(page, list, event)
      if (i < 0 || page.data.busy) return null
      const row = page.data[list][i]
      const text = String(row[field] || '').trim()
      const error = !text ? required : text.length > max ? tooLong(max) : ''
      if (error) {
        page.setData({ [key(i, 'error')]: error })
        return null
      }
      return { i, row, text }
    },
  }
}

module.exports = { reasonBox, rowIndex }
