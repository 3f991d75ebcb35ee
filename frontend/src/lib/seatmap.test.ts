import { describe, expect, it } from 'vitest'
import type { SeatMap, SeatStatus } from './api'
import { availableIn, layout, refresh, refreshStatuses, rowPrices, sameShape, sectionAt, seatLabel, Status, tierPrices } from './seatmap'

/** arena builds a seat map shaped like the seeded 19,920-seat arena. */
function arena(status: (id: number) => SeatStatus = () => 'available'): SeatMap {
  let id = 0
  const section = (name: string, tier: string, rows: number, perRow: number) => ({
    name,
    tier,
    rows: Array.from({ length: rows }, (_, r) => ({
      label: String(r + 1),
      seats: Array.from({ length: perRow }, (_, s) => {
        const seat = { id, number: s + 1, price_cents: 5000 + r, status: status(id), accessible: r === 0 && s < 2 }
        id++
        return seat
      }),
    })),
  })
  const sections = [
    ...['Floor A', 'Floor B', 'Floor C', 'Floor D'].map((n) => section(n, 'Floor', 20, 25)),
    ...Array.from({ length: 16 }, (_, i) => section(String(101 + i), 'Lower bowl', 25, 22)),
    ...Array.from({ length: 24 }, (_, i) => section(String(201 + i), 'Upper bowl', 20, 19)),
  ]
  return { event_id: 1, as_of: '2030-01-01T00:00:00Z', currency: 'GBP', sections }
}

describe('layout', () => {
  const m = arena((id) => (id % 3 === 0 ? 'sold' : id % 3 === 1 ? 'held' : 'available'))
  const v = layout(m)

  it('places every one of the 19,920 seats', () => {
    expect(v.status.length).toBe(19920)
    expect(v.section.every((s) => s >= 0)).toBe(true)
    expect(v.status[0]).toBe(Status.sold)
    expect(v.status[1]).toBe(Status.held)
    expect(v.status[2]).toBe(Status.available)
  })

  it('keeps sections apart and inside the map', () => {
    for (const a of v.sections) {
      expect(a.x).toBeGreaterThanOrEqual(0)
      expect(a.x + a.width).toBeLessThanOrEqual(v.width + 0.001)
      expect(a.y + a.height).toBeLessThanOrEqual(v.height)
      for (const b of v.sections) {
        if (a === b) continue
        const apart = a.x + a.width <= b.x || b.x + b.width <= a.x || a.y + a.height <= b.y || b.y + b.height <= a.y
        expect(apart, `${a.name} overlaps ${b.name}`).toBe(true)
      }
    }
  })

  it('keeps a tier on its own shelves, in order', () => {
    const floorBottom = Math.max(...v.sections.filter((s) => s.tier === 'Floor').map((s) => s.y + s.height))
    const lowerTop = Math.min(...v.sections.filter((s) => s.tier === 'Lower bowl').map((s) => s.y))
    expect(lowerTop).toBeGreaterThan(floorBottom)
  })

  it('is roughly landscape', () => {
    expect(v.width / v.height).toBeGreaterThan(0.9)
    expect(v.width / v.height).toBeLessThan(3)
  })

  it('finds the section under a seat', () => {
    for (const id of [0, 2500, 19919]) {
      expect(sectionAt(v, v.x[id] + 0.5, v.y[id] + 0.5)?.index).toBe(v.section[id])
    }
    expect(sectionAt(v, -50, -50)).toBeNull()
  })

  it('names seats', () => {
    expect(seatLabel(v, 26)).toBe('Section Floor A, row 2, seat 2')
  })

  it('records prices and accessibility', () => {
    expect(v.sections[0].minPrice).toBe(5000)
    expect(v.sections[0].maxPrice).toBe(5019)
    expect(v.accessible[0]).toBe(1)
    expect(v.accessible[2]).toBe(0)
  })
})

describe('refresh', () => {
  it('rewrites statuses in place and reports what changed', () => {
    const v = layout(arena())
    expect(availableIn(v, v.sections[0])).toBe(500)
    const next = arena((id) => (id === 5 || id === 19000 ? 'sold' : 'available'))
    expect(sameShape(v, next)).toBe(true)
    expect(refresh(v, next).sort((a, b) => a - b)).toEqual([5, 19000])
    expect(v.status[5]).toBe(Status.sold)
    expect(availableIn(v, v.sections[0])).toBe(499)
    expect(refresh(v, next)).toEqual([])
  })

  it('notices another shape', () => {
    const v = layout(arena())
    const other = arena()
    other.sections.pop()
    expect(sameShape(v, other)).toBe(false)
    expect(sameShape(v, { ...arena(), event_id: 2 })).toBe(false)
  })
})

/** letters is the status view of n seats: a everywhere but where at says. */
function letters(n: number, at: Record<number, string> = {}): string {
  return Array.from({ length: n }, (_, id) => at[id] ?? 'a').join('')
}

