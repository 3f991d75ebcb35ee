import { describe, expect, it } from 'vitest'
import type { SeatMap, SeatStatus } from './api'
import { availableIn, layout, refresh, sameShape, sectionAt, seatLabel, Status } from './seatmap'

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
    expect(changed.length).toBe(Math.ceil(19920 / 7))
    expect(layoutMs).toBeLessThan(500)
    expect(refreshMs).toBeLessThan(100)
  })
})
