import { describe, expect, it } from 'vitest'
import { liveSaleState } from './sale'

describe('liveSaleState', () => {
  const opens = '2030-01-01T12:00:00Z'
  const at = Date.parse(opens)
  it('turns an upcoming sale open at its opening, on the page clock', () => {
    expect(liveSaleState({ sale_state: 'upcoming', sale_opens_at: opens }, at - 1)).toBe('upcoming')
    expect(liveSaleState({ sale_state: 'upcoming', sale_opens_at: opens }, at)).toBe('open')
  })
  it('keeps what the server said otherwise', () => {
    expect(liveSaleState({ sale_state: 'sold_out', sale_opens_at: opens }, at + 1)).toBe('sold_out')
    expect(liveSaleState({ sale_state: 'open', sale_opens_at: opens }, at - 1)).toBe('open')
    expect(liveSaleState({ sale_state: 'upcoming', sale_opens_at: 'soon' }, at)).toBe('upcoming')
  })
})
