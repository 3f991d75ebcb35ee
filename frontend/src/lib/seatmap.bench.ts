// npx vitest bench --run: what one live refresh of the arena's seat map
// costs, from the full map and from the status view (GET /seats/status, one
// letter a seat, what a poll fetches now), against re-laying-out the venue
// from scratch and against parsing the JSON the booker sends for each.
import { bench, describe } from 'vitest'
import type { SeatMap, SeatStatus } from './api'
import { layout, refresh, refreshStatuses } from './seatmap'

function arena(status: (id: number) => SeatStatus): SeatMap {
  let id = 0
  const section = (name: string, tier: string, rows: number, perRow: number) => ({
    name,
    tier,
    rows: Array.from({ length: rows }, (_, r) => ({
      label: String(r + 1),
      seats: Array.from({ length: perRow }, (_, s) => ({ id: id++, number: s + 1, price_cents: 5000, status: status(id), accessible: false })),
    })),
  })
  return {
    event_id: 1,
    as_of: '2030-01-01T00:00:00Z',
    currency: 'GBP',
    sections: [
      ...['Floor A', 'Floor B', 'Floor C', 'Floor D'].map((n) => section(n, 'Floor', 20, 25)),
      ...Array.from({ length: 16 }, (_, i) => section(String(101 + i), 'Lower bowl', 25, 22)),
      ...Array.from({ length: 24 }, (_, i) => section(String(201 + i), 'Upper bowl', 20, 19)),
    ],
  }
}

const maps = [arena(() => 'available'), arena((id) => (id % 3 ? 'available' : 'sold'))]
const body = JSON.stringify(maps[1])
const venue = layout(maps[0])
let flip = 0
// The status views of the same two maps, as the booker encodes them.
const letter = { available: 'a', held: 'h', sold: 's' } as const
const views = maps.map((m) => m.sections.flatMap((s) => s.rows.flatMap((r) => r.seats.map((seat) => letter[seat.status]))).join(''))
const statusBody = JSON.stringify({ event_id: 1, as_of: '2030-01-01T00:00:00.123456789Z', statuses: views[1] })
const viewVenue = layout(maps[0])
let viewFlip = 0
// Long enough that a GC pause on a busy 2-core box does not decide the mean.
const opts = { time: 3000, warmupTime: 500 }

describe('seat map refresh, 19,920 seats', () => {
  bench('refresh in place from the full map', () => {
    refresh(venue, maps[flip++ & 1])
  }, opts)
  bench(`refreshStatuses in place from the ${views[1].length}-letter status view (what a poll does)`, () => {
    if (refreshStatuses(viewVenue, views[viewFlip++ & 1]) === null) throw new Error('the status view does not fit the arena')
  }, opts)
  bench('layout from scratch', () => {
    layout(maps[1])
  }, opts)
  bench(`JSON.parse of the ${(body.length / 1e6).toFixed(2)} MB answer`, () => {
    JSON.parse(body)
  }, opts)
  bench(`JSON.parse of the ${(statusBody.length / 1e3).toFixed(1)} kB status view answer`, () => {
    JSON.parse(statusBody)
  }, opts)
})
