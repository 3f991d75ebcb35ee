import { useEffect, useState, type FormEvent } from 'react'
import { ApiError, api, type AdminVenue, type AdmissionStats, type Event } from '../lib/api'
import { count, dateTime, parseZonedInput, timeOfDay, zonedInput } from '../lib/format'
import { useDocumentTitle, useNow, usePolled } from '../lib/hooks'
import { navigate } from '../lib/router'
import { Link } from '../components/Link'
import type { Session } from '../lib/session'
import { SaleBadge, WaitingRoomBadge } from '../components/EventBits'
import { Button, Card, ErrorNotice, Field, Loading, Notice, PageTitle } from '../components/ui'
import { OpsGate } from './OpsGate'

/** How often the event list refreshes its live figures. */
export const listRefreshMs = 5_000

/** statsConcurrency bounds the stats requests of one refresh of the list. */
const statsConcurrency = 4

export function OpsPage() {
  useDocumentTitle('Ops console')
  return <OpsGate next="/ops">{(s) => <Console auth={s} />}</OpsGate>
}

/** LiveEvent is a listed event with its waiting room's figures (null when they could not be read). */
interface LiveEvent {
  event: Event
  stats: AdmissionStats | null
}

/**
 * liveEvents reads the events (seats left, sale state) and then each one's
 * admission stats, a few at a time; one event's failure leaves only its
 * figures blank.
 */
async function liveEvents(token: string, signal: AbortSignal): Promise<LiveEvent[]> {
  const events = await api.events(signal)
  const out: LiveEvent[] = events.map((event) => ({ event, stats: null }))
  let next = 0
  const worker = async () => {
    while (next < out.length && !signal.aborted) {
      const row = out[next++]
      row.stats = await api.stats(row.event.id, token, signal).catch(() => null)
    }
  }
  await Promise.all(Array.from({ length: statsConcurrency }, worker))
  return out
}

function Console({ auth }: { auth: Session }) {
  const { value: rows, okAt, error } = usePolled((signal) => liveEvents(auth.token, signal), listRefreshMs, [auth.token])
  const now = useNow()
  const stale = okAt !== null && now - okAt > 3 * listRefreshMs
  return (
    <>
      <PageTitle sub="Events, admission control and live queue figures.">Ops console</PageTitle>
      <div className="grid items-start gap-6 lg:grid-cols-[1fr_24rem]">
        {/* min-w-0: a wide table scrolls inside its card instead of widening the page. */}
        <Card className="min-w-0">
          <div className="flex flex-wrap items-baseline justify-between gap-2">
            <h2 className="text-lg font-semibold">Events</h2>
            {okAt !== null && (
              <span className={`text-xs ${stale ? 'font-semibold text-amber-900' : 'text-slate-600'}`} data-testid="list-updated">
                {stale ? 'Stale: ' : ''}updated {timeOfDay(okAt)}, every {listRefreshMs / 1000} s
              </span>
            )}
          </div>
          {error !== null && !rows && <ErrorNotice error={error} title="We could not load the events" />}
          {error !== null && rows && (
            <div className="mt-3">
              <Notice tone="warning" title="The last refresh failed" live>
                The figures below may be out of date; we keep trying every {listRefreshMs / 1000} s.
              </Notice>
            </div>
          )}
          {!rows && error === null && <Loading what="events" />}
          {rows && <EventTable rows={rows} />}
        </Card>
        <div className="min-w-0">
          <CreateEvent auth={auth} />
        </div>
      </div>
    </>
  )
}

