import { useCallback, useEffect, useRef, useState } from 'react'
import { api, ApiError, type Event, type ExpiredReason, type QueueStatus } from '../lib/api'
import { clock, count, dateTime, eta, timeOfDay } from '../lib/format'
import { useNow, usePageHidden, useSecondsLeft } from '../lib/hooks'
import { Poller } from '../lib/poller'
import { queueProgress, queueStall, type Stall } from '../lib/queue'
import { navigate } from '../lib/router'
import { Link } from './Link'
import { useSaleState } from '../lib/sale'
import { session, type Session } from '../lib/session'
import { Button, ErrorNotice, Notice, Spinner, Stat } from './ui'

type Phase =
  | { kind: 'checking' }
  | { kind: 'out' }
  | { kind: 'in'; status: QueueStatus }

const startKey = (eventId: number) => `tv.queue-start.${eventId}`

function readFirstAhead(eventId: number): number | null {
  try {
    const v = sessionStorage.getItem(startKey(eventId))
    return v === null ? null : Number(v)
  } catch {
    return null
  }
}

function writeFirstAhead(eventId: number, ahead: number | null) {
  try {
    if (ahead === null) sessionStorage.removeItem(startKey(eventId))
    else sessionStorage.setItem(startKey(eventId), String(ahead))
  } catch {
    // Progress then restarts from the next position seen.
  }
}

/**
 * WaitingRoom is the fan's place in an event's queue: join, live position,
 * the pre-queue draw, admission. It polls no faster than the server's
 * poll_after_ms and rides out failed polls with a calm notice.
 */
