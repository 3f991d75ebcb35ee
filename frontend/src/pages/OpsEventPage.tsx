import { useEffect, useRef, useState, type FormEvent } from 'react'
import { api, type AdmissionSettings, type AdmissionStats } from '../lib/api'
import { count, dateTime, duration, timeOfDay } from '../lib/format'
import { useDocumentTitle, useLoad, usePolled, useSecondsLeft } from '../lib/hooks'
import { Link } from '../components/Link'
import { WaitingRoomBadge } from '../components/EventBits'
import type { Session } from '../lib/session'
import { Button, Card, ErrorNotice, Field, Loading, Notice, PageTitle, Stat } from '../components/ui'
import { OpsGate } from './OpsGate'
import { OpsCharts } from '../components/OpsCharts'

/** How often the console refreshes the live figures. */
export const statsRefreshMs = 2_000

export function OpsEventPage({ eventId }: { eventId: number }) {
  return <OpsGate next={`/ops/events/${eventId}`}>{(s) => <EventConsole eventId={eventId} auth={s} />}</OpsGate>
}

function EventConsole({ eventId, auth }: { eventId: number; auth: Session }) {
  const [ev] = useLoad((signal) => api.event(eventId, signal), [eventId])
  useDocumentTitle(ev.data ? `Ops · ${ev.data.name}` : 'Ops console')
  return (
    <>
      <p className="mb-2 text-sm">
        <Link href="/ops" className="text-indigo-700 underline">
          ← All events
        </Link>
      </p>
      <PageTitle sub={ev.data ? `${ev.data.venue.name} · sale opens ${dateTime(ev.data.sale_opens_at, ev.data.venue.timezone)}` : undefined}>
        {ev.data?.name ?? `Event ${eventId}`}
      </PageTitle>
      {ev.state === 'error' && <ErrorNotice error={ev.error} />}
      <div className="grid items-start gap-6 lg:grid-cols-[1fr_22rem]">
        <div className="min-w-0 space-y-6">
          <LiveStats eventId={eventId} token={auth.token} />
          <OpsCharts eventId={eventId} token={auth.token} />
        </div>
        <AdmissionForm eventId={eventId} token={auth.token} opensAt={ev.data?.sale_opens_at} />
      </div>
    </>
  )
}

function LiveStats({ eventId, token }: { eventId: number; token: string }) {
  const { value: stats, error, okAt } = usePolled((signal) => api.stats(eventId, token, signal), statsRefreshMs, [eventId, token])

  return (
    <Card>
      <div className="flex items-center justify-between">
        <h2 className="text-lg font-semibold">Live figures</h2>
        <span className="text-xs text-slate-600">every {statsRefreshMs / 1000} s</span>
      </div>
      {error !== null && stats && okAt !== null && (
        <div className="mt-3" data-testid="stats-stale">
          <Notice tone="warning" title={`Stale: these figures are from ${timeOfDay(okAt)}`} live>
            The last refresh failed; we keep trying every {statsRefreshMs / 1000} s.
          </Notice>
        </div>
      )}
      {error !== null && !stats && <div className="mt-3"><ErrorNotice error={error} title="We could not load the figures" /></div>}
      {!stats && error === null && <Loading what="figures" />}
      {stats && (
        <>
          <p className="mt-3 flex items-center gap-2 text-sm text-slate-700" data-testid="room-state">
            Waiting room: <WaitingRoomBadge state={stats.state} />
          </p>
          {stats.sold_out && (
            <div className="mt-3">
              <Notice tone="warning" title="Sold out: nobody is being admitted" live>
                Every seat is held or sold. Waiting fans keep their places; admission resumes in queue order as soon as a seat comes back (an unpaid
                hold expires, a hold is released, an order is canceled).
              </Notice>
            </div>
          )}
          <dl className="mt-4 grid grid-cols-2 gap-3 sm:grid-cols-4" data-testid="stats">
            <Stat label="In queue" value={count(stats.queue_length)} />
            <Stat label="Pre-queue" value={count(stats.prequeue_length)} />
            <Stat label="Active buyers" value={count(stats.active)} />
            <Stat label="Admitted total" value={count(stats.admitted_total)} />
            <Stat label="Rate set" value={`${stats.rate_per_second}/s`} />
            <Stat label="Rate measured" value={`${stats.measured_rate_per_second.toFixed(1)}/s`} />
            <Stat label="Abandoned" value={count(stats.abandoned)} />
            <Stat label="Wait at back" value={stats.eta_back_seconds === null || stats.paused ? '—' : duration(stats.eta_back_seconds)} hint={stalled(stats)} />
          </dl>
          {stats.draw_seed && (
            <p className="mt-3 break-all text-sm text-slate-700">
              Draw seed: <code className="rounded bg-slate-100 px-1">{stats.draw_seed}</code>
            </p>
          )}
        </>
      )}
    </Card>
  )
}

