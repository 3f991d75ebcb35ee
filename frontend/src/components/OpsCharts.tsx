import { api, type OpsSample } from '../lib/api'
import { timeOfDay } from '../lib/format'
import { useNow, usePolled } from '../lib/hooks'
import { Card } from './ui'

/** How often the charts ask for the history: one sample. */
export const chartRefreshMs = 5_000
/** Past this without an answer the charts are marked stale. */
const staleAfterMs = 15_000

interface Series {
  label: string
  color: string
  value: (s: OpsSample) => number | null
}

interface ChartSpec {
  key: string
  title: string
  unit: string
  format: (v: number) => string
  series: Series[]
}

const perSecond = (v: number) => `${v < 10 ? v.toFixed(1) : Math.round(v)}/s`
const whole = (v: number) => Math.round(v).toLocaleString('en-GB')

// The figures an operator tunes admission by, each over the last 15 min.
const charts: ChartSpec[] = [
  { key: 'queue', title: 'Queue length', unit: 'fans', format: whole, series: [{ label: 'In queue', color: '#4338ca', value: (s) => s.queue_length }] },
  { key: 'admitted', title: 'Admitted', unit: 'fans/s', format: perSecond, series: [{ label: 'Admitted', color: '#4338ca', value: (s) => s.admitted_per_second }] },
  {
    key: 'holds',
    title: 'Holds by outcome',
    unit: 'holds/s',
    format: perSecond,
    series: [
      { label: '201 held', color: '#047857', value: (s) => s.holds_created_per_second },
      { label: '409 conflict', color: '#b91c1c', value: (s) => s.holds_conflict_per_second },
    ],
  },
  { key: 'orders', title: 'Orders', unit: 'orders/s', format: perSecond, series: [{ label: 'Orders', color: '#047857', value: (s) => s.orders_per_second }] },
  { key: 'p99', title: 'Booker p99 latency', unit: 'ms', format: (v) => `${v < 10 ? v.toFixed(1) : Math.round(v)} ms`, series: [{ label: 'p99', color: '#b45309', value: (s) => s.booker_p99_ms }] },
  {
    key: 'errors',
    title: 'Booker error ratio',
    unit: '% of holds and confirms',
    format: (v) => `${(v * 100).toFixed(v < 0.1 ? 1 : 0)}%`,
    series: [{ label: 'Errors', color: '#b91c1c', value: (s) => s.booker_error_ratio }],
  },
  { key: 'seats', title: 'Seats left', unit: 'seats', format: whole, series: [{ label: 'Seats left', color: '#4338ca', value: (s) => s.seats_left }] },
]

/**
 * OpsCharts draws the event's last 15 minutes from the server's history,
 * so a reloaded console shows them at once, and marks them stale when the
 * history stops coming.
 */
export function OpsCharts({ eventId, token }: { eventId: number; token: string }) {
  const { value: hist, okAt, error } = usePolled((signal) => api.statsHistory(eventId, token, signal), chartRefreshMs, [eventId, token])
  const failing = error !== null
  const now = useNow()

  const stale = okAt !== null && (failing || now - okAt > staleAfterMs)
  return (
    <Card>
      <div className="flex flex-wrap items-center justify-between gap-2">
        <h2 className="text-lg font-semibold">Last 15 minutes</h2>
        <span className="text-xs text-slate-600" data-testid="charts-updated">
          {stale ? (
            <span className="rounded bg-amber-100 px-2 py-0.5 font-semibold text-amber-950" data-testid="charts-stale" role="status">
              Stale: last updated {timeOfDay(okAt ?? 0)}
            </span>
          ) : okAt !== null ? (
            `5 s samples · updated ${timeOfDay(okAt)}`
          ) : failing ? (
            'We could not load the charts; retrying'
          ) : (
            'Loading…'
          )}
        </span>
      </div>
      {hist && (
        <div className={`mt-3 grid gap-4 sm:grid-cols-2 ${stale ? 'opacity-60' : ''}`}>
          {charts.map((c) => (
            <Chart key={c.key} spec={c} samples={hist.samples} />
          ))}
        </div>
      )}
    </Card>
  )
}

