import { useRef, useState } from 'react'
import { api, ApiError, type Event, type Order } from '../lib/api'
import { clock, dateTime, money } from '../lib/format'
import { useDocumentTitle, useLoad, useSecondsLeft } from '../lib/hooks'
import { Attempt, withRetries } from '../lib/idempotency'
import { Link } from '../components/Link'
import { useLiveHold, useSession, type LiveHold } from '../lib/session'
import { Badge, Button, Card, ErrorNotice, Loading, Notice, PageTitle } from '../components/ui'

export function OrdersPage() {
  const auth = useSession()
  useDocumentTitle('My orders')
  const [orders, reload] = useLoad((signal) => (auth ? ordersWithZones(auth.token, signal) : Promise.resolve([] as ZonedOrder[])), [auth?.token])
  const hold = useLiveHold()
  if (!auth) {
    return (
      <>
        <PageTitle>My orders</PageTitle>
        <Notice title="Sign in to see your orders">
          <Link href="/signin?next=%2Forders" className="underline">
            Sign in
          </Link>
        </Notice>
      </>
    )
  }
  return (
    <>
      <PageTitle>My orders</PageTitle>
      {orders.state === 'error' && <ErrorNotice error={orders.error} title="We could not load your orders" action={<LoadAction error={orders.error} onRetry={reload} />} />}
      {!orders.data && orders.state === 'loading' && <Loading what="your orders" />}
      {hold && <HeldCard hold={hold} />}
      {orders.data?.length === 0 && !hold && (
        <p className="text-slate-600">
          No orders yet. <Link href="/" className="text-indigo-700 underline">Find an event</Link>.
        </p>
      )}
      <ul className="space-y-4" aria-label="Orders">
        {orders.data?.map((o) => (
          <li key={o.id}>
            <OrderCard order={o} token={auth.token} onChanged={reload} />
          </li>
        ))}
      </ul>
    </>
  )
}

/**
 * LoadAction is the way out of a failed load: a session that ended (401)
 * fails the same way on every retry, so it offers to sign in again and come
 * back here; anything else may pass on a retry.
 */
function LoadAction({ error, onRetry }: { error: unknown; onRetry: () => void }) {
  if (error instanceof ApiError && error.status === 401) {
    return (
      <Link href="/signin?next=%2Forders" className="inline-flex min-h-11 items-center rounded-lg bg-indigo-700 px-4 text-sm font-semibold text-white hover:bg-indigo-800">
        Sign in
      </Link>
    )
  }
  return (
    <Button variant="secondary" onClick={onRetry}>
      Try again
    </Button>
  )
}

/** ZonedOrder is an order with its event's date and venue (and so its time zone), when the event could be read. */
type ZonedOrder = Order & { timeZone?: string; event?: Pick<Event, 'starts_at' | 'venue'> }

/**
 * ordersWithZones reads the fan's orders and the time zone of each one's
 * venue, so an order's times read in the same zone (and with the same
 * label, e.g. GMT) as every other time of that event, whatever the
 * browser's zone. An event that cannot be read leaves the browser's zone.
 */
async function ordersWithZones(token: string, signal: AbortSignal): Promise<ZonedOrder[]> {
  const orders = await api.orders(token, signal)
  const ids = [...new Set(orders.map((o) => o.event_id))]
  const events = new Map<number, Event>()
  await Promise.all(
    ids.map((id) =>
      api.event(id, signal).then(
        (e) => events.set(id, e),
        () => undefined,
      ),
    ),
  )
  return orders.map((o) => {
    const e = events.get(o.event_id)
    return { ...o, timeZone: e?.venue.timezone, event: e && { starts_at: e.starts_at, venue: e.venue } }
  })
}

