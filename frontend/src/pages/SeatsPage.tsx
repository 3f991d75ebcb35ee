import { useCallback, useEffect, useMemo, useRef, useState, type FormEvent } from 'react'
import { admissionEnded, api, ApiError, errorMessage, type HoldRequest } from '../lib/api'
import { clock, count, money, priceRange } from '../lib/format'
import { useDocumentTitle, useLoad, usePageHidden, useSecondsLeft } from '../lib/hooks'
import { Attempt, withRetries } from '../lib/idempotency'
import { navigate } from '../lib/router'
import { Link } from '../components/Link'
import { availableIn, layout, refresh, refreshStatuses, sameShape, seatColors, seatLabel, Status, type Venue } from '../lib/seatmap'
import { session, useSession, type Admission } from '../lib/session'
import { AdmissionEnded, type AdmissionEnd } from '../components/AdmissionEnded'
import { SeatCanvas } from '../components/SeatCanvas'
import { SectionSeats } from '../components/SectionSeats'
import { Button, Card, ErrorNotice, Loading, Notice, PageTitle } from '../components/ui'

/** How often the seat map refreshes while the page is visible. */
export const seatRefreshMs = 3_000

type AdmissionState =
  | { kind: 'checking' }
  | { kind: 'none'; reason: string }
  | { kind: 'ok'; admission: Admission }
  /** The admission ended while the fan was choosing; unheld names what they had asked for. */
  | { kind: 'ended'; why: AdmissionEnd; unheld: string[] }

/** EndAdmission forgets the admission: why it ended and what was not held. */
type EndAdmission = (why: AdmissionEnd, unheld: string[]) => void

function useAdmission(eventId: number, token: string | undefined): [AdmissionState, EndAdmission, () => void] {
  const [state, setState] = useState<AdmissionState>(() => {
    const a = session.admission(eventId)
    return a ? { kind: 'ok', admission: a } : { kind: 'checking' }
  })
  useEffect(() => {
    if (state.kind !== 'checking') return
    if (!token) {
      setState({ kind: 'none', reason: 'Sign in and join the waiting room first.' })
      return
    }
    const ctrl = new AbortController()
    // The queue hands out the admission token again while it is valid.
    api.queueStatus(eventId, token, ctrl.signal).then(
      (st) => {
        if (st.state === 'admitted' && st.admission_token && st.admission_expires_at) {
          const a = { token: st.admission_token, expiresAt: st.admission_expires_at }
          session.saveAdmission(eventId, a)
          setState({ kind: 'ok', admission: a })
        } else {
          setState({ kind: 'none', reason: st.state === 'expired' ? 'Your turn has passed. Join the queue again.' : 'It is not your turn yet: wait in the queue.' })
        }
      },
      (err) => {
        if (ctrl.signal.aborted) return
        setState({ kind: 'none', reason: err instanceof ApiError && err.code === 'not_in_queue' ? 'Join the waiting room first.' : String((err as Error).message) })
      },
    )
    return () => ctrl.abort()
  }, [eventId, token, state.kind])
  const end = useCallback<EndAdmission>(
    (why, unheld) => {
      session.forgetAdmission(eventId)
      setState({ kind: 'ended', why, unheld })
    },
    [eventId],
  )
  // Ask the queue again, e.g. for the newer admission that replaced this one.
  const recheck = useCallback(() => setState({ kind: 'checking' }), [])
  return [state, end, recheck]
}