export function WaitingRoom({ event, auth, onStatus }: { event: Event; auth: Session | null; onStatus?: (status: QueueStatus | null) => void }) {
  const [phase, setPhase] = useState<Phase>({ kind: auth ? 'checking' : 'out' })
  const [pollError, setPollError] = useState<{ err: unknown; failures: number; retryAt: number } | null>(null)
  const [actionError, setActionError] = useState<unknown>(null)
  const [busy, setBusy] = useState<'join' | 'leave' | null>(null)
  const [firstAhead, setFirstAhead] = useState<number | null>(() => readFirstAhead(event.id))
  const pollerRef = useRef<Poller<QueueStatus> | null>(null)
  // A turn that comes while this page watches takes the fan to the seats;
  // a fan who comes back to the event page while admitted stays here.
  const waited = useRef(false)
  const [updatedAt, setUpdatedAt] = useState<number | null>(null)
  const [confirmLeave, setConfirmLeave] = useState(false)
  const hidden = usePageHidden()
  const token = auth?.token

  const apply = useCallback(
    (st: QueueStatus) => {
      setPhase({ kind: 'in', status: st })
      setUpdatedAt(Date.now())
      if (st.state === 'waiting' && st.ahead !== undefined) {
        setFirstAhead((f) => {
          if (f !== null && f >= st.ahead!) return f
          writeFirstAhead(event.id, st.ahead!)
          return st.ahead!
        })
      }
      if (st.state === 'admitted' && st.admission_token && st.admission_expires_at) {
        session.saveAdmission(event.id, { token: st.admission_token, expiresAt: st.admission_expires_at })
        if (waited.current) {
          waited.current = false
          chime()
          navigate(`/events/${event.id}/seats`)
        }
      }
      if (st.state === 'prequeue' || st.state === 'waiting') waited.current = true
      if (st.state === 'expired') session.forgetAdmission(event.id)
      // Admitted and expired are final for this visit: the countdown runs locally.
      return st.state === 'prequeue' || st.state === 'waiting'
    },
    [event.id],
  )

  useEffect(() => {
    if (!token) {
      setPhase({ kind: 'out' })
      return
    }
    const p = new Poller<QueueStatus>({
      poll: (signal) => api.queueStatus(event.id, token, signal),
      pollAfter: (st) => st.poll_after_ms,
      onValue: (st) => {
        setPollError(null)
        return apply(st)
      },
      onError: (err, failures) => {
        if (err instanceof ApiError && err.code === 'not_in_queue') {
          setPollError(null)
          setPhase({ kind: 'out' })
          return false
        }
        if (err instanceof ApiError && err.status === 401) {
          session.signOut()
          return false
        }
        setPollError({ err, failures, retryAt: 0 })
        return true
      },
      isHidden: () => document.visibilityState === 'hidden',
    })
    pollerRef.current = p
    p.start()
    return () => {
      p.stop()
      pollerRef.current = null
    }
  }, [event.id, token, apply])

  // Catch up as soon as the tab is back (never before poll_after_ms).
  useEffect(() => {
    pollerRef.current?.visibilityChanged()
  }, [hidden])

  // Show when the next retry comes while polls fail.
  useEffect(() => {
    if (pollError && pollError.retryAt === 0 && pollerRef.current) {
      setPollError({ ...pollError, retryAt: pollerRef.current.nextPollAt })
    }
  }, [pollError])

  async function join() {
    if (!token) return
    setBusy('join')
    setActionError(null)
    waited.current = true
    try {
      const st = await api.joinQueue(event.id, token)
      writeFirstAhead(event.id, null)
      setFirstAhead(null)
      const p = pollerRef.current
      if (apply(st) && p) {
        p.primed(st.poll_after_ms)
        p.start()
      }
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) session.signOut()
      setActionError(err)
    } finally {
      setBusy(null)
    }
  }

  async function leave() {
    if (!token) return
    setBusy('leave')
    setActionError(null)
    try {
      await api.leaveQueue(event.id, token)
      setConfirmLeave(false)
      pollerRef.current?.stop()
      session.forgetAdmission(event.id)
      writeFirstAhead(event.id, null)
      setFirstAhead(null)
      setPhase({ kind: 'out' })
    } catch (err) {
      setActionError(err)
    } finally {
      setBusy(null)
    }
  }

  const status = phase.kind === 'in' ? phase.status : null
  const admitted = status?.state === 'admitted'
  const stall = status?.state === 'waiting' ? queueStall(status, event.waiting_room?.state) : null

  // The page around shows figures the fan's own place must not contradict.
  useEffect(() => {
    onStatus?.(status)
  }, [onStatus, status])

  // A background tab learns of its turn from the title.
  useEffect(() => {
    if (!admitted) return
    const before = document.title
    document.title = `Your turn! · ${event.name}`
    return () => {
      document.title = before
    }
  }, [admitted, event.name])

  return (
    <section aria-labelledby="wr-title" className="rounded-xl border border-slate-200 bg-white p-4 shadow-sm sm:p-6">
      <h2 id="wr-title" className="text-lg font-semibold">
        Waiting room
      </h2>
      <p className="sr-only" role="status">
        {status ? announce(status, stall) : ''}
      </p>
      <div className="mt-3 space-y-4">
        {actionError !== null && <ErrorNotice error={actionError} />}
        {pollError && <PollTrouble failures={pollError.failures} retryAt={pollError.retryAt} />}
        {!auth && <SignedOut event={event} />}
        {auth && phase.kind === 'checking' && (
          <p className="text-slate-600" role="status">
            <Spinner label="Checking your place…" />
          </p>
        )}
        {auth && phase.kind === 'out' && <JoinPanel event={event} busy={busy === 'join'} onJoin={join} />}
        {status?.state === 'prequeue' && <PreQueue event={event} status={status} />}
        {status?.state === 'waiting' && stall && <Waiting status={status} progress={queueProgress(firstAhead, status.ahead)} stall={stall} />}
        {status?.state === 'admitted' && <Admitted event={event} status={status} />}
        {status?.state === 'expired' && (
          <Notice tone={status.reason === 'done' ? 'info' : 'warning'} title={(status.reason && ended[status.reason]?.[0]) || 'Your turn has passed'}>
            <p>{(status.reason && ended[status.reason]?.[1]) || 'Your place in the queue has ended.'} You can join the queue again at the back.</p>
            <div className="mt-2">
              <Button onClick={join} busy={busy === 'join'}>
                Join again
              </Button>
            </div>
          </Notice>
        )}
        {/* Only a place that is still polled has a last update: admitted and
            expired are final for this visit, so their age would only grow. */}
        {(status?.state === 'prequeue' || status?.state === 'waiting') && updatedAt !== null && <Updated at={updatedAt} />}
        {status && status.state !== 'expired' &&
          (confirmLeave ? (
            <div className="rounded-lg border border-red-200 bg-red-50 p-3 text-sm text-red-950" role="group" aria-label="Leave the queue?">
              <p className="font-semibold">Leave the queue and give up your place?</p>
              <p className="mt-1">If you change your mind you join again at the back.</p>
              <div className="mt-2 flex flex-wrap gap-2">
                <Button variant="danger" onClick={leave} busy={busy === 'leave'}>
                  Yes, leave
                </Button>
                <Button variant="secondary" onClick={() => setConfirmLeave(false)}>
                  Stay in the queue
                </Button>
              </div>
            </div>
          ) : (
            <Button variant="ghost" onClick={() => setConfirmLeave(true)}>
              Leave the queue
            </Button>
          ))}
      </div>
    </section>
  )
}

