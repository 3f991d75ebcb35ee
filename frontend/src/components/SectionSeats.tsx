import { memo, useEffect, useRef, useState, type KeyboardEvent, type RefObject } from 'react'
import { money } from '../lib/format'
import { Status, type SectionBox, type Venue } from '../lib/seatmap'

const statusWord = ['available', 'held by another fan', 'sold'] as const

/**
 * SectionSeats is one section up close: a grid of real buttons (a section
 * has at most a few hundred seats), with a roving tab stop so the arrow keys
 * move between seats and Tab leaves the grid in one step.
 */
export function SectionSeats({
  venue,
  box,
  version,
  selected,
  onToggle,
}: {
  venue: Venue
  box: SectionBox
  version: number
  selected: ReadonlySet<number>
  onToggle: (id: number) => void
}) {
  const [active, setActive] = useState<number>(() => box.rows[0]?.seatIds[0] ?? -1)
  const grid = useRef<HTMLDivElement>(null)
  const scroller = useRef<HTMLDivElement>(null)
  const overflow = useOverflows(scroller)
  const activeId = box.rows.some((r) => r.seatIds.includes(active)) ? active : (box.rows[0]?.seatIds[0] ?? -1)

  // Opening a section moves focus to its seats: the section list or the
  // map that opened it is behind, and a keyboard would otherwise tab back
  // through the whole page to reach them.
  useEffect(() => {
    grid.current?.querySelector<HTMLButtonElement>('[tabindex="0"]')?.focus()
  }, [box.name])

  function move(e: KeyboardEvent<HTMLDivElement>) {
    const dirs: Record<string, [number, number]> = { ArrowLeft: [0, -1], ArrowRight: [0, 1], ArrowUp: [-1, 0], ArrowDown: [1, 0] }
    let target: number | undefined
    let ri = box.rows.findIndex((r) => r.seatIds.includes(activeId))
    if (ri < 0) return
    let si = box.rows[ri].seatIds.indexOf(activeId)
    if (e.key in dirs) {
      const [dr, ds] = dirs[e.key]
      ri = Math.min(box.rows.length - 1, Math.max(0, ri + dr))
      const row = box.rows[ri].seatIds
      si = Math.min(row.length - 1, Math.max(0, si + ds))
      target = row[si]
    } else if (e.key === 'Home') target = box.rows[ri].seatIds[0]
    else if (e.key === 'End') target = box.rows[ri].seatIds.at(-1)
    if (target === undefined) return
    e.preventDefault()
    setActive(target)
    grid.current?.querySelector<HTMLButtonElement>(`[data-seat="${target}"]`)?.focus()
  }

  return (
    <>
      {overflow && (
        <p className="mb-1 text-xs font-medium text-slate-700" data-testid="scroll-hint">
          Swipe sideways to see all {box.width} seats of a row; the row labels stay in view.
        </p>
      )}
      <div ref={scroller} className="overflow-x-auto pb-2">
      <div ref={grid} role="grid" aria-label={`Seats in section ${box.name}`} onKeyDown={move} className="mx-auto min-w-max space-y-1" style={{ maxWidth: `${2.5 + box.width * 2}rem` }} data-version={version}>
        {box.rows.map((r) => (
          <div
            role="row"
            key={r.label}
            className="grid items-center gap-0.5"
            // Rows keep their width (min-w-max above) and the box scrolls: a sticky row label can only follow within its row.
            style={{ gridTemplateColumns: `2rem repeat(${box.width}, minmax(1.5rem, 1.75rem))` }}
          >
            {/* Sticky: a row scrolled sideways on a phone still says which row it is. */}
            <span role="rowheader" className="sticky left-0 z-10 bg-white pr-1 text-right text-xs font-medium text-slate-700">
              {r.label}
            </span>
            {r.seatIds.map((id, i) => (
              <span role="gridcell" key={id} style={{ gridColumnStart: 2 + Math.floor((box.width - r.seatIds.length) / 2) + i }}>
                <SeatButton
                  id={id}
                  row={r.label}
                  number={venue.number[id]}
                  price={money(venue.price[id], venue.currency)}
                  status={venue.status[id]}
                  accessible={venue.accessible[id] === 1}
                  selected={selected.has(id)}
                  tabbable={id === activeId}
                  onToggle={onToggle}
                  onFocus={setActive}
                />
              </span>
            ))}
          </div>
        ))}
      </div>
      </div>
    </>
  )
}

/** useOverflows tells whether the element is wider than its box, as it is on a phone. */
function useOverflows(el: RefObject<HTMLElement | null>): boolean {
  const [over, setOver] = useState(false)
  useEffect(() => {
    const e = el.current
    if (!e || typeof ResizeObserver === 'undefined') return
    const check = () => setOver(e.scrollWidth > e.clientWidth + 1)
    const ro = new ResizeObserver(check)
    ro.observe(e)
    return () => ro.disconnect()
  }, [el])
  return over
}

const SeatButton = memo(function SeatButton({
  id,
  row,
  number,
  price,
  status,
  accessible,
  selected,
  tabbable,
  onToggle,
  onFocus,
}: {
  id: number
  row: string
  number: number
  price: string
  status: number
  accessible: boolean
  selected: boolean
  tabbable: boolean
  onToggle: (id: number) => void
  onFocus: (id: number) => void
}) {
  const free = status === Status.available
  const cls = selected
    ? 'bg-indigo-700 text-white ring-2 ring-indigo-300'
    : free
      ? 'bg-emerald-700 text-white hover:bg-emerald-800'
      : status === Status.held
        ? 'bg-amber-600 text-amber-950' // the legend's held colour; 4.7:1
        : 'bg-slate-200 text-slate-700' // sold: 8:1, the label stays legible
  return (
    <button
      type="button"
      data-seat={id}
      data-status={statusWord[status]?.split(' ')[0]}
      tabIndex={tabbable ? 0 : -1}
      aria-pressed={selected}
      aria-disabled={!free && !selected}
      aria-label={`Row ${row}, seat ${number}, ${price}, ${selected ? 'selected' : statusWord[status]}${accessible ? ', wheelchair space' : ''}`}
      title={`Row ${row} · Seat ${number} · ${price}`}
      onClick={() => (free || selected) && onToggle(id)}
      onFocus={() => onFocus(id)}
      className={`flex aspect-square w-full items-center justify-center rounded-t-md text-[9px] sm:text-[10px] font-semibold tabular-nums focus-visible:outline-2 focus-visible:outline-offset-1 focus-visible:outline-slate-900 ${cls} ${!free && !selected ? 'cursor-not-allowed' : ''}`}
    >
      {accessible ? '♿' : number}
    </button>
  )
})