export function SeatsPage({ eventId }: { eventId: number }) {
  const auth = useSession()
  const [ev] = useLoad((signal) => api.event(eventId, signal), [eventId])
  const [adm, endAdmission, recheckAdmission] = useAdmission(eventId, auth?.token)
  useDocumentTitle(ev.data ? `Seats · ${ev.data.name}` : 'Choose seats')

  if (!auth) {
    return (
      <>
        <PageTitle>Choose your seats</PageTitle>
        <Notice tone="info" title="Sign in first">
          <Link href={`/signin?next=${encodeURIComponent(`/events/${eventId}/seats`)}`} className="font-medium underline">
            Sign in
          </Link>{' '}
          to pick seats.
        </Notice>
      </>
    )
  }
  if (adm.kind === 'checking') return <Loading what="your admission" />
  if (adm.kind === 'ended') {
    return (
      <>
        <PageTitle sub={ev.data?.name}>Choose your seats</PageTitle>
        <AdmissionEnded eventId={eventId} reason={adm.why} unheld={adm.unheld} onUseNewTurn={recheckAdmission} />
      </>
    )
  }
  if (adm.kind === 'none') {
    return (
      <>
        <PageTitle>Choose your seats</PageTitle>
        <Notice tone="warning" title="You need a turn from the waiting room">
          <p>{adm.reason}</p>
          <p className="mt-2">
            <Link href={`/events/${eventId}`} className="font-medium underline">
              Go to the waiting room
            </Link>
          </p>
        </Notice>
      </>
    )
  }
  return <SeatPicker eventId={eventId} admission={adm.admission} maxTickets={ev.data?.max_tickets_per_fan ?? 4} eventName={ev.data?.name} onEnded={endAdmission} />
}

