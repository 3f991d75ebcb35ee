import { useEffect, useState, type FormEvent } from 'react'
import { api, type AdminVenue } from '../lib/api'
import { count, dateTime, toLocalInput } from '../lib/format'
import { useDocumentTitle, useLoad } from '../lib/hooks'
import { navigate } from '../lib/router'
import { Link } from '../components/Link'
import type { Session } from '../lib/session'
import { SaleBadge } from '../components/EventBits'
import { Button, Card, ErrorNotice, Field, Loading, PageTitle } from '../components/ui'
import { OpsGate } from './OpsGate'

export function OpsPage() {
  useDocumentTitle('Ops console')
  return <OpsGate next="/ops">{(s) => <Console auth={s} />}</OpsGate>
}

function Console({ auth }: { auth: Session }) {
  const [events, reload] = useLoad((signal) => api.events(signal), [])
  return (
    <>
      <PageTitle sub="Events, admission control and live queue figures.">Ops console</PageTitle>
      <div className="grid items-start gap-6 lg:grid-cols-[1fr_24rem]">
        <Card>
          <h2 className="text-lg font-semibold">Events</h2>
          {events.state === 'error' && <ErrorNotice error={events.error} />}
          {!events.data && events.state === 'loading' && <Loading what="events" />}
          <div className="mt-3 overflow-x-auto">
            <table className="w-full text-left text-sm">
              <thead className="border-b border-slate-200 text-slate-600">
                <tr>
                  <th scope="col" className="py-2 pr-3 font-medium">Event</th>
                  <th scope="col" className="py-2 pr-3 font-medium">Sale opens</th>
                  <th scope="col" className="py-2 pr-3 font-medium">State</th>
                  <th scope="col" className="py-2 text-right font-medium">Seats left</th>
                </tr>
              </thead>
              <tbody>
                {events.data?.map((e) => (
                  <tr key={e.id} className="border-b border-slate-100 last:border-0">
                    <th scope="row" className="py-2 pr-3 font-medium">
                      <Link href={`/ops/events/${e.id}`} className="text-indigo-700 underline">
                        {e.name}
                      </Link>
                      <span className="block text-xs font-normal text-slate-600">{e.venue.name}</span>
                    </th>
                    <td className="py-2 pr-3">{dateTime(e.sale_opens_at, e.venue.timezone)}</td>
                    <td className="py-2 pr-3">
                      <SaleBadge event={e} />
                    </td>
                    <td className="py-2 text-right tabular-nums">
                      {count(e.seats_left)} / {count(e.capacity)}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </Card>
        <CreateEvent auth={auth} onCreated={reload} />
      </div>
    </>
  )
}

function CreateEvent({ auth, onCreated }: { auth: Session; onCreated: () => void }) {
  const [venues, setVenues] = useState<AdminVenue[] | null>(null)
  const [venuesError, setVenuesError] = useState<unknown>(null)
  const [venueId, setVenueId] = useState<number>(0)
  const [name, setName] = useState('')
  const [startsAt, setStartsAt] = useState(() => toLocalInput(new Date(Date.now() + 30 * 86400_000)))
  const [opensAt, setOpensAt] = useState(() => toLocalInput(new Date(Date.now() + 10 * 60_000)))
  const [maxTickets, setMaxTickets] = useState(4)
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<unknown>(null)

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
    setBusy(true)
    setError(null)
    try {
      const ev = await api.createEvent(auth.token, {
        venue_id: venueId,
        name,
        starts_at: new Date(startsAt).toISOString(),
        sale_opens_at: new Date(opensAt).toISOString(),
        max_tickets_per_fan: maxTickets,
      })
      onCreated()
      navigate(`/ops/events/${ev.id}`)
    } catch (err) {
      setError(err)
    } finally {
      setBusy(false)
    }
  }

  return (
    <Card>
      <h2 className="text-lg font-semibold">Create an event</h2>
      <form onSubmit={submit} className="mt-3 space-y-3">
        {venuesError !== null && <ErrorNotice error={venuesError} title="We could not load the venues" />}
        {error !== null && <ErrorNotice error={error} title="The event was not created" />}
        <div>
          <label htmlFor="ce-venue" className="block text-sm font-medium">
            Venue
          </label>
          <select id="ce-venue" required value={venueId} onChange={(e) => setVenueId(Number(e.target.value))} className="mt-1 block min-h-11 w-full rounded-lg border border-slate-300 bg-white px-3">
            {venues === null && <option value={0}>Loading…</option>}
            {venues?.map((v) => (
              <option key={v.id} value={v.id}>
                {v.name}, {v.city} ({count(v.capacity)} seats)
              </option>
            ))}
          </select>
        </div>
        <Field label="Name" required value={name} onChange={(e) => setName(e.target.value)} />
        <Field label="Starts at (your local time)" type="datetime-local" required value={startsAt} onChange={(e) => setStartsAt(e.target.value)} />
        <Field label="Sale opens at (your local time)" type="datetime-local" required value={opensAt} onChange={(e) => setOpensAt(e.target.value)} />
        <Field label="Tickets per fan" type="number" min={1} max={20} required value={maxTickets} onChange={(e) => setMaxTickets(Number(e.target.value))} />
        <Button type="submit" busy={busy} disabled={!venueId} className="w-full">
          Create event
        </Button>
      </form>
    </Card>
  )
}
