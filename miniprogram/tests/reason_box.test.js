// utils/reason_box.js: the reason box of a list row (review, hold back, refuse an extension).
const { reasonBox } = require('../utils/reason_box')

function fakePage(rows) {
  return {
    data: { busy: false, rows },
    setData(patch) {
      Object.keys(patch).forEach(path => {
        const m = /^rows\[(\d+)\]\.(\w+)$/.exec(path)
        this.data.rows[Number(m[1])][m[2]] = patch[path]
      })
    },
  }
}
const tap = (index, value) => ({ currentTarget: { dataset: { index } }, detail: { value } })
const box = reasonBox({ list: 'rows', open: 'open', field: 'note', required: '请说明理由', max: 5, tooLong: n => `不能超过 ${n} 字` })

test('opens, takes text, refuses empty and too long on the row, gives the trimmed text', () => {
  const page = fakePage([{ id: 1 }, { id: 2 }])
  box.start(page, tap(1))
  expect(page.data.rows[1]).toEqual({ id: 2, open: true, error: '' })
  expect(box.take(page, tap(1))).toBeNull()
  expect(page.data.rows[1].error).toBe('请说明理由')
  box.input(page, tap(1, '一二三四五六'))
  expect(page.data.rows[1].error).toBe('')
  expect(box.take(page, tap(1))).toBeNull()
  expect(page.data.rows[1].error).toBe('不能超过 5 字')
  box.input(page, tap(1, '  理由  '))
  expect(box.take(page, tap(1))).toEqual({ i: 1, row: page.data.rows[1], text: '理由' })
  box.cancel(page, tap(1))
  expect(page.data.rows[1]).toMatchObject({ open: false, note: '', error: '' })
})

test('a tap outside the list or while busy does nothing', () => {
  const page = fakePage([{ id: 1, note: '理由' }])
  box.start(page, tap(3))
  expect(page.data.rows).toEqual([{ id: 1, note: '理由' }])
  page.data.busy = true
  expect(box.take(page, tap(0))).toBeNull()
  expect(page.data.rows[0].error).toBeUndefined()
})
