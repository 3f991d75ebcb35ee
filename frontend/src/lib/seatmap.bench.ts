// npx vitest bench --run: what one live refresh of the arena's seat map
// costs, against re-laying-out the venue from scratch and against parsing
// the JSON the booker sends.
import { bench, describe } from 'vitest'
import type { SeatMap, SeatStatus } from './api'
import { layout, refresh } from './seatmap'

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
// Long enough that a GC pause on a busy 2-core box does not decide the mean.
const opts = { time: 3000, warmupTime: 500 }

describe('seat map refresh, 19,920 seats', () => {
  bench('refresh in place (what a poll does)', () => {
    refresh(venue, maps[flip++ & 1])
  }, opts)
  bench('layout from scratch', () => {
    layout(maps[1])
  }, opts)
  bench(`JSON.parse of the ${(body.length / 1e6).toFixed(2)} MB answer`, () => {
    JSON.parse(body)
  }, opts)
})