/** ended explains each reason the gateway gives for an expired place. */
const ended: Record<ExpiredReason, [string, string]> = {
  timeout: ['Your turn has passed', 'Your admission expired before you finished.'],
  done: ['Your turn is complete', 'You finished your turn: your order or released seats are settled.'],
  abandoned: ['We gave your place away', 'This page stopped checking in for over a minute, so your place went to the next fan.'],
}

const announcements: Record<QueueStatus['state'], string> = {
  prequeue: 'You are in the pre-queue.',
  waiting: 'You are in the queue.',
  admitted: "It's your turn. Choose your seats.",
  expired: 'Your turn has passed.',
}

/** announce is what the always-present live region says of the status. */
function announce(status: QueueStatus, stall: Stall | null): string {
  const base = announcements[status.state]
  if (stall?.soldOut) return `${base} Every seat is taken right now; your place is kept.`
  if (stall?.paused) return `${base} The queue is paused; your place is kept.`
  return base
}

function PollTrouble({ failures, retryAt }: { failures: number; retryAt: number }) {
  const left = useSecondsLeft(retryAt ? new Date(retryAt).toISOString() : null)
  return (
    <Notice tone="warning" title="Reconnecting…" live>
      <p>
        We could not reach the waiting room just now{failures > 1 ? ` (${failures} tries)` : ''}. Your place is kept while you stay on this page
        {left !== null && left > 0 ? `; trying again in ${Math.ceil(left)} s` : ''}.
      </p>
    </Notice>
  )
}

function SignedOut({ event }: { event: Event }) {
  const next = encodeURIComponent(`/events/${event.id}`)
  return (
    <div className="space-y-3">
      <p className="text-slate-700">Sign in to take your place in the queue. One place per account.</p>
      <div className="flex flex-wrap gap-2">
        <Button onClick={() => navigate(`/signin?next=${next}`)}>Sign in to join</Button>
        <Link href={`/register?next=${next}`} className="inline-flex min-h-11 items-center rounded-lg px-4 text-sm font-semibold text-indigo-700 underline">
          Create an account
        </Link>
      </div>
    </div>
  )
}

function JoinPanel({ event, busy, onJoin }: { event: Event; busy: boolean; onJoin: () => void }) {
  const sale = useSaleState(event)
  const before = sale === 'upcoming'
  // No seat free may be only for now: held seats come back when their holds
  // expire unpaid, sold ones when orders are canceled, in queue order.
  const soldOut = sale === 'sold_out'
  return (
    <div className="space-y-3">
      <p className="text-slate-700">
        {before
          ? 'Join now: everyone in the pre-queue when the sale opens gets a random place in the queue, so there is no need to rush at the last second.'
          : soldOut
            ? 'Every seat is held or sold right now. Unpaid holds expire and canceled orders free their seats: join the queue to be let in, in order, if seats come back.'
            : 'The sale is open. Join to get the next place in the queue; fans are let in first come, first served.'}
      </p>
      <Button onClick={onJoin} busy={busy}>
        {before ? 'Join the pre-queue' : soldOut ? 'Join the queue for returns' : 'Join the queue'}
      </Button>
    </div>
  )
}

function PreQueue({ event, status }: { event: Event; status: QueueStatus }) {
  const opensAt = status.sale_opens_at || event.sale_opens_at
  const left = useSecondsLeft(opensAt)
  const seed = event.waiting_room?.draw_seed
  return (
    <div className="space-y-3" data-queue-state="prequeue">
      <p className="text-xl font-semibold">You are in the pre-queue.</p>
      <p className="text-slate-700">
        When the sale opens{' '}
        {left !== null && left > 0 ? (
          <>
            in <span className="font-semibold tabular-nums">{clock(left)}</span> ({dateTime(opensAt, event.venue.timezone)})
          </>
        ) : (
          'any moment now'
        )}
        , everyone in the pre-queue is shuffled into a random order: a fair draw, so joining earlier gives no edge and leaving this page open costs
        nothing. After the draw, you see your place and how many people are ahead of you.
      </p>
      <details className="rounded-lg bg-slate-50 p-3 text-sm text-slate-700">
        <summary className="cursor-pointer font-medium">How is the draw fair?</summary>
        <p className="mt-2">
          At the opening, the system draws a random seed and orders the pre-queue by it. The seed is published here after the opening, so anyone
          can recompute the order and check that nobody was moved.
        </p>
        {seed && (
          <p className="mt-2 break-all">
            Draw seed: <code className="rounded bg-white px-1">{seed}</code>
          </p>
        )}
      </details>
    </div>
  )
}

