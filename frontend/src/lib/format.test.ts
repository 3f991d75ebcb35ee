import { describe, expect, it } from 'vitest'
import { clock, duration, eta, money, priceRange } from './format'

describe('format', () => {
  it('formats money in the event currency', () => {
    expect(money(18900, 'GBP')).toBe('£189.00')
    expect(money(3900, 'EUR')).toBe('€39.00')
    expect(priceRange(3900, 3900, 'GBP')).toBe('£39.00')
    expect(priceRange(3900, 18900, 'GBP')).toBe('£39.00 – £189.00')
  })

  it('formats countdowns', () => {
    expect(clock(0)).toBe('0:00')
    expect(clock(9.2)).toBe('0:10')
    expect(clock(600)).toBe('10:00')
    expect(clock(3725)).toBe('1:02:05')
    expect(clock(-5)).toBe('0:00')
  })

  it('formats durations', () => {
    expect(duration(42)).toBe('42 s')
    expect(duration(249)).toBe('4 min 09 s')
    expect(duration(7500)).toBe('2 h 05 min')
    expect(duration(90000)).toBe('1 d 1 h')
  })

  it('words the wait', () => {
    expect(eta(undefined)).toBe('calculating…')
    expect(eta(30)).toBe('under a minute')
    expect(eta(60)).toBe('about 1 minute')
    expect(eta(62 * 60)).toBe('about 1 h 2 min')
  })
})
