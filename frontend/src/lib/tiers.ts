import type { SectionSummary } from './api'

export interface Tier {
  name: string
  sections: SectionSummary[]
  min: number
  max: number
  left: number
  capacity: number
}

/** tiers groups sections by tier, in the order the venue lists them. */
export function tiers(sections: SectionSummary[]): Tier[] {
  const out: Tier[] = []
  const byName = new Map<string, Tier>()
  for (const s of sections) {
    let t = byName.get(s.tier)
    if (!t) {
      t = { name: s.tier, sections: [], min: Infinity, max: 0, left: 0, capacity: 0 }
      byName.set(s.tier, t)
      out.push(t)
    }
    t.sections.push(s)
    t.min = Math.min(t.min, s.min_price_cents)
    t.max = Math.max(t.max, s.max_price_cents)
    t.left += s.seats_left
    t.capacity += s.capacity
  }
  return out
}