function Waiting({ status, progress, stall }: { status: QueueStatus; progress: number; stall: Stall }) {
  const pct = Math.round(progress * 100)
  return (
    <div className="space-y-4" data-queue-state="waiting">
      <p className="text-xl font-semibold">You are in the queue.</p>
      <dl className="grid grid-cols-2 gap-3">
        <Stat label="Your place" value={status.position !== undefined ? count(status.position) : '—'} />
        <Stat label="People ahead" value={status.ahead !== undefined ? count(status.ahead) : '—'} />
        {!stall.soldOut && !stall.paused && (
          <div className="col-span-2">
            <Stat label="Estimated wait" value={eta(status.eta_seconds)} />
          </div>
        )}
      </dl>
      {/* While the queue stands still there is no wait to estimate: the notice says why instead. */}
      {stall.soldOut ? <SoldOut paused={stall.paused} /> : stall.paused && <Paused />}
      <div>
        <div className="flex justify-between text-xs text-slate-600">
          <span id="wr-progress-label">Progress to the front</span>
          <span aria-hidden="true">{pct}%</span>
        </div>
        <div
          role="progressbar"
          aria-labelledby="wr-progress-label"
          aria-valuemin={0}
          aria-valuemax={100}
          aria-valuenow={pct}
          className="mt-1 h-3 overflow-hidden rounded-full bg-slate-200"
        >
          <div className="h-full rounded-full bg-indigo-600 transition-[width] duration-700" style={{ width: `${Math.max(2, pct)}%` }} />
        </div>
      </div>
      <p className="rounded-lg border border-indigo-200 bg-indigo-50 px-3 py-2 text-sm font-medium text-indigo-950">
        Keep this page open and do not refresh: it updates by itself, and takes you to the seats when it is your turn. Away for more than a minute,
        your turn may be skipped.
      </p>
    </div>
  )
}

function SoldOut({ paused }: { paused: boolean }) {
  return (
    <div data-testid="queue-sold-out">
      <Notice tone="warning" title="Sold out for now">
        <p>
          Every seat is held or sold right now. Keep your place: unpaid holds expire and the queue moves again as soon as seats come back.
          {paused && ' The organisers have also paused admission for a moment.'}
        </p>
      </Notice>
    </div>
  )
}

function Paused() {
  return (
    <Notice tone="info" title="The queue is paused for a moment">
      The organisers paused admission briefly. Your place is kept; stay on this page.
    </Notice>
  )
}

function Admitted({ event, status }: { event: Event; status: QueueStatus }) {
  const left = useSecondsLeft(status.admission_expires_at)
  const over = left !== null && left <= 0
  return (
    <div className="space-y-3" data-queue-state="admitted">
      <Notice tone={over ? 'warning' : 'success'} title={over ? 'Your admission has expired' : "It's your turn!"}>
        {over ? (
          <p>Join the queue again to get another turn.</p>
        ) : (
          <p>
            Choose your seats within{' '}
            <span className="font-semibold tabular-nums" data-testid="admission-countdown">
              {clock(left ?? 0)}
            </span>
            . Up to {event.max_tickets_per_fan} tickets.
          </p>
        )}
      </Notice>
      {!over && <Button onClick={() => navigate(`/events/${event.id}/seats`)}>Choose your seats</Button>}
    </div>
  )
}

/** Updated says when the place on screen was last confirmed by the server. */
function Updated({ at }: { at: number }) {
  const now = useNow()
  const ago = Math.max(0, Math.round((now - at) / 1000))
  return (
    <p className="text-xs text-slate-600" data-testid="queue-updated">
      Last updated {timeOfDay(at)} ({ago < 2 ? 'just now' : `${ago} s ago`})
    </p>
  )
}

/** chime plays a short tone for a turn that comes while the fan looks away; silent where the browser forbids it. */
function chime() {
  try {
    const ctx = new AudioContext()
    const osc = ctx.createOscillator()
    const gain = ctx.createGain()
    osc.frequency.value = 880
    gain.gain.setValueAtTime(0.15, ctx.currentTime)
    gain.gain.exponentialRampToValueAtTime(0.001, ctx.currentTime + 0.6)
    osc.connect(gain).connect(ctx.destination)
    osc.start()
    osc.stop(ctx.currentTime + 0.6)
    osc.onended = () => void ctx.close()
  } catch {
    // No audio: the title and the page change say it.
  }
}