function SeatPicker({
  eventId,
  admission,
  maxTickets,
  eventName,
  onEnded,
}: {
  eventId: number
  admission: Admission
  maxTickets: number
  eventName?: string
  onEnded: EndAdmission
}) {
  // The venue's typed arrays are refreshed in place (no copy of 20,000
  // seats per poll); version tells React and the canvas that they changed.
  const venueRef = useRef<Venue | null>(null)
  const [v, setVenue] = useState<Venue | null>(null)
  const [version, setVersion] = useState(0)
  const [mapError, setMapError] = useState<unknown>(null)
  const [selected, setSelected] = useState<ReadonlySet<number>>(new Set())
  const [focus, setFocus] = useState<number | null>(null)
  const [gone, setGone] = useState<string[]>([])
  const [notice, setNotice] = useState<string | null>(null)
  const [holdError, setHoldError] = useState<unknown>(null)
  /** Until when the booker asked for no more hold attempts (429 too_many_attempts). */
  const [slowUntil, setSlowUntil] = useState<string | null>(null)
  const slowFor = useSecondsLeft(slowUntil)
  const slowingDown = slowFor !== null && slowFor > 0
  const [busy, setBusy] = useState(false)
  const attempt = useRef(new Attempt())
  const hidden = usePageHidden()
  const left = useSecondsLeft(admission.expiresAt)
  const selectedRef = useRef(selected)
  useEffect(() => {
    selectedRef.current = selected
  }, [selected])

  // The full map (layout, prices, labels) is fetched once; the polls after
  // it ask for the status view, a byte a seat instead of 1.6 MB of JSON for
  // an arena, and apply it in place. A status view that does not fit the
  // laid-out venue brings the full map back; a backend without the view
  // (404) is polled for the full map, as before the view existed.
  const mapEtagRef = useRef<string | null>(null)
  const statusEtagRef = useRef<string | null>(null)
  const statusViewRef = useRef<'fits' | 'misfit' | 'off'>('fits')

  /** settle shows a good answer and drops the chosen seats it took away. */
  const settle = useCallback((changed: number[]) => {
    setMapError(null)
    setVersion((x) => x + 1)
    // A chosen seat someone else just took leaves the selection, visibly.
    const lost = changed.filter((id) => selectedRef.current.has(id) && venueRef.current!.status[id] !== Status.available)
    if (lost.length > 0) {
      setSelected((s) => new Set([...s].filter((id) => !lost.includes(id))))
      setGone(lost.map((id) => seatLabel(venueRef.current!, id)))
    }
  }, [])

  const loadMap = useCallback(
    async (etag: string | null, signal?: AbortSignal) => {
      const got = await api.seatsIfChanged(eventId, etag, signal)
      if (got === null) {
        setMapError(null) // 304: nothing moved since the last answer
        return
      }
      const m = got.map
      mapEtagRef.current = got.etag
      const v = venueRef.current
      let changed: number[] = []
      if (!v || !sameShape(v, m)) {
        venueRef.current = layout(m)
        setVenue(venueRef.current)
      } else changed = refresh(v, m)
      settle(changed)
    },
    [eventId, settle],
  )

  const load = useCallback(
    async (signal?: AbortSignal) => {
      try {
        const v = venueRef.current
        if (!v || statusViewRef.current === 'off') {
          await loadMap(v ? mapEtagRef.current : null, signal)
          return
        }
        let got: Awaited<ReturnType<typeof api.seatStatusesIfChanged>>
        try {
          got = await api.seatStatusesIfChanged(eventId, statusEtagRef.current, signal)
        } catch (err) {
          if (!(err instanceof ApiError && err.status === 404)) throw err
          // A backend from before the status view, or an event gone (the
          // map then says so): poll the full map as before.
          statusViewRef.current = 'off'
          await loadMap(mapEtagRef.current, signal)
          return
        }
        if (got === null) {
          setMapError(null) // 304: nothing moved since the last answer
          return
        }
        const changed = got.view.event_id === v.eventId ? refreshStatuses(v, got.view.statuses, got.view.as_of) : null
        if (changed === null) {
          // The layout changed: lay out a fresh full map. If the view does
          // not fit that one either, poll the full map from now on.
          statusViewRef.current = statusViewRef.current === 'misfit' ? 'off' : 'misfit'
          statusEtagRef.current = null
          await loadMap(null, signal)
          return
        }
        statusViewRef.current = 'fits'
        statusEtagRef.current = got.etag
        settle(changed)
      } catch (err) {
        if (!signal?.aborted) setMapError(err)
      }
    },
    [eventId, loadMap, settle],
  )

  // Live refresh: one request at a time, paused in a background tab.
  useEffect(() => {
    if (hidden) return
    const ctrl = new AbortController()
    let timer: ReturnType<typeof setTimeout>
    const loop = async () => {
      await load(ctrl.signal)
      if (!ctrl.signal.aborted) timer = setTimeout(loop, seatRefreshMs)
    }
    void loop()
    return () => {
      ctrl.abort()
      clearTimeout(timer)
    }
  }, [load, hidden])

  /** unheld names what a request asked for, for a fan told it was not held. */
  const unheld = useCallback(
    (req: HoldRequest): string[] => {
      const v = venueRef.current
      if ('seat_ids' in req) return req.seat_ids.map((id) => (v ? seatLabel(v, id) : `Seat ${id}`))
      return [`${req.quantity} best available in ${req.section}`]
    },
    [],
  )

  useEffect(() => {
    if (left !== null && left <= 0) onEnded('timeout', unheld({ seat_ids: [...selectedRef.current].sort((a, b) => a - b) }))
  }, [left, onEnded, unheld])

  const toggle = useCallback(
    (id: number) => {
      setNotice(null)
      setSelected((s) => {
        const next = new Set(s)
        if (next.has(id)) next.delete(id)
        else if (next.size >= maxTickets) {
          setNotice(`You can choose up to ${maxTickets} seats.`)
          return s
        } else next.add(id)
        return next
      })
    },
    [maxTickets],
  )

  async function hold(req: HoldRequest) {
    setBusy(true)
    setHoldError(null)
    setGone([])
    try {
      const h = await withRetries(attempt.current, req, (key) => api.hold(eventId, admission.token, key, req))
      session.saveHold({ id: h.id, eventId, eventName, seats: h.seats.length, expiresAt: h.expires_at })
      navigate(`/holds/${h.id}`)
    } catch (err) {
      const ended = admissionEnded(err)
      if (ended) {
        onEnded(ended, unheld(req))
        return
      }
      setHoldError(err)
      if (err instanceof ApiError && err.code === 'too_many_attempts') {
        // Without a Retry-After, the attempts are counted per minute.
        const wait = err.retryAfter ?? 60
        setSlowUntil(wait > 0 ? new Date(Date.now() + wait * 1000).toISOString() : null)
      }
      if (err instanceof ApiError) {
        if (err.code === 'seat_taken') {
          const ids = err.seatIds
          const cur = venueRef.current
          if (cur) {
            for (const id of ids) if (id < cur.status.length) cur.status[id] = Status.held
            setVersion((x) => x + 1)
          }
          setSelected((s) => new Set([...s].filter((id) => !ids.includes(id))))
          void load()
        }
      }
    } finally {
      setBusy(false)
    }
  }

  const box = v && focus !== null ? v.sections[focus] : null
  const total = useMemo(() => (v ? [...selected].reduce((t, id) => t + v.price[id], 0) : 0), [selected, v])

  return (
    <>
      <div className="mb-4 flex flex-wrap items-end justify-between gap-3">
        <PageTitle sub={eventName}>Choose your seats</PageTitle>
        <p role="timer" aria-live="off" className={`mb-6 rounded-full px-4 py-2 text-sm font-semibold ${left !== null && left < 60 ? 'bg-red-100 text-red-900' : 'bg-indigo-50 text-indigo-900'}`}>
          Your turn ends in <span className="tabular-nums" data-testid="admission-left">{clock(left ?? 0)}</span>
        </p>
      </div>
      <div className={`grid gap-6 lg:grid-cols-[1fr_20rem] ${selected.size > 0 ? 'pb-20 lg:pb-0' : ''}`}>
        <div className="min-w-0 space-y-4 lg:col-start-1 lg:row-start-1">
          {mapError !== null && (v ? <Notice tone="warning" title="Live seat updates paused" live>We will keep trying; seats shown may be a few seconds old.</Notice> : <ErrorNotice error={mapError} title="We could not load the seat map" />)}
          {!v && mapError === null && <Loading what="the seat map" />}
          {v && !box && (
            <Card>
              <h2 className="sr-only">Venue overview</h2>
              <SeatCanvas venue={v} version={version} selected={selected} focusSection={focus} onPickSection={setFocus} />
              <Legend />
            </Card>
          )}
          {v && box && (
            <Card>
              <div className="mb-3 flex flex-wrap items-center justify-between gap-2">
                <h2 className="text-lg font-semibold">
                  Section {box.name} <span className="text-sm font-normal text-slate-600">· {box.tier} · {availableIn(v, box)} free · {priceRange(box.minPrice, box.maxPrice, v.currency)}</span>
                </h2>
                <Button variant="secondary" onClick={() => setFocus(null)}>
                  ← Whole venue
                </Button>
              </div>
              <p className="mb-2 text-center text-xs font-semibold uppercase tracking-widest text-slate-500" aria-hidden="true">
                Stage this way ↑
              </p>
              <SectionSeats venue={v} box={box} version={version} selected={selected} onToggle={toggle} />
              <Legend />
            </Card>
          )}
        </div>
        <aside className="space-y-4 lg:sticky lg:top-4 lg:col-start-2 lg:row-span-2 lg:row-start-1 lg:self-start" aria-label="Your selection">
          <Card>
            <h2 className="text-lg font-semibold">Your seats</h2>
            <div className="mt-2 space-y-3">
              {gone.length > 0 && (
                <Notice tone="warning" title="Just taken by someone else" live>
                  {gone.join('; ')}. Pick another seat.
                </Notice>
              )}
              {notice && <Notice tone="info" live>{notice}</Notice>}
              {holdError !== null && <HoldErrorNotice error={holdError} venue={v} slowFor={slowFor} />}
              {selected.size === 0 ? (
                <p className="text-sm text-slate-600">Choose up to {maxTickets} seats on the map, or let us pick the best available below.</p>
              ) : (
                <ul className="divide-y divide-slate-100 text-sm" data-testid="selection">
                  {[...selected].map((id) => (
                    <li key={id} className="flex items-center justify-between gap-2 py-1.5">
                      <span>{v ? seatLabel(v, id) : `Seat ${id}`}</span>
                      <span className="flex items-center gap-2 tabular-nums">
                        {v && money(v.price[id], v.currency)}
                        <button type="button" onClick={() => toggle(id)} className="rounded px-1 text-slate-600 hover:text-red-700 focus-visible:outline-2 focus-visible:outline-indigo-600" aria-label={`Remove ${v ? seatLabel(v, id) : id}`}>
                          ✕
                        </button>
                      </span>
                    </li>
                  ))}
                </ul>
              )}
              {selected.size > 0 && v && (
                <p className="flex justify-between border-t border-slate-200 pt-2 font-semibold">
                  <span>Total</span>
                  <span className="tabular-nums">{money(total, v.currency)}</span>
                </p>
              )}
              <Button className="w-full" disabled={selected.size === 0 || slowingDown} busy={busy} onClick={() => hold({ seat_ids: [...selected].sort((a, b) => a - b) })}>
                Hold {selected.size > 0 ? `${selected.size} seat${selected.size === 1 ? '' : 's'}` : 'seats'}
              </Button>
            </div>
          </Card>
          {v && <BestAvailable venue={v} version={version} maxTickets={maxTickets} busy={busy} disabled={slowingDown} onHold={hold} defaultSection={box?.name} />}
        </aside>
        {selected.size > 0 && v && (
          // On phones the selection panel is far below the map: keep the
          // total and the hold button in reach.
          <div className="fixed inset-x-0 bottom-0 z-20 flex items-center justify-between gap-3 border-t border-slate-200 bg-white px-4 py-3 shadow-[0_-4px_12px_rgba(0,0,0,0.08)] lg:hidden">
            {slowingDown ? (
              // The notice is far up the page: say here why Hold is off.
              <span className="text-sm text-amber-900">
                Slow down: try again in <span className="whitespace-nowrap font-semibold tabular-nums">{Math.ceil(slowFor)} s</span>
              </span>
            ) : (
              <span className="text-sm">
                {selected.size} seat{selected.size === 1 ? '' : 's'} · <span className="font-semibold tabular-nums">{money(total, v.currency)}</span>
              </span>
            )}
            <Button busy={busy} disabled={slowingDown} onClick={() => hold({ seat_ids: [...selected].sort((a, b) => a - b) })}>
              Hold
            </Button>
          </div>
        )}
        {v && (
          <div className="min-w-0 lg:col-start-1 lg:row-start-2">
            <Card>
              <h2 className="text-lg font-semibold">Sections</h2>
              <ul className="mt-3 grid grid-cols-2 gap-2 sm:grid-cols-3 xl:grid-cols-4">
                {v.sections.map((s) => {
                  const free = availableIn(v, s)
                  return (
                    <li key={s.name}>
                      <button
                        type="button"
                        onClick={() => {
                          setFocus(s.index)
                          // The section opens at the top of the page, not where its card was.
                          requestAnimationFrame(() => document.querySelector('[role="grid"]')?.scrollIntoView?.({ block: 'start' }))
                        }}
                        aria-current={focus === s.index ? 'true' : undefined}
                        className={`w-full rounded-lg border px-3 py-2 text-left text-sm focus-visible:outline-2 focus-visible:outline-indigo-600 ${focus === s.index ? 'border-indigo-600 bg-indigo-50' : 'border-slate-200 hover:border-indigo-300'}`}
                      >
                        <span className="block font-semibold">{s.name}</span>
                        <span className={`block text-xs ${free === 0 ? 'text-red-700' : 'text-slate-600'}`}>
                          {free === 0 ? 'Sold out' : `${count(free)} free`} · from {money(s.minPrice, v.currency)}
                        </span>
                      </button>
                    </li>
                  )
                })}
              </ul>
            </Card>
          </div>
        )}
      </div>
    </>
  )
}

