import { useEffect, useRef, useState, type FormEvent } from 'react'
import { api, ApiError, type Hold, type Order, type PaymentToken } from '../lib/api'
import { clock, dateTime, money } from '../lib/format'
import { useDocumentTitle, useLoad, useSecondsLeft } from '../lib/hooks'
import { Attempt, withRetries } from '../lib/idempotency'
import { navigate } from '../lib/router'
import { Link } from '../components/Link'
import { session, useSession } from '../lib/session'
import { Button, Card, ErrorNotice, Loading, Notice, PageTitle } from '../components/ui'

const payments: { token: PaymentToken; label: string; hint: string }[] = [
  { token: 'tok_visa', label: 'Visa ending 4242', hint: 'Test card: the payment goes through.' },
  { token: 'tok_declined', label: 'Mastercard ending 0002', hint: 'Test card: the bank declines it.' },
  { token: 'tok_timeout', label: 'Amex ending 0005', hint: 'Test card: the bank never answers.' },
]

export function CheckoutPage({ holdId }: { holdId: string }) {
  const auth = useSession()
  const [hold, reload] = useLoad((signal) => (auth ? api.getHold(holdId, auth.token, signal) : Promise.reject(new Error('Sign in to see your hold.'))), [holdId, auth?.token])
  const [order, setOrder] = useState<Order | null>(null)
  useDocumentTitle(order ? 'Order confirmed' : 'Checkout')

  if (!auth) {
    return (
      <>
        <PageTitle>Checkout</PageTitle>
        <Notice title="Sign in first">
          <Link href={`/signin?next=${encodeURIComponent(`/holds/${holdId}`)}`} className="underline">
            Sign in
          </Link>{' '}
          to finish your order.
        </Notice>
      </>
    )
  }
  if (order) return <Confirmed order={order} />
  if (hold.state === 'error' && !hold.data) {
    return (
      <>
        <PageTitle>Checkout</PageTitle>
        <ErrorNotice error={hold.error} title="We could not load your hold" action={<Button variant="secondary" onClick={reload}>Try again</Button>} />
      </>
    )
  }
  if (!hold.data) return <Loading what="your seats" />
  return <Checkout hold={hold.data} token={auth.token} onOrder={setOrder} onChanged={reload} />
}

