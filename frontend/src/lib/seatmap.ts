// The seat map's model: 20,000 seats flattened into typed arrays indexed by
// seat id, laid out once per venue, so a live refresh only rewrites one byte
// per seat and the canvas redraws without allocating.
import type { SeatMap, SeatStatus } from './api'

/** Seat colours, shared with the legend (AA contrast against white). */
export const seatColors = {
  available: '#047857', // emerald-700: white seat numbers keep 5.5:1
  held: '#d97706', // amber-600
  sold: '#cbd5e1', // slate-300
  selected: '#4338ca', // indigo-700
}

export const Status = { available: 0, held: 1, sold: 2 } as const
export type StatusCode = (typeof Status)[keyof typeof Status]

const statusCode: Record<SeatStatus, StatusCode> = { available: 0, held: 1, sold: 2 }

/** SectionBox is a section's place on the map, in seat units. */
export interface SectionBox {
  index: number
  name: string
  tier: string
  x: number
  y: number
  width: number
  height: number
  rows: { label: string; seatIds: number[] }[]
  minPrice: number
  maxPrice: number
  capacity: number
}

/** Venue is the laid-out map of one event. */
export interface Venue {
  eventId: number
  currency: string
  width: number
  height: number
  sections: SectionBox[]
  /** Per seat id: section index, or -1 when the id is not in the map. */
  section: Int16Array
  /** Per seat id: x and y in seat units. */
  x: Float32Array
  y: Float32Array
  number: Uint16Array
  price: Int32Array
  accessible: Uint8Array
  rowLabel: string[]
  /** Per seat id: the live Status code. */
  status: Uint8Array
  asOf: string
}

/** Label height above each section and the gap around it, in seat units. */
const labelUnits = 3
const gapUnits = 3
/** The margin above the first shelf (the stage is drawn above the map, in HTML). */
const topUnits = 1

function maxSeatId(m: SeatMap): number {
  let max = -1
  for (const s of m.sections) for (const r of s.rows) for (const seat of r.seats) if (seat.id > max) max = seat.id
  return max
}

/**
 * layout places sections tier by tier, left to right in shelves about as
 * wide as a 16:10 map needs, each shelf centred, so any venue the catalog can
 * describe gets a readable map without stored coordinates.
 */
export function layout(m: SeatMap): Venue {
  const n = maxSeatId(m) + 1
  const v: Venue = {
    eventId: m.event_id,
    currency: m.currency,
    width: 0,
    height: 0,
    sections: [],
    section: new Int16Array(n).fill(-1),
    x: new Float32Array(n),
    y: new Float32Array(n),
    number: new Uint16Array(n),
    price: new Int32Array(n),
    accessible: new Uint8Array(n),
    rowLabel: new Array<string>(n).fill(''),
    status: new Uint8Array(n).fill(Status.sold),
    asOf: m.as_of,
  }
  const dims = m.sections.map((s) => ({
    w: Math.max(1, ...s.rows.map((r) => r.seats.length)),
    h: Math.max(1, s.rows.length),
  }))
  let area = 0
  let widest = 0
  dims.forEach((d) => {
    area += (d.w + gapUnits) * (d.h + gapUnits + labelUnits)
    widest = Math.max(widest, d.w + gapUnits)
  })
  const shelfWidth = Math.max(widest, Math.sqrt(area * 1.6))

  // Shelves: sections of one tier never share a shelf with another tier.
  type Shelf = { items: number[]; width: number; height: number }
  const shelves: Shelf[] = []
  let cur: Shelf | null = null
  let curTier: string | null = null
  m.sections.forEach((s, i) => {
    const w = dims[i].w + gapUnits
    const h = dims[i].h + gapUnits + labelUnits
    if (!cur || curTier !== s.tier || cur.width + w > shelfWidth) {
      cur = { items: [], width: 0, height: 0 }
      shelves.push(cur)
      curTier = s.tier
    }
    cur.items.push(i)
    cur.width += w
    cur.height = Math.max(cur.height, h)
  })
  const width = Math.max(...shelves.map((s) => s.width), widest)
  let y = topUnits
  for (const shelf of shelves) {
    let x = (width - shelf.width) / 2
    for (const i of shelf.items) {
      const s = m.sections[i]
      const d = dims[i]
      const box: SectionBox = {
        index: i,
        name: s.name,
        tier: s.tier,
        x: x + gapUnits / 2,
        y: y + labelUnits,
        width: d.w,
        height: d.h,
        rows: [],
        minPrice: Infinity,
        maxPrice: 0,
        capacity: 0,
      }
      s.rows.forEach((r, ri) => {
        // Short rows are centred under longer ones, as in a real block.
        const offset = (d.w - r.seats.length) / 2
        const ids: number[] = []
        r.seats.forEach((seat, si) => {
          const id = seat.id
          if (id < 0 || id >= n) return
          ids.push(id)
          v.section[id] = i
          v.x[id] = box.x + offset + si
          v.y[id] = box.y + ri
          v.number[id] = seat.number
          v.price[id] = seat.price_cents
          v.accessible[id] = seat.accessible ? 1 : 0
          v.rowLabel[id] = r.label
          v.status[id] = statusCode[seat.status] ?? Status.sold
          box.minPrice = Math.min(box.minPrice, seat.price_cents)
          box.maxPrice = Math.max(box.maxPrice, seat.price_cents)
          box.capacity++
        })
        box.rows.push({ label: r.label, seatIds: ids })
      })
      if (box.capacity === 0) box.minPrice = 0
      v.sections.push(box)
      x += d.w + gapUnits
    }
    y += shelf.height
  }
  v.width = width
  v.height = y
  return v
}