describe('refreshStatuses', () => {
  it('rewrites only the seats whose letter changed and reports their ids', () => {
    const v = layout(arena())
    const before = Uint8Array.from(v.status)
    expect(refreshStatuses(v, letters(19920, { 5: 's', 19000: 'h' }), '2030-01-01T00:00:01Z')?.sort((a, b) => a - b)).toEqual([5, 19000])
    expect(v.status[5]).toBe(Status.sold)
    expect(v.status[19000]).toBe(Status.held)
    // Every other seat is as it was.
    const diff = [...v.status.keys()].filter((id) => v.status[id] !== before[id])
    expect(diff).toEqual([5, 19000])
    expect(availableIn(v, v.sections[0])).toBe(499)
    expect(v.asOf).toBe('2030-01-01T00:00:01Z')
    // The same view again changes nothing; a seat coming back is a change.
    expect(refreshStatuses(v, letters(19920, { 5: 's', 19000: 'h' }))).toEqual([])
    expect(refreshStatuses(v, letters(19920, { 5: 's' }))).toEqual([19000])
    expect(v.status[19000]).toBe(Status.available)
  })

  it('leaves the venue as it was when the string does not have one letter per seat', () => {
    const v = layout(arena((id) => (id === 7 ? 'held' : 'available')))
    const before = Uint8Array.from(v.status)
    for (const n of [0, 19919, 19921]) {
      expect(refreshStatuses(v, 's'.repeat(n), 'later')).toBeNull()
    }
    expect(v.status).toEqual(before)
    expect(v.asOf).toBe('2030-01-01T00:00:00Z')
  })

  it('agrees with refresh from the full map', () => {
    const pick = (id: number): SeatStatus => (['available', 'held', 'sold'] as const)[(id * 7919) % 5 % 3]
    const a = layout(arena())
    const b = layout(arena())
    const fromMap = refresh(a, arena(pick))
    const fromView = refreshStatuses(b, Array.from({ length: 19920 }, (_, id) => pick(id)[0]).join(''))
    expect(fromView).toEqual(fromMap)
    expect(fromMap.length).toBeGreaterThan(10000)
    expect(b.status).toEqual(a.status)
  })

  it('takes an unknown letter for sold and keeps ids the map does not place sold', () => {
    // Seat ids 0, 1 and 3: id 2 is not in the map.
    const m: SeatMap = {
      event_id: 1,
      as_of: '',
      currency: 'GBP',
      sections: [{ name: 'A', tier: 'A', rows: [{ label: '1', seats: [0, 1, 3].map((id) => ({ id, number: id + 1, price_cents: 100, status: 'available' as const, accessible: false })) }] }],
    }
    const v = layout(m)
    expect(v.status.length).toBe(4)
    expect(refreshStatuses(v, 'axaa')).toEqual([1])
    expect(v.status[1]).toBe(Status.sold)
    expect(v.status[2]).toBe(Status.sold)
    expect(v.status[3]).toBe(Status.available)
  })
})

describe('speed', () => {
  // Generous bounds: they catch an accidental O(n²), not a slow machine.
  it('lays out 19,920 seats and refreshes them in a few milliseconds', () => {
    const m = arena()
    let t = performance.now()
    const v = layout(m)
    const layoutMs = performance.now() - t
    const next = arena((id) => (id % 7 === 0 ? 'sold' : 'available'))
    t = performance.now()
    const changed = refresh(v, next)
    const refreshMs = performance.now() - t
    const view = Array.from({ length: 19920 }, (_, id) => (id % 5 === 0 ? 'h' : 'a')).join('')
    t = performance.now()
    const viewChanged = refreshStatuses(v, view)
    const viewMs = performance.now() - t
    expect(changed.length).toBe(Math.ceil(19920 / 7))
    expect(viewChanged?.length).toBeGreaterThan(0)
    expect(viewMs).toBeLessThan(100)
    expect(layoutMs).toBeLessThan(500)
    expect(refreshMs).toBeLessThan(100)
  })
})

describe('legend prices', () => {
  it('gives each tier its price range, in the venue order', () => {
    const v = layout(arena())
    // Rows are priced 5000 + row index: 20 rows on the floor and upstairs, 25 in the lower bowl.
    expect(tierPrices(v)).toEqual([
      { label: 'Floor', min: 5000, max: 5019 },
      { label: 'Lower bowl', min: 5000, max: 5024 },
      { label: 'Upper bowl', min: 5000, max: 5019 },
    ])
  })

  it('groups a section by consecutive rows of one price', () => {
    const m: SeatMap = {
      event_id: 1,
      as_of: '',
      currency: 'GBP',
      sections: [
        {
          name: 'Stalls',
          tier: 'Stalls',
          rows: ['A', 'B', 'C', 'D'].map((label, r) => ({
            label,
            seats: [0, 1].map((s) => ({ id: r * 2 + s, number: s + 1, price_cents: r < 2 ? 9500 : r === 2 ? 7500 + s * 500 : 6000, status: 'available' as const, accessible: false })),
          })),
        },
      ],
    }
    const v = layout(m)
    expect(rowPrices(v, v.sections[0])).toEqual([
      { label: 'Rows A–B', min: 9500, max: 9500 },
      { label: 'Row C', min: 7500, max: 8000 },
      { label: 'Row D', min: 6000, max: 6000 },
    ])
  })
})
