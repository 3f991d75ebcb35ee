import { useEffect, useRef, useState, type MouseEvent } from 'react'
import { availableIn, seatColors, sectionAt, Status, type SectionBox, type Venue } from '../lib/seatmap'

/**
 * SeatCanvas draws the whole venue, one small square per seat, on a canvas:
 * 20,000 seats in a few milliseconds, redrawn when the live status changes
 * (version) without React touching a node per seat. Clicking a section
 * zooms into it; keyboard users pick sections from the list beside it.
 * The stage and the section names are HTML over the canvas, so they keep a
 * legible size at any scale (a phone draws the arena at 1.5 px a seat).
 */
export function SeatCanvas({
  venue,
  version,
  selected,
  focusSection,
  onPickSection,
}: {
  venue: Venue
  version: number
  selected: ReadonlySet<number>
  focusSection: number | null
  onPickSection: (index: number) => void
}) {
  const wrap = useRef<HTMLDivElement>(null)
  const canvas = useRef<HTMLCanvasElement>(null)
  const [width, setWidth] = useState(0)
  const [hover, setHover] = useState<SectionBox | null>(null)

  useEffect(() => {
    const el = wrap.current
    if (!el) return
    setWidth(el.clientWidth)
    if (typeof ResizeObserver === 'undefined') return
    const ro = new ResizeObserver(() => setWidth(el.clientWidth))
    ro.observe(el)
    return () => ro.disconnect()
  }, [])

  const scale = width > 0 ? width / venue.width : 0
  const height = Math.round(venue.height * scale)

  useEffect(() => {
    const c = canvas.current
    const ctx = c?.getContext('2d')
    if (!c || !ctx || scale === 0) return
    const dpr = window.devicePixelRatio || 1
    c.width = Math.round(width * dpr)
    c.height = Math.round(height * dpr)
    ctx.setTransform(dpr * scale, 0, 0, dpr * scale, 0, 0)
    draw(ctx, venue, selected, focusSection, hover?.index ?? null, scale)
  }, [venue, version, selected, focusSection, hover, width, height, scale])

  function toUnits(e: MouseEvent<HTMLCanvasElement>) {
    const r = e.currentTarget.getBoundingClientRect()
    return { x: (e.clientX - r.left) / scale, y: (e.clientY - r.top) / scale }
  }

  return (
    <div className="w-full">
      <p className="mx-auto mb-1 w-1/2 max-w-xs rounded-md bg-slate-800 py-1 text-center text-xs font-semibold uppercase tracking-widest text-white" data-testid="stage">
        Stage
      </p>
      <div ref={wrap} className="relative w-full">
        <canvas
          ref={canvas}
          role="img"
          aria-label={`Seat map of ${venue.sections.length} sections. Choose a section from the list to see its seats.`}
          style={{ width: '100%', height, cursor: hover ? 'pointer' : 'default', touchAction: 'manipulation' }}
          onMouseMove={(e) => {
            const { x, y } = toUnits(e)
            const s = sectionAt(venue, x, y)
            if (s?.index !== hover?.index) setHover(s)
          }}
          onMouseLeave={() => setHover(null)}
          onClick={(e) => {
            const { x, y } = toUnits(e)
            const s = sectionAt(venue, x, y)
            if (s) onPickSection(s.index)
          }}
          data-testid="seat-canvas"
        />
        {scale > 0 && <SectionLabels venue={venue} scale={scale} />}
        {hover && (
          <div
            className="pointer-events-none absolute z-10 rounded-md bg-slate-900 px-2 py-1 text-xs text-white shadow"
            style={{ left: Math.min(width - 160, Math.max(0, hover.x * scale)), top: Math.max(0, (hover.y - 3) * scale - 28) }}
            aria-hidden="true"
          >
            {hover.name} · {availableIn(venue, hover)} free
          </div>
        )}
      </div>
    </div>
  )
}

/**
 * SectionLabels names each section in the middle of its block, on a light
 * backing so the seats under it do not hide it; a name wider than its
 * block wraps at its spaces ("Floor / A"). Hidden from screen readers: the
 * list of sections names them, with their free seats and prices.
 */
function SectionLabels({ venue, scale }: { venue: Venue; scale: number }) {
  return (
    <div aria-hidden="true" className="pointer-events-none absolute inset-0">
      {venue.sections.map((b) => (
        <span
          key={b.index}
          data-testid="section-label"
          className="absolute -translate-x-1/2 -translate-y-1/2 rounded bg-white/90 px-0.5 text-center text-[11px] font-semibold leading-tight text-slate-900"
          style={{ left: (b.x + b.width / 2) * scale, top: (b.y + b.height / 2) * scale, maxWidth: Math.max(b.width * scale, 24) }}
        >
          {b.name}
        </span>
      ))}
    </div>
  )
}

function draw(ctx: CanvasRenderingContext2D, v: Venue, selected: ReadonlySet<number>, focus: number | null, hover: number | null, scale: number) {
  ctx.clearRect(0, 0, v.width, v.height)
  // Section blocks (their names are HTML over the canvas).
  for (const b of v.sections) {
    const active = b.index === focus || b.index === hover
    ctx.fillStyle = active ? '#e0e7ff' : '#f8fafc'
    ctx.fillRect(b.x - 0.8, b.y - 0.8, b.width + 1.6, b.height + 1.6)
    if (active) {
      ctx.strokeStyle = '#4338ca'
      ctx.lineWidth = 2 / scale
      ctx.strokeRect(b.x - 0.8, b.y - 0.8, b.width + 1.6, b.height + 1.6)
    }
  }

  // Seats: one fill colour at a time keeps state changes on the canvas few.
  const size = 0.78
  const n = v.status.length
  const paint = (code: number, color: string) => {
    ctx.fillStyle = color
    for (let id = 0; id < n; id++) {
      if (v.section[id] < 0 || v.status[id] !== code || selected.has(id)) continue
      ctx.fillRect(v.x[id], v.y[id], size, size)
    }
  }
  paint(Status.sold, seatColors.sold)
  paint(Status.held, seatColors.held)
  paint(Status.available, seatColors.available)
  ctx.fillStyle = seatColors.selected
  for (const id of selected) {
    if (id < n && v.section[id] >= 0) ctx.fillRect(v.x[id] - 0.15, v.y[id] - 0.15, size + 0.3, size + 0.3)
  }
}
