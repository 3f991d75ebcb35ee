import { describe, expect, it } from 'vitest'
import { ApiError } from './api'
import { hiddenFloorMs, maxBackoffMs, nextDelay, Poller, type Clock } from './poller'

describe('nextDelay', () => {
  const cases: [string, Parameters<typeof nextDelay>[0], number][] = [
    ['honours poll_after_ms', { pollAfterMs: 5000, failures: 0, hidden: false, random: 0 }, 5000],
    ['first failure waits a second', { pollAfterMs: 0, failures: 1, hidden: false, random: 0 }, 1000],
    ['backoff doubles', { pollAfterMs: 0, failures: 4, hidden: false, random: 0 }, 8000],
    ['backoff is capped', { pollAfterMs: 0, failures: 30, hidden: false, random: 0 }, maxBackoffMs],
    ['jitter adds up to a quarter', { pollAfterMs: 0, failures: 1, hidden: false, random: 0.999 }, 1250],
    ['never faster than the hint while failing', { pollAfterMs: 9000, failures: 1, hidden: false, random: 0 }, 9000],
    ['Retry-After wins when longer', { pollAfterMs: 1000, failures: 1, hidden: false, retryAfterS: 12, random: 0 }, 12000],
    ['a hidden tab slows down', { pollAfterMs: 2000, failures: 0, hidden: true, random: 0 }, hiddenFloorMs],
    ['a hidden tab still honours a longer hint', { pollAfterMs: 45000, failures: 0, hidden: true, random: 0 }, 45000],
  ]
  for (const [name, input, want] of cases) {
    it(name, () => expect(nextDelay(input)).toBe(want))
  }
  it('stays under the 60 s abandonment grace in a hidden tab when the server allows', () => {
    expect(nextDelay({ pollAfterMs: 1000, failures: 0, hidden: true, random: 0 })).toBeLessThan(60_000)
  })
})

/** fakeClock runs timers by hand, in time order. */
function fakeClock() {
  let now = 0
  let seq = 0
  const timers = new Map<number, { at: number; fn: () => void }>()
  const clock: Clock = {
    now: () => now,
    setTimeout: (fn, ms) => {
      const id = ++seq
      timers.set(id, { at: now + ms, fn })
      return id
    },
    clearTimeout: (h) => void timers.delete(h as number),
    random: () => 0,
  }
  /** advance runs every timer due within ms, letting promises settle. */
  async function advance(ms: number) {
    const end = now + ms
    for (;;) {
      const next = [...timers.entries()].sort((a, b) => a[1].at - b[1].at)[0]
      if (!next || next[1].at > end) break
      timers.delete(next[0])
      now = next[1].at
      next[1].fn()
      for (let i = 0; i < 5; i++) await Promise.resolve()
    }
    now = end
  }
  return { clock, advance, pending: () => timers.size }
}

describe('Poller', () => {
  it('polls no sooner than poll_after_ms', async () => {
    const { clock, advance } = fakeClock()
    const at: number[] = []
    const p = new Poller<{ poll_after_ms: number }>({
      poll: async () => {
        at.push(clock.now())
        return { poll_after_ms: 3000 }
      },
      pollAfter: (v) => v.poll_after_ms,
      onValue: () => true,
      onError: () => true,
      clock,
    })
    p.start()
    await advance(10_000)
    p.stop()
    expect(at).toEqual([0, 3000, 6000, 9000])
  })

  it('backs off while polls fail and recovers on success', async () => {
    const { clock, advance } = fakeClock()
    const at: number[] = []
    const failures: number[] = []
    let n = 0
    const p = new Poller<{ poll_after_ms: number }>({
      poll: async () => {
        at.push(clock.now())
        if (++n <= 3) throw new ApiError(503, 'unavailable', 'down')
        return { poll_after_ms: 500 }
      },
      pollAfter: (v) => v.poll_after_ms,
      onValue: () => true,
      onError: (_e, f) => void failures.push(f),
      clock,
    })
    p.start()
    await advance(8_000)
    p.stop()
    // 1 s, 2 s, 4 s of backoff, then the hint of 500 ms.
    expect(at.slice(0, 6)).toEqual([0, 1000, 3000, 7000, 7500, 8000])
    expect(failures).toEqual([1, 2, 3])
  })

  it('stops when a handler says so', async () => {
    const { clock, advance, pending } = fakeClock()
    let polls = 0
    const p = new Poller<{ state: string; poll_after_ms: number }>({
      poll: async () => {
        polls++
        return { state: polls === 2 ? 'admitted' : 'waiting', poll_after_ms: 100 }
      },
      pollAfter: (v) => v.poll_after_ms,
      onValue: (v) => v.state !== 'admitted',
      onError: () => true,
      clock,
    })
    p.start()
    await advance(1000)
    expect(polls).toBe(2)
    expect(p.running).toBe(false)
    expect(pending()).toBe(0)
  })

  it('catches up when the tab comes back, but not before the hint allows', async () => {
    const { clock, advance } = fakeClock()
    let hidden = true
    const at: number[] = []
    const p = new Poller<{ poll_after_ms: number }>({
      poll: async () => {
        at.push(clock.now())
        return { poll_after_ms: 5000 }
      },
      pollAfter: (v) => v.poll_after_ms,
      onValue: () => true,
      onError: () => true,
      isHidden: () => hidden,
      clock,
    })
    p.start()
    await advance(1000) // polled at 0; hidden, so the next is due at 20 s
    hidden = false
    p.visibilityChanged() // visible at 1 s: due at 5 s (the hint), not now
    await advance(5000)
    p.stop()
    expect(at).toEqual([0, 5000])
  })

  it('respects the join answer it was primed with', async () => {
    const { clock, advance } = fakeClock()
    const at: number[] = []
    const p = new Poller<{ poll_after_ms: number }>({
      poll: async () => {
        at.push(clock.now())
        return { poll_after_ms: 4000 }
      },
      pollAfter: (v) => v.poll_after_ms,
      onValue: () => true,
      onError: () => true,
      clock,
    })
    p.primed(2500)
    p.start()
    await advance(3000)
    p.stop()
    expect(at).toEqual([2500])
  })
})