function HoldErrorNotice({ error, venue, slowFor }: { error: unknown; venue: Venue | null; slowFor: number | null }) {
  if (error instanceof ApiError && error.code === 'seat_taken') {
    const names = venue ? error.seatIds.map((id) => seatLabel(venue, id)) : []
    return (
      <Notice tone="warning" title="Someone was quicker" live>
        <p>{names.length > 0 ? `${names.join('; ')} ${names.length === 1 ? 'was' : 'were'} just taken.` : errorMessage(error)}</p>
        <p className="mt-1">We refreshed the map and kept your other seats. Pick again.</p>
      </Notice>
    )
  }
  if (error instanceof ApiError && error.code === 'too_many_attempts') {
    const wait = Math.ceil(slowFor ?? 0)
    return (
      <Notice tone="warning" title="Slow down a moment" live>
        <p>
          That was a lot of tries in a minute, so holds are paused for you.{' '}
          {wait > 0 ? (
            <>
              Try again in <span className="whitespace-nowrap font-semibold tabular-nums">{wait} s</span>.
            </>
          ) : (
            'You can try again now.'
          )}
        </p>
      </Notice>
    )
  }
  return <ErrorNotice error={error} title="We could not hold those seats" />
}

function Legend() {
  const items: [string, string][] = [
    ['Available', seatColors.available],
    ['Held', seatColors.held],
    ['Sold', seatColors.sold],
    ['Your choice', seatColors.selected],
  ]
  // Wheelchair spaces show a symbol instead of their number.
  return (
    <ul className="mt-3 flex flex-wrap gap-4 text-xs text-slate-700" aria-label="Legend">
      {items.map(([label, color]) => (
        <li key={label} className="flex items-center gap-1.5">
          <span aria-hidden="true" className="inline-block size-3 rounded-sm" style={{ background: color }} />
          {label}
        </li>
      ))}
      <li className="flex items-center gap-1.5">
        <span aria-hidden="true">♿</span>
        Wheelchair space
      </li>
    </ul>
  )
}

