import { useEffect } from 'react'
import { api, ApiError } from '../lib/api'
import { count, dateTime, priceRange } from '../lib/format'
import { useDocumentTitle, useLoad, usePageHidden } from '../lib/hooks'
import { Link } from '../lib/router'
import { useSession } from '../lib/session'
import { SaleBadge, SaleCountdown, WaitingRoomBadge } from '../components/EventBits'
import { WaitingRoom } from '../components/WaitingRoom'
import { Button, Card, ErrorNotice, Loading, PageTitle } from '../components/ui'

/** How often the event page refreshes seats left and the room's state. */
const refreshMs = 10_000

export function EventPage({ eventId }: { eventId: number }) {
  const auth = useSession()
  const [ev, reload] = useLoad((signal) => api.event(eventId, signal), [eventId])
  const hidden = usePageHidden()
  useDocumentTitle(ev.data?.name ?? 'Event')

  useEffect(() => {
    if (hidden) return
    const t = setInterval(reload, refreshMs)
    return () => clearInterval(t)
    // reload is stable in effect: it only bumps a counter.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [hidden, eventId])

  if (ev.state === 'error' && !ev.data) {
    const missing = ev.error instanceof ApiError && ev.error.status === 404
    return (
      <>
        <PageTitle>{missing ? 'Event not found' : 'Event'}</PageTitle>
        <ErrorNotice error={ev.error} action={missing ? <Link href="/" className="underline">See all events</Link> : <Button variant="secondary" onClick={reload}>Try again</Button>} />
      </>
    )
  }
  if (!ev.data) return <Loading what="the event" />
  const e = ev.data
  return (
    <>
      <PageTitle
        sub={
          <>
            {e.venue.name}, {e.venue.city} · {dateTime(e.starts_at, e.venue.timezone)}
          </>
        }
      >
        {e.name}
      </PageTitle>
      <div className="grid items-start gap-6 lg:grid-cols-[1fr_24rem]">
        <div className="space-y-6">
          <Card>
            <div className="flex flex-wrap items-center gap-2">
              <SaleBadge event={e} />
              {e.waiting_room && <WaitingRoomBadge room={e.waiting_room} />}
            </div>
            <dl className="mt-4 grid gap-4 text-sm sm:grid-cols-2">
              <div>
                <dt className="text-slate-600">Sale opens</dt>
                <dd className="font-medium">{dateTime(e.sale_opens_at, e.venue.timezone)}</dd>
                {e.sale_state === 'upcoming' && (
                  <dd className="mt-1 text-indigo-800">
                    <SaleCountdown opensAt={e.sale_opens_at} />
                  </dd>
                )}
              </div>
              <div>
                <dt className="text-slate-600">Seats left</dt>
                <dd className="font-medium" data-testid="seats-left">
                  {count(e.seats_left)} of {count(e.capacity)}
                </dd>
              </div>
              <div>
                <dt className="text-slate-600">Tickets per fan</dt>
                <dd className="font-medium">Up to {e.max_tickets_per_fan}</dd>
              </div>
              {e.waiting_room && (
                <div>
                  <dt className="text-slate-600">In the queue</dt>
                  <dd className="font-medium">{count(e.waiting_room.queue_length)} fans</dd>
                </div>
              )}
            </dl>
          </Card>
          {e.sections && e.sections.length > 0 && (
            <Card>
              <h2 className="text-lg font-semibold">Prices by section</h2>
              <div className="mt-3 overflow-x-auto">
                <table className="w-full text-left text-sm">
                  <caption className="sr-only">Price range and seats left in each section</caption>
                  <thead className="border-b border-slate-200 text-slate-600">
                    <tr>
                      <th scope="col" className="py-2 pr-3 font-medium">Section</th>
                      <th scope="col" className="py-2 pr-3 font-medium">Tier</th>
                      <th scope="col" className="py-2 pr-3 font-medium">Price</th>
                      <th scope="col" className="py-2 text-right font-medium">Seats left</th>
                    </tr>
                  </thead>
                  <tbody>
                    {e.sections.map((s) => (
                      <tr key={s.name} className="border-b border-slate-100 last:border-0">
                        <th scope="row" className="py-2 pr-3 font-medium">{s.name}</th>
                        <td className="py-2 pr-3 text-slate-700">{s.tier}</td>
                        <td className="py-2 pr-3 tabular-nums">{priceRange(s.min_price_cents, s.max_price_cents, e.currency)}</td>
                        <td className="py-2 text-right tabular-nums">
                          {s.seats_left === 0 ? <span className="text-red-700">Sold out</span> : `${count(s.seats_left)} / ${count(s.capacity)}`}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            </Card>
          )}
        </div>
        <div className="lg:sticky lg:top-4 lg:self-start">
          <WaitingRoom event={e} auth={auth} />
        </div>
      </div>
    </>
  )
}
