import { describe, expect, it } from 'vitest'
import { tiers } from '../lib/tiers'

const s = (name: string, tier: string, min: number, max: number, left: number, capacity = 100) => ({
  name,
  tier,
  capacity,
  seats_left: left,
  min_price_cents: min,
  max_price_cents: max,
})

describe('tiers', () => {
  it('groups sections by tier in venue order and sums what is left', () => {
    const got = tiers([s('Floor A', 'Floor', 14900, 18900, 10), s('101', 'Lower bowl', 7900, 9900, 0), s('Floor B', 'Floor', 14900, 19900, 5), s('102', 'Lower bowl', 6900, 9900, 3)])
    expect(got.map((t) => t.name)).toEqual(['Floor', 'Lower bowl'])
    expect(got[0]).toMatchObject({ min: 14900, max: 19900, left: 15, capacity: 200 })
    expect(got[1].sections.map((x) => x.name)).toEqual(['101', '102'])
    expect(got[1]).toMatchObject({ min: 6900, left: 3 })
  })
})