function EventTable({ rows }: { rows: LiveEvent[] }) {
  const num = 'py-2 pl-2 text-right tabular-nums'
  return (
    <div className="mt-3 overflow-x-auto">
      <table className="w-full text-left text-sm">
        <thead className="border-b border-slate-200 text-slate-600">
          <tr>
            <th scope="col" className="py-2 pr-2 font-medium">Event</th>
            <th scope="col" className="py-2 pl-2 text-right font-medium">In queue</th>
            <th scope="col" className="py-2 pl-2 text-right font-medium">Admitted</th>
            <th scope="col" className="py-2 pl-2 text-right font-medium">Seats left</th>
          </tr>
        </thead>
        <tbody>
          {rows.map(({ event: e, stats }) => (
            <tr key={e.id} className="border-b border-slate-100 align-top last:border-0" data-event-id={e.id}>
              <th scope="row" className="py-2 pr-2 font-medium">
                <Link href={`/ops/events/${e.id}`} className="text-indigo-700 underline">
                  {e.name}
                </Link>
                <span className="my-1 flex flex-wrap gap-1" data-testid="ops-state">
                  <SaleBadge event={e} />
                  {stats && <WaitingRoomBadge state={stats.state} />}
                </span>
                <span className="block text-xs font-normal text-slate-600">{e.venue.name}</span>
                <span className="block text-xs font-normal text-slate-600">Sale opens {dateTime(e.sale_opens_at, e.venue.timezone)}</span>
              </th>
              <td className={num} data-testid="ops-queue">
                {stats ? count(stats.queue_length + stats.prequeue_length) : '–'}
              </td>
              <td className={num} data-testid="ops-admitted">
                {stats ? count(stats.admitted_total) : '–'}
                {stats && <span className="block text-xs text-slate-600">{count(stats.active)} active</span>}
              </td>
              <td className={num} data-testid="ops-seats-left">
                {count(e.seats_left)}
                <span className="hidden text-xs text-slate-600 sm:block">of {count(e.capacity)}</span>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  )
}

/** The create-event form's fields by the API's names, for errors that name one. */
const eventFields: Record<string, string> = {
  venue_id: 'Venue',
  name: 'Name',
  starts_at: 'Starts at',
  sale_opens_at: 'Sale opens at',
  max_tickets_per_fan: 'Tickets per fan',
}

/** maxTicketsPerFan is the most tickets per fan the API allows an event. */
const maxTicketsPerFan = 50

/**
 * fieldError is the message of an API error about field, reading the
 * field's label where the server wrote its API name, or undefined.
 */
function fieldError(err: unknown, field: string): string | undefined {
  if (!(err instanceof ApiError) || err.details.field !== field) return undefined
  let m = err.message
  for (const [name, label] of Object.entries(eventFields)) m = m.split(name).join(label)
  m = m.charAt(0).toUpperCase() + m.slice(1)
  return /[.!?]$/.test(m) ? m : `${m}.`
}

/** The zone event times are entered in when the venue does not say (a backend without venues' zones). */
const fallbackZone = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC'

function CreateEvent({ auth }: { auth: Session }) {
  const [venues, setVenues] = useState<AdminVenue[] | null>(null)
  const [venuesError, setVenuesError] = useState<unknown>(null)
  const [venueId, setVenueId] = useState<number>(0)
  const [name, setName] = useState('')
  const venue = venues?.find((v) => v.id === venueId)
  const zone = venue?.timezone || fallbackZone
  // Times are typed as the venue's wall clock, the zone every page shows
  // them in. Until the operator types one, a field shows its default in
  // the zone of the venue chosen (the venues load after the first render).
  const [defaults] = useState(() => ({ starts: new Date(Date.now() + 30 * 86400_000), opens: new Date(Date.now() + 10 * 60_000) }))
  const [startsTyped, setStartsAt] = useState<string | null>(null)
  const [opensTyped, setOpensAt] = useState<string | null>(null)
  const startsAt = startsTyped ?? zonedInput(defaults.starts, zone)
  const opensAt = opensTyped ?? zonedInput(defaults.opens, zone)
  const [maxTickets, setMaxTickets] = useState(4)
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<unknown>(null)
  const [checked, setChecked] = useState(false)
  const starts = parseZonedInput(startsAt, zone)
  const opens = parseZonedInput(opensAt, zone)

  useEffect(() => {
    api.venues(auth.token).then(
      (v) => {
        setVenues(v)
        if (v.length > 0) setVenueId(v[0].id)
      },
      setVenuesError,
    )
  }, [auth.token])

  async function submit(e: FormEvent) {
    e.preventDefault()
    setChecked(true)
    if (!starts || !opens || !(Number.isInteger(maxTickets) && maxTickets >= 1 && maxTickets <= maxTicketsPerFan)) return
    setBusy(true)
    setError(null)
    try {
      const ev = await api.createEvent(auth.token, {
        venue_id: venueId,
        name,
        starts_at: starts.toISOString(),
        sale_opens_at: opens.toISOString(),
        max_tickets_per_fan: maxTickets,
      })
      navigate(`/ops/events/${ev.id}`)
    } catch (err) {
      setError(err)
    } finally {
      setBusy(false)
    }
  }

  const timeHint = (d: Date | null) => `YYYY-MM-DD HH:MM, 24-hour, ${zone} time${d ? `: ${dateTime(d.toISOString(), zone)}` : ''}`
  const timeError = (d: Date | null, field: string) =>
    checked && !d ? `Write it as YYYY-MM-DD HH:MM (24-hour), a time that exists in ${zone}.` : fieldError(error, field)
  const ticketsError =
    checked && !(Number.isInteger(maxTickets) && maxTickets >= 1 && maxTickets <= maxTicketsPerFan)
      ? `Tickets per fan must be a whole number from 1 to ${maxTicketsPerFan}.`
      : fieldError(error, 'max_tickets_per_fan')
  // An error about one field shows at that field, not above the form.
  const formError = error instanceof ApiError && typeof error.details.field === 'string' && error.details.field in eventFields ? null : error
  // Editing the form answers what was refused: the old message goes.
  const edited =
    <T,>(set: (v: T) => void) =>
    (v: T) => {
      setError(null)
      set(v)
    }
  const timeField = { inputMode: 'numeric', autoComplete: 'off', spellCheck: false, placeholder: 'YYYY-MM-DD HH:MM' } as const
  return (
    <Card>
      <h2 className="text-lg font-semibold">Create an event</h2>
      <form onSubmit={submit} className="mt-3 space-y-3" noValidate>
        {venuesError !== null && <ErrorNotice error={venuesError} title="We could not load the venues" />}
        {formError !== null && <ErrorNotice error={formError} title="The event was not created" />}
        <div className="min-w-0">
          <label htmlFor="ce-venue" className="block text-sm font-medium">
            Venue
          </label>
          <select
            id="ce-venue"
            required
            value={venueId}
            onChange={(e) => edited(setVenueId)(Number(e.target.value))}
            aria-describedby="ce-venue-hint"
            className="mt-1 block min-h-11 w-full min-w-0 max-w-full truncate rounded-lg border border-slate-300 bg-white py-2 pr-8 pl-3"
          >
            {venues === null && <option value={0}>Loading…</option>}
            {venues?.map((v) => (
              <option key={v.id} value={v.id}>
                {v.name}
              </option>
            ))}
          </select>
          <p id="ce-venue-hint" className="mt-1 text-xs text-slate-600" data-testid="venue-hint">
            {venue ? [venue.city, `${count(venue.capacity)} seats`, `times in ${zone}`].filter(Boolean).join(' · ') : ' '}
          </p>
          {fieldError(error, 'venue_id') && <p className="mt-1 text-xs text-red-700">{fieldError(error, 'venue_id')}</p>}
        </div>
        <Field label="Name" required value={name} onChange={(e) => edited(setName)(e.target.value)} error={fieldError(error, 'name')} />
        <Field label="Starts at" required value={startsAt} onChange={(e) => edited(setStartsAt)(e.target.value)} hint={timeHint(starts)} error={timeError(starts, 'starts_at')} {...timeField} />
        <Field label="Sale opens at" required value={opensAt} onChange={(e) => edited(setOpensAt)(e.target.value)} hint={timeHint(opens)} error={timeError(opens, 'sale_opens_at')} {...timeField} />
        <Field
          label="Tickets per fan"
          type="number"
          min={1}
          max={maxTicketsPerFan}
          step={1}
          required
          value={maxTickets}
          onChange={(e) => edited(setMaxTickets)(Number(e.target.value))}
          error={ticketsError}
        />
        <Button type="submit" busy={busy} disabled={!venueId} className="w-full">
          Create event
        </Button>
      </form>
    </Card>
  )
}
