import { useEffect, useState } from 'react'
import { api, ApiError, type Event, type QueueStatus } from '../lib/api'
import { count, dateTime } from '../lib/format'
import { useDocumentTitle, useLoad, usePageHidden } from '../lib/hooks'
import { Link } from '../components/Link'
import { useSaleState } from '../lib/sale'
import { useSession } from '../lib/session'
import { SaleBadge, SaleCountdown, WaitingRoomBadge } from '../components/EventBits'
import { PriceTable } from '../components/PriceTable'
import { WaitingRoom } from '../components/WaitingRoom'
import { Button, Card, ErrorNotice, Loading, PageTitle } from '../components/ui'

/** How often the event page refreshes seats left and the room's state. */
const refreshMs = 10_000

export function EventPage({ eventId }: { eventId: number }) {
  const auth = useSession()
  const [ev, reload] = useLoad((signal) => api.event(eventId, signal), [eventId])
  const hidden = usePageHidden()
  // The fan's own place, live from the waiting room's polls.
  const [mine, setMine] = useState<QueueStatus | null>(null)
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
  const queuedHere = queued(e.waiting_room?.queue_length ?? 0, mine)
  return (
    <>
      <PageTitle
        sub={
          <>
            {[e.venue.name, e.venue.city].filter(Boolean).join(', ')} · {dateTime(e.starts_at, e.venue.timezone)}
          </>
        }
      >
        {e.name}
      </PageTitle>
      <div className="grid items-start gap-6 lg:grid-cols-[1fr_24rem]">
        {/* The waiting room comes first: on a phone the fan's place is above
            the fold; on a wide screen it sits in the right-hand column. */}
        <div className="lg:sticky lg:top-4 lg:col-start-2 lg:row-start-1 lg:self-start">
          <WaitingRoom event={e} auth={auth} onStatus={setMine} />
        </div>
        <div className="space-y-6 lg:col-start-1 lg:row-start-1">
          <Card>
            <div className="flex flex-wrap items-center gap-2">
              <SaleBadge event={e} />
              {e.waiting_room && <WaitingRoomBadge state={e.waiting_room.state} />}
            </div>
            <dl className="mt-4 grid gap-4 text-sm sm:grid-cols-2">
              <SaleOpening event={e} />
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
              {e.waiting_room && e.waiting_room.state !== 'prequeue' && (
                <div>
                  <dt className="text-slate-600">In the queue</dt>
                  <dd className="font-medium" data-testid="queue-length">
                    {count(queuedHere)} {queuedHere === 1 ? 'fan' : 'fans'}
                  </dd>
                </div>
              )}
            </dl>
            {e.waiting_room?.draw_seed && (
              <p className="mt-4 break-words border-t border-slate-100 pt-3 text-sm text-slate-700" data-testid="draw-seed">
                The pre-queue was shuffled at the opening with the published seed <code className="break-all rounded bg-slate-100 px-1">{e.waiting_room.draw_seed}</code>: anyone can recompute the order from it.
              </p>
            )}
          </Card>
          {e.sections && e.sections.length > 0 && (
            <Card>
              <h2 className="text-lg font-semibold">Prices by section</h2>
              <PriceTable sections={e.sections} currency={e.currency} />
            </Card>
          )}
        </div>
      </div>
    </>
  )
}

/** SaleOpening says when the sale opens, or that it opened once that time has passed (on the page's clock). */
function SaleOpening({ event }: { event: Event }) {
  const upcoming = useSaleState(event) === 'upcoming'
  return (
    <div>
      <dt className="text-slate-600">{upcoming ? 'Sale opens' : 'Sale opened'}</dt>
      <dd className="font-medium">{dateTime(event.sale_opens_at, event.venue.timezone)}</dd>
      {upcoming && (
        <dd className="mt-1 text-indigo-800">
          <SaleCountdown opensAt={event.sale_opens_at} />
        </dd>
      )}
    </div>
  )
}

/**
 * queued is how many fans the page says are in the queue. The event's count
 * is a snapshot (refreshed every few seconds) while the fan's own place is
 * polled live, so the snapshot can lag behind it: a fan waiting with n
 * people ahead knows at least n + 1 fans are queued, themself included.
 */
function queued(queueLength: number, mine: QueueStatus | null): number {
  if (mine?.state !== 'waiting' && mine?.state !== 'prequeue') return queueLength
  return Math.max(queueLength, (mine.ahead ?? 0) + 1)
}
