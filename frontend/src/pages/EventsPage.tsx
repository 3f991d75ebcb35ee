import { useEffect } from 'react'
import { api, type Event } from '../lib/api'
import { count, dateTime } from '../lib/format'
import { useDocumentTitle, useLoad } from '../lib/hooks'
import { Link } from '../components/Link'
import { SaleBadge, SaleCountdown } from '../components/EventBits'
import { useSaleState } from '../lib/sale'
import { Button, ErrorNotice, Loading, PageTitle } from '../components/ui'

export function EventsPage() {
  useDocumentTitle('Events')
  const [events, reload] = useLoad((signal) => api.events(signal), [])
  useReloadAtOpening(events.data, reload)
  return (
    <>
      <PageTitle sub="Join the waiting room before the sale opens: everyone who is in early gets a fair, random place.">Events</PageTitle>
      {events.state === 'error' && <ErrorNotice error={events.error} title="We could not load the events" action={<Button variant="secondary" onClick={reload}>Try again</Button>} />}
      {events.state === 'loading' && !events.data && <Loading what="events" />}
      {events.data && events.data.length === 0 && <p className="text-slate-600">No events on sale yet.</p>}
      {events.data && events.data.length > 0 && (
        <ul className="grid gap-4 sm:grid-cols-2 lg:grid-cols-3" aria-label="Events">
          {events.data.map((e) => (
            <li key={e.id}>
              <article className="relative flex h-full flex-col rounded-xl border border-slate-200 bg-white p-5 shadow-sm transition-shadow focus-within:ring-2 focus-within:ring-indigo-600 hover:shadow-md">
                <div className="flex items-start justify-between gap-2">
                  <h2 className="text-lg font-semibold leading-snug">
                    <Link href={`/events/${e.id}`} className="after:absolute after:inset-0 focus:outline-none">
                      {e.name}
                    </Link>
                  </h2>
                  {/* The badge keeps its words on one line; the name wraps instead. */}
                  <span className="shrink-0 whitespace-nowrap">
                    <SaleBadge event={e} />
                  </span>
                </div>
                <p className="mt-1 text-sm text-slate-700">{[e.venue.name, e.venue.city].filter(Boolean).join(', ')}</p>
                <p className="text-sm text-slate-600">{dateTime(e.starts_at, e.venue.timezone)}</p>
                <div className="mt-auto pt-4 text-sm text-slate-700">
                  <SaleLine event={e} />
                  <span className="block text-slate-600">
                    {count(e.seats_left)} of {count(e.capacity)} seats left
                  </span>
                </div>
              </article>
            </li>
          ))}
        </ul>
      )}
    </>
  )
}

/** SaleLine counts down to the opening, then says the event is on sale, without a reload. */
function SaleLine({ event }: { event: Event }) {
  const state = useSaleState(event)
  if (state === 'upcoming') return <SaleCountdown opensAt={event.sale_opens_at} />
  return <span data-testid="sale-line">{state === 'open' ? 'On sale now' : 'Sold out'}</span>
}

/**
 * useReloadAtOpening reloads the list a moment after the next upcoming sale
 * opens: the card turns to "on sale" by itself at the opening, and the
 * reload brings the server's word (seats left, sold out) soon after.
 */
function useReloadAtOpening(events: Event[] | undefined, reload: () => void) {
  const next = Math.min(...(events ?? []).filter((e) => e.sale_state === 'upcoming').map((e) => Date.parse(e.sale_opens_at)).filter((t) => !Number.isNaN(t)))
  useEffect(() => {
    if (!Number.isFinite(next)) return
    // Timers cap at 2^31-1 ms (24.8 days); a later opening waits for a reload.
    const wait = next - Date.now() + 2_000
    if (wait > 2 ** 31 - 1) return
    const t = setTimeout(reload, Math.max(0, wait))
    return () => clearTimeout(t)
    // reload only bumps a counter.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [next])
}
