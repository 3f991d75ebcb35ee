import { api } from '../lib/api'
import { count, dateTime } from '../lib/format'
import { useDocumentTitle, useLoad } from '../lib/hooks'
import { Link } from '../components/Link'
import { SaleBadge, SaleCountdown } from '../components/EventBits'
import { Button, ErrorNotice, Loading, PageTitle } from '../components/ui'

export function EventsPage() {
  useDocumentTitle('Events')
  const [events, reload] = useLoad((signal) => api.events(signal), [])
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
                  <SaleBadge event={e} />
                </div>
                <p className="mt-1 text-sm text-slate-700">
                  {e.venue.name}, {e.venue.city}
                </p>
                <p className="text-sm text-slate-600">{dateTime(e.starts_at, e.venue.timezone)}</p>
                <div className="mt-auto pt-4 text-sm text-slate-700">
                  {e.sale_state === 'upcoming' ? <SaleCountdown opensAt={e.sale_opens_at} /> : e.sale_state === 'open' ? 'On sale now' : 'Sold out'}
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
