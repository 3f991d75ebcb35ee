// The waiting-room poller. It asks for the fan's queue status no sooner than
// the server's poll_after_ms, backs off (with jitter, honouring Retry-After)
// while polls fail, slows down in a background tab without going quiet for
// longer than the abandonment grace period, and catches up as soon as the
// tab is visible again — but never earlier than the server allowed.

/** Hidden tabs poll at most this often; the server skips fans silent for 60 s. */
export const hiddenFloorMs = 20_000
/** The longest wait between attempts while polls keep failing. */
export const maxBackoffMs = 30_000
/** The first wait after a failure, doubled per further failure. */
export const firstBackoffMs = 1_000

export interface DelayInput {
  /** The last poll_after_ms the server sent (0 before the first answer). */
  pollAfterMs: number
  /** Consecutive failed polls. */
  failures: number
  hidden: boolean
  /** Seconds from a Retry-After of the last failure. */
  retryAfterS?: number
  /** A number in [0, 1) for jitter. */
  random: number
}

/** nextDelay is how long to wait before the next poll. */
export function nextDelay(i: DelayInput): number {
  let d = Math.max(0, i.pollAfterMs)
  if (i.failures > 0) {
    const backoff = Math.min(maxBackoffMs, firstBackoffMs * 2 ** (i.failures - 1))
    // Jitter spreads the retries of thousands of fans after a blip.
    d = Math.max(d, backoff * (1 + 0.25 * i.random))
    if (i.retryAfterS !== undefined) d = Math.max(d, i.retryAfterS * 1000)
  }
  if (i.hidden) d = Math.max(d, hiddenFloorMs)
  return Math.round(d)
}

export interface Clock {
  now(): number
  setTimeout(fn: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
  random(): number
}

export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (h) => globalThis.clearTimeout(h as ReturnType<typeof setTimeout>),
  random: () => Math.random(),
}

export interface PollerOptions<T> {
  /** poll fetches once; it must reject on failure. */
  poll: (signal: AbortSignal) => Promise<T>
  /** pollAfter reads the server's hint from an answer. */
  pollAfter: (value: T) => number
  /** onValue gets each answer; returning false stops polling. */
  onValue: (value: T) => boolean | void
  /** onError gets each failure; returning false stops polling. */
  onError: (err: unknown, failures: number) => boolean | void
  isHidden?: () => boolean
  clock?: Clock
}

/** Poller runs one poll at a time on the schedule above. */
export class Poller<T> {
  private readonly o: PollerOptions<T>
  private readonly clock: Clock
  private timer: unknown = null
  private inFlight: AbortController | null = null
  private stopped = true
  private pollAfterMs = 0
  private failures = 0
  private retryAfterS: number | undefined
  /** When the last poll started; the next may not start before it + pollAfterMs. */
  private lastStart = -Infinity
  private dueAt = 0

  constructor(o: PollerOptions<T>) {
    this.o = o
    this.clock = o.clock ?? realClock
  }

  /** start polls now (or when the last hint allows) and keeps going. */
  start(): void {
    if (!this.stopped) return
    this.stopped = false
    this.schedule(Math.max(0, this.lastStart + this.pollAfterMs - this.clock.now()))
  }

  /**
   * primed records an answer got outside the poller (the join's response), so
   * the first poll still waits out its poll_after_ms.
   */
  primed(pollAfterMs: number): void {
    this.lastStart = this.clock.now()
    this.pollAfterMs = Math.max(0, pollAfterMs || 0)
    this.failures = 0
  }

  stop(): void {
    this.stopped = true
    if (this.timer !== null) this.clock.clearTimeout(this.timer)
    this.timer = null
    this.inFlight?.abort()
    this.inFlight = null
  }

  get running(): boolean {
    return !this.stopped
  }

  /** nextPollAt is when the next poll is due (ms since epoch), for display. */
  get nextPollAt(): number {
    return this.dueAt
  }

  /**
   * visibilityChanged re-plans the next poll: a tab coming back polls as soon
   * as the server's hint allows instead of sleeping out the background delay.
   */
  visibilityChanged(): void {
    if (this.stopped || this.inFlight) return
    this.schedule(this.plannedDelay(this.clock.now()))
  }

  private plannedDelay(now: number): number {
    const d = nextDelay({
      pollAfterMs: this.pollAfterMs,
      failures: this.failures,
      hidden: this.o.isHidden?.() ?? false,
      retryAfterS: this.retryAfterS,
      random: this.clock.random(),
    })
    return Math.max(0, this.lastStart + d - now)
  }

  private schedule(ms: number) {
    if (this.timer !== null) this.clock.clearTimeout(this.timer)
    this.dueAt = this.clock.now() + ms
    this.timer = this.clock.setTimeout(() => {
      this.timer = null
      void this.tick()
    }, ms)
  }

  private async tick() {
    if (this.stopped) return
    const ctrl = new AbortController()
    this.inFlight = ctrl
    this.lastStart = this.clock.now()
    let keepGoing: boolean | void
    try {
      const v = await this.o.poll(ctrl.signal)
      if (ctrl.signal.aborted) return
      this.failures = 0
      this.retryAfterS = undefined
      this.pollAfterMs = Math.max(0, this.o.pollAfter(v) || 0)
      keepGoing = this.o.onValue(v)
    } catch (err) {
      if (ctrl.signal.aborted) return
      this.failures++
      const ra = (err as { retryAfter?: unknown })?.retryAfter
      this.retryAfterS = typeof ra === 'number' ? ra : undefined
      keepGoing = this.o.onError(err, this.failures)
    } finally {
      if (this.inFlight === ctrl) this.inFlight = null
    }
    if (keepGoing === false) {
      this.stop()
      return
    }
    if (!this.stopped) this.schedule(this.plannedDelay(this.clock.now()))
  }
}