/** niceCeil rounds up to 1, 2 or 5 times a power of ten, for an axis. */
function niceCeil(v: number): number {
  if (!(v > 0)) return 1
  const p = 10 ** Math.floor(Math.log10(v))
  for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p
  return 10 * p
}

const W = 320
const H = 120
const left = 44
const bottom = 18

/** paths draws a series as line segments, broken where a sample is missing. */
function paths(values: (number | null)[], max: number): string {
  const x = (i: number) => left + (i / Math.max(1, values.length - 1)) * (W - left - 4)
  const y = (v: number) => 4 + (1 - v / max) * (H - bottom - 8)
  let d = ''
  let pen = false
  values.forEach((v, i) => {
    if (v === null) {
      pen = false
      return
    }
    d += `${pen ? 'L' : 'M'}${x(i).toFixed(1)},${y(v).toFixed(1)}`
    pen = true
  })
  return d
}

function Chart({ spec, samples }: { spec: ChartSpec; samples: OpsSample[] }) {
  const data = spec.series.map((s) => samples.map(s.value))
  const seen = data.flat().filter((v): v is number => v !== null)
  const max = niceCeil(Math.max(0, ...seen))
  const latest = (vals: (number | null)[]) => [...vals].reverse().find((v) => v !== null) ?? null
  const summary = spec.series
    .map((s, i) => {
      const l = latest(data[i])
      return `${s.label} ${l === null ? 'no data' : spec.format(l)}`
    })
    .join(', ')
  return (
    <figure data-testid={`chart-${spec.key}`} className="min-w-0">
      <figcaption className="flex flex-wrap items-baseline justify-between gap-x-2 text-sm">
        <span className="font-semibold text-slate-900">{spec.title}</span>
        <span className="text-xs text-slate-600">{spec.unit}</span>
      </figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} className="mt-1 h-auto w-full" role="img" aria-label={`${spec.title}, last 15 minutes, in ${spec.unit}: now ${summary}; axis up to ${spec.format(max)}`}>
        <g className="text-slate-600" fontSize="10" fill="currentColor">
          <text x={left - 4} y={10} textAnchor="end">
            {spec.format(max)}
          </text>
          <text x={left - 4} y={H - bottom} textAnchor="end">
            {spec.format(0)}
          </text>
          {['−15 min', '−10', '−5', 'now'].map((t, i) => (
            <text key={t} x={left + (i / 3) * (W - left - 4)} y={H - 4} textAnchor={i === 0 ? 'start' : i === 3 ? 'end' : 'middle'}>
              {t}
            </text>
          ))}
        </g>
        <line x1={left} y1={4} x2={left} y2={H - bottom - 4} stroke="#94a3b8" />
        <line x1={left} y1={H - bottom - 4} x2={W - 4} y2={H - bottom - 4} stroke="#94a3b8" />
        <line x1={left} y1={4} x2={W - 4} y2={4} stroke="#e2e8f0" strokeDasharray="3 3" />
        {spec.series.map((s, i) => (
          <path key={s.label} d={paths(data[i], max)} fill="none" stroke={s.color} strokeWidth="2" strokeLinejoin="round" />
        ))}
      </svg>
      <ul className="flex flex-wrap gap-x-4 text-xs text-slate-700">
        {spec.series.map((s, i) => {
          const vals = data[i].filter((v): v is number => v !== null)
          const peak = vals.length ? Math.max(...vals) : null
          const l = latest(data[i])
          return (
            <li key={s.label} data-series={s.label} data-peak={peak ?? ''} className="flex items-center gap-1">
              <span aria-hidden="true" className="inline-block h-0.5 w-3" style={{ background: s.color }} />
              {s.label}: {l === null ? '–' : spec.format(l)}
              {peak !== null && ` (peak ${spec.format(peak)})`}
            </li>
          )
        })}
      </ul>
    </figure>
  )
}
