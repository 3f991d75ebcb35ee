import { describe, expect, it } from 'vitest'
import { ApiError, NetworkError } from './api'
import { Attempt, newKey, withRetries } from './idempotency'

function counter() {
  let n = 0
  return () => `k${++n}`
}

const noSleep = () => Promise.resolve()

describe('Attempt', () => {
  it('keeps the key for the same body until a definite answer', () => {
    const a = new Attempt(counter())
    expect(a.key({ seat_ids: [1] })).toBe('k1')
    a.settle(new NetworkError('down'))
    expect(a.key({ seat_ids: [1] })).toBe('k1')
    a.settle(new ApiError(409, 'seat_taken', 'taken'))
    expect(a.key({ seat_ids: [1] })).toBe('k2')
  })

  it('gives another body another key', () => {
    const a = new Attempt(counter())
    expect(a.key({ seat_ids: [1] })).toBe('k1')
    a.settle(new ApiError(503, 'unavailable', 'down'))
    expect(a.key({ seat_ids: [2] })).toBe('k2')
  })
})

describe('withRetries', () => {
  it('retries an unknown outcome with the same key and stops on success', async () => {
    const keys: string[] = []
    const out = await withRetries(new Attempt(counter()), { x: 1 }, async (key) => {
      keys.push(key)
      if (keys.length < 3) throw new ApiError(409, 'request_in_flight', 'running')
      return 'ok'
    }, { sleep: noSleep })
    expect(out).toBe('ok')
    expect(keys).toEqual(['k1', 'k1', 'k1'])
  })

  it('does not retry the ticket limit, a definite 429', async () => {
    let calls = 0
    await expect(
      withRetries(new Attempt(counter()), {}, async () => {
        calls++
        throw new ApiError(429, 'ticket_limit', 'over the limit')
      }, { sleep: noSleep }),
    ).rejects.toMatchObject({ code: 'ticket_limit' })
    expect(calls).toBe(1)
  })

  it('does not retry a definite failure', async () => {
    let calls = 0
    await expect(
      withRetries(new Attempt(counter()), {}, async () => {
        calls++
        throw new ApiError(402, 'payment_declined', 'declined')
      }, { sleep: noSleep }),
    ).rejects.toMatchObject({ code: 'payment_declined' })
    expect(calls).toBe(1)
  })

  it('keeps the key after giving up, so a manual retry is still safe', async () => {
    const a = new Attempt(counter())
    await expect(withRetries(a, { p: 1 }, async () => Promise.reject(new NetworkError('x')), { sleep: noSleep, tries: 2 })).rejects.toBeInstanceOf(NetworkError)
    expect(a.key({ p: 1 })).toBe('k1')
  })

  it('leaves some unknown outcomes to the person, keeping the key', async () => {
    const a = new Attempt(counter())
    let calls = 0
    const timeout = new ApiError(503, 'payment_timeout', 'no answer')
    await expect(
      withRetries(a, { p: 1 }, async () => {
        calls++
        throw timeout
      }, { sleep: noSleep, retry: (e) => e !== timeout }),
    ).rejects.toBe(timeout)
    expect(calls).toBe(1)
    expect(a.key({ p: 1 })).toBe('k1')
  })

  it('waits at least Retry-After', async () => {
    const waits: number[] = []
    let calls = 0
    await withRetries(new Attempt(counter()), {}, async () => {
      if (calls++ === 0) throw new ApiError(503, 'unavailable', 'down', {}, undefined, 5)
      return 1
    }, { sleep: async (ms) => void waits.push(ms), backoff: () => 100 })
    expect(waits).toEqual([5000])
  })
})

describe('newKey', () => {
  it('makes distinct UUIDs', () => {
    const a = newKey()
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    expect(newKey()).not.toBe(a)
  })
})
