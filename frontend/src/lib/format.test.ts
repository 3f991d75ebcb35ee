import { describe, expect, it } from 'vitest'
import { clock, dateTime, duration, eta, money, parseZonedInput, priceRange, zonedInput } from './format'

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

describe('zoned date fields', () => {
  it('writes and reads a wall-clock time in the venue zone, 24-hour', () => {
    const summer = new Date('2030-07-01T17:30:00Z')
    expect(zonedInput(summer, 'Europe/London')).toBe('2030-07-01 18:30')
    expect(zonedInput(summer, 'America/New_York')).toBe('2030-07-01 13:30')
    expect(zonedInput(new Date('2030-12-01T23:05:00Z'), 'Europe/London')).toBe('2030-12-01 23:05')
    expect(parseZonedInput('2030-07-01 18:30', 'Europe/London')?.toISOString()).toBe('2030-07-01T17:30:00.000Z')
    expect(parseZonedInput('2030-12-01T23:05', 'Europe/London')?.toISOString()).toBe('2030-12-01T23:05:00.000Z')
    expect(parseZonedInput('2030-07-01 13:30', 'America/New_York')?.toISOString()).toBe('2030-07-01T17:30:00.000Z')
    expect(parseZonedInput(' 2030-03-31 00:00 ', 'UTC')?.toISOString()).toBe('2030-03-31T00:00:00.000Z')
  })

  it('refuses what is not a time in the zone', () => {
    expect(parseZonedInput('07/01/2030 6:30 PM', 'Europe/London')).toBeNull()
    expect(parseZonedInput('2030-02-30 10:00', 'Europe/London')).toBeNull()
    expect(parseZonedInput('2030-07-01 24:00', 'Europe/London')).toBeNull()
    // 01:30 does not happen in London on the day clocks go forward.
    expect(parseZonedInput('2030-03-31 01:30', 'Europe/London')).toBeNull()
  })

  it('labels a time with its venue zone', () => {
    expect(dateTime('2030-12-01T23:05:00Z', 'Europe/London')).toMatch(/23:05 GMT$/)
  })
})
