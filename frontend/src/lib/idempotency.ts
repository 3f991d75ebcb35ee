// Idempotency keys for the calls that must never act twice (hold, confirm,
// cancel). One key per attempt: a retry of the same request after an unknown
// outcome (lost connection, 5xx, request_in_flight) reuses it, so the server
// replays the first answer; a definite answer ends the attempt and the next
// one gets a fresh key (a replayed 409 would otherwise come back forever).
import { outcomeUnknown } from './api'

/** newKey is a random UUID v4. */
export function newKey(): string {
  if (typeof crypto !== 'undefined' && typeof crypto.randomUUID === 'function') return crypto.randomUUID()
  const b = new Uint8Array(16)
  crypto.getRandomValues(b)
  b[6] = (b[6] & 0x0f) | 0x40
  b[8] = (b[8] & 0x3f) | 0x80
  const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}

/**
 * Attempt remembers the key of the request in progress. key(body) returns
 * the same key while the body is the same and the last outcome was unknown.
 */
export class Attempt {
  private body: string | null = null
  private current: string | null = null
  private readonly make: () => string

  constructor(make: () => string = newKey) {
    this.make = make
  }

  key(body: unknown): string {
    const b = JSON.stringify(body ?? null)
    if (this.current === null || this.body !== b) {
      this.current = this.make()
      this.body = b
    }
    return this.current
  }

  /** settle ends the attempt unless err leaves the outcome unknown. */
  settle(err?: unknown): void {
    if (err === undefined || !outcomeUnknown(err)) {
      this.current = null
      this.body = null
    }
  }
}

/**
 * withRetries runs call with the attempt's key, retrying while the outcome
 * stays unknown: up to tries times, waiting backoff(i) ms between (honouring
 * Retry-After). The final error is thrown; the key survives it when the
 * outcome is still unknown, so a manual retry stays safe.
 */
export async function withRetries<T>(
  attempt: Attempt,
  body: unknown,
  call: (key: string) => Promise<T>,
  opts: {
    tries?: number
    sleep?: (ms: number) => Promise<void>
    backoff?: (i: number) => number
    /** retry picks which unknown outcomes to retry by itself (default: all). */
    retry?: (err: unknown) => boolean
  } = {},
): Promise<T> {
  const tries = opts.tries ?? 3
  const retry = opts.retry ?? (() => true)
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)))
  const backoff = opts.backoff ?? ((i: number) => 400 * 2 ** i)
  for (let i = 0; ; i++) {
    const key = attempt.key(body)
    try {
      const out = await call(key)
      attempt.settle()
      return out
    } catch (err) {
      attempt.settle(err)
      if (!outcomeUnknown(err) || !retry(err) || i + 1 >= tries) throw err
      const retryAfter = (err as { retryAfter?: number }).retryAfter
      await sleep(Math.max(backoff(i), (retryAfter ?? 0) * 1000))
    }
  }
}