/** HeldCard is the fan's live hold, first on the page: the seats are not an order until paid. */
function HeldCard({ hold }: { hold: LiveHold }) {
  const left = useSecondsLeft(hold.expiresAt)
  return (
    <article aria-label="Seats held for you" className="mb-4 rounded-xl border border-amber-300 bg-amber-50 p-4 shadow-sm sm:p-6" data-testid="held-card">
      <div className="flex flex-wrap items-start justify-between gap-2">
        <div>
          <h2 className="text-lg font-semibold">{hold.eventName ?? 'Your held seats'}</h2>
          <p className="text-sm text-slate-800">
            {hold.seats === 1 ? '1 seat is' : `${hold.seats} seats are`} held for you, not yet paid:{' '}
            <span className="font-semibold tabular-nums" data-testid="held-card-left">{clock(left ?? 0)}</span> left to pay.
          </p>
        </div>
        <Badge tone="amber">Held</Badge>
      </div>
      <p className="mt-3">
        <Link href={`/holds/${hold.id}`} className="inline-flex min-h-11 items-center rounded-lg bg-indigo-700 px-4 text-sm font-semibold text-white hover:bg-indigo-800">
          Pay at checkout →
        </Link>
      </p>
    </article>
  )
}

function OrderCard({ order, token, onChanged }: { order: ZonedOrder; token: string; onChanged: () => void }) {
  const [confirming, setConfirming] = useState(false)
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<unknown>(null)
  const attempt = useRef(new Attempt())
  const canceled = order.status === 'canceled'

  async function cancel() {
    setBusy(true)
    setError(null)
    try {
      await withRetries(attempt.current, { cancel: order.id }, (key) => api.cancelOrder(order.id, token, key))
      setConfirming(false)
      onChanged()
    } catch (err) {
      setError(err)
    } finally {
      setBusy(false)
    }
  }

  return (
    <Card as="article" aria-label={`Order for ${order.event_name}`} data-order-id={order.id}>
      <div className="flex flex-wrap items-start justify-between gap-2">
        <div>
          <h2 className="text-lg font-semibold">{order.event_name}</h2>
          {order.event && (
            <p className="text-sm text-slate-700" data-testid="order-event">
              {[order.event.venue.name, order.event.venue.city].filter(Boolean).join(', ')} · {dateTime(order.event.starts_at, order.timeZone)}
            </p>
          )}
          <p className="text-sm text-slate-600">
            Ordered {dateTime(order.created_at, order.timeZone)} · <span className="font-mono text-xs">{order.id.slice(0, 8)}</span>
          </p>
        </div>
        {canceled ? <Badge tone="red">Canceled</Badge> : <Badge tone="green">Confirmed</Badge>}
      </div>
      <ul className="mt-3 grid gap-2 sm:grid-cols-2">
        {order.tickets.map((t) => (
          <li key={t.id} className={`rounded-lg border border-dashed p-3 text-sm ${canceled ? 'border-slate-200 text-slate-500 line-through' : 'border-indigo-300 bg-indigo-50/50'}`}>
            <span className="block font-semibold">
              Section {t.section}, row {t.row}, seat {t.number}
            </span>
            <span className="block tabular-nums text-slate-600">{money(t.price_cents, order.currency)}</span>
          </li>
        ))}
      </ul>
      <div className="mt-3 flex flex-wrap items-center justify-between gap-2">
        <p className="font-semibold tabular-nums">Total {money(order.total_cents, order.currency)}</p>
        {!canceled && !confirming && (
          <Button variant="danger" onClick={() => setConfirming(true)}>
            Cancel order
          </Button>
        )}
        {canceled && order.canceled_at && <p className="text-sm text-slate-600">Canceled {dateTime(order.canceled_at, order.timeZone)}</p>}
      </div>
      {confirming && (
        <div className="mt-3 rounded-lg bg-red-50 p-3 text-sm text-red-900" role="group" aria-label="Confirm cancellation">
          <p>Cancel this order? Your seats go back on sale and you are refunded.</p>
          <div className="mt-2 flex gap-2">
            <Button variant="danger" onClick={cancel} busy={busy}>
              Yes, cancel the order
            </Button>
            <Button variant="secondary" onClick={() => setConfirming(false)} disabled={busy}>
              Keep it
            </Button>
          </div>
        </div>
      )}
      {error !== null && <div className="mt-3"><ErrorNotice error={error} title="We could not cancel the order" /></div>}
    </Card>
  )
}