function Checkout({ hold, token, onOrder, onChanged }: { hold: Hold; token: string; onOrder: (o: Order) => void; onChanged: () => void }) {
  const [payment, setPayment] = useState<PaymentToken>('tok_visa')
  const [busy, setBusy] = useState<'pay' | 'release' | null>(null)
  const [error, setError] = useState<unknown>(null)
  const attempt = useRef(new Attempt())
  const left = useSecondsLeft(hold.expires_at)
  const expired = hold.status === 'expired' || (hold.status === 'active' && left !== null && left <= 0)
  const [confirmRelease, setConfirmRelease] = useState(false)
  const [ev] = useLoad((signal) => api.event(hold.event_id, signal), [hold.event_id])
  const live = hold.status === 'active' && !expired
  useEffect(() => {
    if (!live) session.forgetHold(hold.id)
  }, [live, hold.id])

  async function pay(e: FormEvent) {
    e.preventDefault()
    setBusy('pay')
    setError(null)
    try {
      const body = { payment_token: payment }
      // A bank that did not answer is left to the fan: paying again (same
      // card, same key) is safe, but waiting it out three times is not kind.
      const o = await withRetries(attempt.current, body, (key) => api.confirmHold(hold.id, token, key, payment), {
        retry: (err) => !(err instanceof ApiError && err.code === 'payment_timeout'),
      })
      session.forgetAdmission(hold.event_id)
      session.forgetHold(hold.id)
      onOrder(o)
    } catch (err) {
      setError(err)
      if (err instanceof ApiError && (err.code === 'hold_expired' || err.code === 'hold_not_active')) onChanged()
    } finally {
      setBusy(null)
    }
  }

  async function release() {
    setBusy('release')
    setError(null)
    try {
      await api.releaseHold(hold.id, token)
      session.forgetHold(hold.id)
      navigate(`/events/${hold.event_id}/seats`)
    } catch (err) {
      setError(err)
      setBusy(null)
    }
  }

  return (
    <>
      <PageTitle sub={<>{ev.data && <span className="block font-medium text-slate-800">{ev.data.name} · {dateTime(ev.data.starts_at, ev.data.venue.timezone)} · {ev.data.venue.name}</span>}{live ? 'Your seats are held for you while you pay.' : 'These seats are no longer held for you.'}</>}>Checkout</PageTitle>
      <div className="grid items-start gap-6 lg:grid-cols-[1fr_22rem]">
        <Card>
          <h2 className="text-lg font-semibold">Your seats</h2>
          <ul className="mt-3 divide-y divide-slate-100" data-testid="held-seats">
            {hold.seats.map((s) => (
              <li key={s.id} className="flex justify-between py-2 text-sm">
                <span>
                  Section {s.section}, row {s.row}, seat {s.number}
                </span>
                <span className="tabular-nums">{money(s.price_cents, hold.currency)}</span>
              </li>
            ))}
          </ul>
          <p className="mt-2 flex justify-between border-t border-slate-200 pt-3 text-base font-semibold">
            <span>Total</span>
            <span className="tabular-nums" data-testid="hold-total">
              {money(hold.total_cents, hold.currency)}
            </span>
          </p>
        </Card>
        <div className="space-y-4">
          {hold.status === 'active' && !expired && (
            <p role="timer" aria-live="off" className={`rounded-lg px-4 py-3 text-center font-semibold ${left !== null && left < 60 ? 'bg-red-100 text-red-900' : 'bg-indigo-50 text-indigo-900'}`}>
              Held for <span className="tabular-nums" data-testid="hold-left">{clock(left ?? 0)}</span>
            </p>
          )}
          {expired && (
            <Notice tone="warning" title="Your hold has expired">
              The seats went back on sale.{' '}
              <Link href={`/events/${hold.event_id}/seats`} className="underline">
                Choose again
              </Link>
            </Notice>
          )}
          {hold.status === 'released' && <Notice title="You released these seats" />}
          {hold.status === 'confirmed' && (
            <Notice tone="success" title="Already paid">
              <Link href="/orders" className="underline">
                See your orders
              </Link>
            </Notice>
          )}
          {error !== null && <PaymentError error={error} />}
          {hold.status === 'active' && !expired && (
            <Card>
              <form onSubmit={pay}>
                <fieldset>
                  <legend className="text-lg font-semibold">Payment</legend>
                  <div className="mt-3 space-y-2">
                    {payments.map((p) => (
                      <label key={p.token} className={`flex min-h-11 cursor-pointer gap-3 rounded-lg border p-3 text-sm ${payment === p.token ? 'border-indigo-600 bg-indigo-50' : 'border-slate-200'}`}>
                        <input type="radio" name="payment" value={p.token} checked={payment === p.token} onChange={() => setPayment(p.token)} className="mt-0.5 size-4 accent-indigo-700" />
                        <span>
                          <span className="block font-medium">{p.label}</span>
                          <span className="block text-xs text-slate-600">{p.hint}</span>
                        </span>
                      </label>
                    ))}
                  </div>
                </fieldset>
                <Button type="submit" className="mt-4 w-full" busy={busy === 'pay'} disabled={busy !== null}>
                  Pay {money(hold.total_cents, hold.currency)}
                </Button>
              </form>
              {confirmRelease ? (
                <div className="mt-3 rounded-lg bg-slate-50 p-3 text-sm" role="group" aria-label="Release these seats?">
                  <p>Release these seats? They go back on sale at once and you may not get them again.</p>
                  <div className="mt-2 flex gap-2">
                    <Button variant="danger" onClick={release} busy={busy === 'release'} disabled={busy !== null}>
                      Yes, release them
                    </Button>
                    <Button variant="secondary" onClick={() => setConfirmRelease(false)} disabled={busy !== null}>
                      Keep my seats
                    </Button>
                  </div>
                </div>
              ) : (
                <Button variant="ghost" className="mt-2 w-full" onClick={() => setConfirmRelease(true)} disabled={busy !== null}>
                  Release these seats
                </Button>
              )}
            </Card>
          )}
        </div>
      </div>
    </>
  )
}

function PaymentError({ error }: { error: unknown }) {
  if (error instanceof ApiError && error.code === 'payment_declined') {
    return (
      <Notice tone="error" title="Your card was declined">
        Nothing was charged and your seats are still held. Choose another card.
      </Notice>
    )
  }
  if (error instanceof ApiError && error.code === 'payment_timeout') {
    return (
      <Notice tone="warning" title="The bank did not answer in time">
        Your seats are still held. Paying again is safe: you will never be charged twice.
      </Notice>
    )
  }
  return <ErrorNotice error={error} title="Payment did not go through" />
}

function Confirmed({ order }: { order: Order }) {
  return (
    <>
      <PageTitle sub={order.event_name}>You're going!</PageTitle>
      <Card>
        <Notice tone="success" title="Order confirmed" live>
          A confirmation email with your tickets is on its way.
        </Notice>
        <ul className="mt-4 divide-y divide-slate-100" data-testid="order-tickets">
          {order.tickets.map((t) => (
            <li key={t.id} className="flex justify-between py-2 text-sm">
              <span>
                Section {t.section}, row {t.row}, seat {t.number}
              </span>
              <span className="tabular-nums">{money(t.price_cents, order.currency)}</span>
            </li>
          ))}
        </ul>
        <p className="mt-2 flex justify-between border-t border-slate-200 pt-3 font-semibold">
          <span>Paid</span>
          <span className="tabular-nums">{money(order.total_cents, order.currency)}</span>
        </p>
        <p className="mt-4">
          <Link href="/orders" className="font-medium text-indigo-700 underline">
            See all your orders
          </Link>
        </p>
      </Card>
    </>
  )
}