function BestAvailable({
  venue,
  version,
  maxTickets,
  busy,
  disabled,
  onHold,
  defaultSection,
}: {
  venue: Venue
  version: number
  maxTickets: number
  busy: boolean
  disabled: boolean
  onHold: (req: HoldRequest) => void
  defaultSection?: string
}) {
  const [section, setSection] = useState(defaultSection ?? venue.sections[0]?.name ?? '')
  const [quantity, setQuantity] = useState(2)
  const [together, setTogether] = useState(true)
  useEffect(() => {
    if (defaultSection) setSection(defaultSection)
  }, [defaultSection])
  // version is a dependency on purpose: the venue's statuses change in place.
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const free = useMemo(() => new Map(venue.sections.map((s) => [s.name, availableIn(venue, s)])), [venue, version])

  function submit(e: FormEvent) {
    e.preventDefault()
    onHold({ section, quantity, together })
  }
  return (
    <Card>
      <h2 className="text-lg font-semibold">Best available</h2>
      <form onSubmit={submit} className="mt-3 space-y-3">
        <div>
          <label htmlFor="ba-section" className="block text-sm font-medium">
            Section
          </label>
          <select id="ba-section" value={section} onChange={(e) => setSection(e.target.value)} className="mt-1 block min-h-11 w-full rounded-lg border border-slate-300 bg-white px-3">
            {venue.sections.map((s) => (
              <option key={s.name} value={s.name} disabled={free.get(s.name) === 0}>
                {s.name} ({s.tier}) · {free.get(s.name) ? `${free.get(s.name)} free` : 'sold out'}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label htmlFor="ba-qty" className="block text-sm font-medium">
            Tickets
          </label>
          <select id="ba-qty" value={quantity} onChange={(e) => setQuantity(Number(e.target.value))} className="mt-1 block min-h-11 w-full rounded-lg border border-slate-300 bg-white px-3">
            {Array.from({ length: maxTickets }, (_, i) => i + 1).map((n) => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
          </select>
        </div>
        <label className="flex min-h-11 items-center gap-2 text-sm">
          <input type="checkbox" checked={together} onChange={(e) => setTogether(e.target.checked)} className="size-5 accent-indigo-700" />
          Seats next to each other
        </label>
        <Button type="submit" variant="secondary" className="w-full" busy={busy} disabled={disabled}>
          Find and hold
        </Button>
      </form>
    </Card>
  )
}