/** stalled says why the queue does not move, if it does not. */
function stalled(s: AdmissionStats): string | undefined {
  if (s.sold_out) return s.paused ? 'sold out and paused' : 'sold out'
  return s.paused ? 'paused' : undefined
}

function AdmissionForm({ eventId, token, opensAt }: { eventId: number; token: string; opensAt?: string }) {
  const [saved, setSaved] = useState<AdmissionSettings | null>(null)
  const [form, setForm] = useState<AdmissionSettings | null>(null)
  const [error, setError] = useState<unknown>(null)
  const [loadError, setLoadError] = useState<unknown>(null)
  const [busy, setBusy] = useState(false)
  const beforeSale = (useSecondsLeft(opensAt) ?? 0) > 0
  const [message, setMessage] = useState<string | null>(null)
  const dirty = useRef(false)

  // Auto mode moves the rate by itself: follow it while the form is untouched.
  useEffect(() => {
    let stop = false
    const load = () =>
      api.admission(eventId, token).then(
        (s) => {
          if (stop) return
          setLoadError(null)
          setSaved(s)
          if (!dirty.current) setForm(s)
        },
        (err) => !stop && setLoadError(err),
      )
    void load()
    const t = setInterval(load, 5_000)
    return () => {
      stop = true
      clearInterval(t)
    }
  }, [eventId, token])

  async function save(next: AdmissionSettings) {
    setBusy(true)
    setError(null)
    setMessage(null)
    try {
      const s = await api.setAdmission(eventId, token, next)
      dirty.current = false
      setSaved(s)
      setForm(s)
      setMessage(s.paused ? 'Saved: admission is paused.' : `Saved: admitting ${s.rate_per_second}/s, at most ${count(s.max_active)} active.`)
    } catch (err) {
      setError(err)
    } finally {
      setBusy(false)
    }
  }

  function edit(patch: Partial<AdmissionSettings>) {
    dirty.current = true
    setForm((f) => (f ? { ...f, ...patch } : f))
  }

  function submit(e: FormEvent) {
    e.preventDefault()
    if (form) void save(form)
  }

  return (
    <Card>
      <h2 className="text-lg font-semibold">Admission</h2>
      {!form && error === null && <Loading what="settings" />}
      {error !== null && <div className="mt-3"><ErrorNotice error={error} title="Admission settings" /></div>}
      {loadError !== null && <div className="mt-3"><ErrorNotice error={loadError} title="Could not refresh the settings; retrying" /></div>}
      {message && <div className="mt-3"><Notice tone="success" live>{message}</Notice></div>}
      {form && saved && (
        <>
          <div className="mt-3 flex items-center justify-between gap-2 rounded-lg bg-slate-50 p-3">
            <span className="text-sm" data-testid="admission-state">
              {saved.paused ? 'Admission is paused' : beforeSale ? 'Admission starts when the sale opens' : 'Admission is running'}
            </span>
            {/* Pause and Resume save what the form shows: a rate typed and not yet saved is kept, not reset. */}
            <Button variant={saved.paused ? 'primary' : 'danger'} busy={busy} onClick={() => save({ ...(dirty.current && form ? form : saved), paused: !saved.paused })}>
              {saved.paused ? 'Resume' : 'Pause'}
            </Button>
          </div>
          <form onSubmit={submit} className="mt-4 space-y-3">
            <Field
              label="Rate (fans per second)"
              type="number"
              min={0.01}
              max={100000}
              step="any"
              required
              value={form.rate_per_second}
              onChange={(e) => edit({ rate_per_second: Number(e.target.value) })}
              hint={form.auto ? 'Auto mode adjusts this from the booker’s latency and errors.' : undefined}
            />
            <Field label="Max active buyers" type="number" min={1} max={1000000} step={1} required value={form.max_active} onChange={(e) => edit({ max_active: Number(e.target.value) })} />
            <label className="flex min-h-11 items-center gap-2 text-sm">
              <input type="checkbox" checked={form.paused} onChange={(e) => edit({ paused: e.target.checked })} className="size-5 accent-indigo-700" />
              Paused
            </label>
            <label className="flex min-h-11 items-center gap-2 text-sm">
              <input type="checkbox" checked={form.auto} onChange={(e) => edit({ auto: e.target.checked })} className="size-5 accent-indigo-700" />
              Auto (raise the rate while the booker is healthy)
            </label>
            <Button type="submit" busy={busy} className="w-full">
              Save settings
            </Button>
          </form>
        </>
      )}
    </Card>
  )
}