/** sameShape tells whether m can refresh v in place (same seats, same ids). */
export function sameShape(v: Venue, m: SeatMap): boolean {
  if (m.event_id !== v.eventId || m.sections.length !== v.sections.length) return false
  for (let i = 0; i < m.sections.length; i++) {
    const s = m.sections[i]
    const box = v.sections[i]
    if (s.name !== box.name || s.rows.length !== box.rows.length) return false
    for (let r = 0; r < s.rows.length; r++) if (s.rows[r].seats.length !== box.rows[r].seatIds.length) return false
  }
  return true
}

/** setStatus writes one seat's status and notes its id if it changed. */
function setStatus(v: Venue, id: number, c: StatusCode, changed: number[]) {
  if (v.status[id] !== c) {
    v.status[id] = c
    changed.push(id)
  }
}

/**
 * refresh copies the live statuses of m into v and returns the ids whose
 * status changed, so the caller can tell a fan that a chosen seat went.
 */
export function refresh(v: Venue, m: SeatMap): number[] {
  const changed: number[] = []
  for (const s of m.sections) {
    for (const r of s.rows) {
      for (const seat of r.seats) {
        if (seat.id >= 0 && seat.id < v.status.length) setStatus(v, seat.id, statusCode[seat.status] ?? Status.sold, changed)
      }
    }
  }
  v.asOf = m.as_of
  return changed
}

/** Status codes by the letters of the status view (a, h, s); any other is sold. */
const letterCode = new Uint8Array(128).fill(Status.sold)
letterCode['a'.charCodeAt(0)] = Status.available
letterCode['h'.charCodeAt(0)] = Status.held
letterCode['s'.charCodeAt(0)] = Status.sold

/**
 * refreshStatuses is refresh from the status view (GET /seats/status): one
 * letter per seat id, in id order. It returns the ids whose status changed,
 * or null when the string does not have one letter per seat of v (the
 * layout changed): then only a new full map can tell where the seats are.
 */
export function refreshStatuses(v: Venue, statuses: string, asOf?: string): number[] | null {
  const n = v.status.length
  if (statuses.length !== n) return null
  const changed: number[] = []
  for (let id = 0; id < n; id++) {
    // An id the map did not place stays sold, as layout left it.
    if (v.section[id] < 0) continue
    const ch = statuses.charCodeAt(id)
    setStatus(v, id, (ch < 128 ? letterCode[ch] : Status.sold) as StatusCode, changed)
  }
  if (asOf !== undefined) v.asOf = asOf
  return changed
}

/** available counts a section's available seats. */
export function availableIn(v: Venue, box: SectionBox): number {
  let n = 0
  for (const r of box.rows) for (const id of r.seatIds) if (v.status[id] === Status.available) n++
  return n
}

/** sectionAt is the section under a point in seat units, or null. */
export function sectionAt(v: Venue, x: number, y: number): SectionBox | null {
  for (const b of v.sections) {
    if (x >= b.x - 1 && x <= b.x + b.width + 1 && y >= b.y - labelUnits && y <= b.y + b.height + 1) return b
  }
  return null
}

/** seatLabel names a seat for people and screen readers. */
export function seatLabel(v: Venue, id: number): string {
  const box = v.sections[v.section[id]]
  return `${box ? `Section ${box.name}, ` : ''}row ${v.rowLabel[id]}, seat ${v.number[id]}`
}

/** PriceBand is a price (or a range of prices) and the seats it is for, for the legend. */
export interface PriceBand {
  label: string
  min: number
  max: number
}

/** tierPrices is each tier's price range, in the venue's order: the legend of the whole map. */
export function tierPrices(v: Venue): PriceBand[] {
  const out: PriceBand[] = []
  for (const b of v.sections) {
    if (b.capacity === 0) continue
    const t = out.find((p) => p.label === b.tier)
    if (t) {
      t.min = Math.min(t.min, b.minPrice)
      t.max = Math.max(t.max, b.maxPrice)
    } else out.push({ label: b.tier, min: b.minPrice, max: b.maxPrice })
  }
  return out
}

/**
 * rowPrices groups a section's consecutive rows of the same price ("Rows
 * 1–5", "Row 6"): the legend of one section, so prices show without a
 * tooltip per seat.
 */
export function rowPrices(v: Venue, box: SectionBox): PriceBand[] {
  const out: (PriceBand & { first: string; last: string })[] = []
  for (const r of box.rows) {
    if (r.seatIds.length === 0) continue
    let min = Infinity
    let max = 0
    for (const id of r.seatIds) {
      min = Math.min(min, v.price[id])
      max = Math.max(max, v.price[id])
    }
    const prev = out.at(-1)
    if (prev && prev.min === min && prev.max === max) prev.last = r.label
    else out.push({ label: '', min, max, first: r.label, last: r.label })
  }
  return out.map(({ min, max, first, last }) => ({ label: first === last ? `Row ${first}` : `Rows ${first}–${last}`, min, max }))
}
