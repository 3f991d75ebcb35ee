// @vitest-environment node
// The client against a real HTTP server on loopback: the same bytes the
// gateway sends (error shape, Retry-After, 204) go through fetch.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { admissionEnded, ApiError, Client, errorMessage, NetworkError, outcomeUnknown } from './api'

type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void

let server: Server
let base: string
const routes = new Map<string, Handler>()
const seen: { method: string; url: string; headers: IncomingMessage['headers']; body: string }[] = []

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = ''
    req.on('data', (c) => (body += c))
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body })
      const h = routes.get(`${req.method} ${req.url}`)
      if (h) h(req, body, res)
      else {
        res.writeHead(404, { 'Content-Type': 'application/json', 'X-Request-Id': 'rid-404' })
        res.end(JSON.stringify({ error: { code: 'not_found', message: 'no such route' } }))
      }
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

afterAll(() => new Promise<void>((r) => server.close(() => r())))

function json(status: number, v: unknown, headers: Record<string, string> = {}): Handler {
  return (_req, _body, res) => {
    res.writeHead(status, { 'Content-Type': 'application/json', 'X-Request-Id': 'rid-1', ...headers })
    res.end(JSON.stringify(v))
  }
}

describe('Client', () => {
  it('keeps the place receipt of a join, shows it with every poll, and drops it on leaving', async () => {
    const store = new Map<string, string>()
    Object.defineProperty(globalThis, 'localStorage', {
      configurable: true,
      value: { getItem: (k: string) => store.get(k) ?? null, setItem: (k: string, v: string) => store.set(k, v), removeItem: (k: string) => store.delete(k) },
    })
    routes.set('POST /api/v1/events/9/queue', json(201, { state: 'waiting', event_id: 9, ahead: 3, poll_after_ms: 1000, sale_opens_at: '', place_receipt: 'p1.k.9.1.5.mac' }))
    routes.set('GET /api/v1/events/9/queue', json(200, { state: 'waiting', event_id: 9, ahead: 3, poll_after_ms: 1000, sale_opens_at: '' }))
    routes.set('DELETE /api/v1/events/9/queue', (_req, _body, res) => res.writeHead(204).end())
    const c = new Client(base)
    await c.joinQueue(9, 't')
    await c.queueStatus(9, 't')
    expect(seen.at(-1)?.headers['x-place-receipt']).toBe('p1.k.9.1.5.mac')
    await c.queueStatus(8, 't').catch(() => undefined)
    expect(seen.at(-1)?.headers['x-place-receipt']).toBeUndefined()
    await c.leaveQueue(9, 't')
    await c.queueStatus(9, 't')
    expect(seen.at(-1)?.headers['x-place-receipt']).toBeUndefined()
    Reflect.deleteProperty(globalThis, 'localStorage')
  })

  it('sends the hold with the admission token, the idempotency key and a JSON body', async () => {
    const hold = { id: 'h1', event_id: 3, status: 'active', seats: [], total_cents: 0, currency: 'GBP', expires_at: '2030-01-01T00:00:00Z' }
    routes.set('POST /api/v1/events/3/holds', json(201, { hold }))
    const got = await new Client(base).hold(3, 'adm-token', 'key-1', { seat_ids: [12, 13] })
    expect(got).toEqual(hold)
    const req = seen.at(-1)!
    expect(req.headers.authorization).toBe('Bearer adm-token')
    expect(req.headers['idempotency-key']).toBe('key-1')
    expect(req.headers['content-type']).toBe('application/json')
    expect(JSON.parse(req.body)).toEqual({ seat_ids: [12, 13] })
  })

  it('turns the error shape into an ApiError with code, details and request id', async () => {
    routes.set(
      'POST /api/v1/events/4/holds',
      json(409, { error: { code: 'seat_taken', message: 'seats 12, 13 are taken', details: { seat_ids: [12, 13] }, request_id: 'rid-9' } }),
    )
    const err = await new Client(base).hold(4, 't', 'k', { seat_ids: [12, 13] }).catch((e) => e)
    expect(err).toBeInstanceOf(ApiError)
    expect(err.status).toBe(409)
    expect(err.code).toBe('seat_taken')
    expect(err.message).toBe('seats 12, 13 are taken')
    expect(err.seatIds).toEqual([12, 13])
    expect(err.requestId).toBe('rid-9')
    expect(outcomeUnknown(err)).toBe(false)
  })

  it('reads Retry-After on 429 and 503 and treats them as unknown outcomes', async () => {
    routes.set('POST /api/v1/events/5/queue', json(429, { error: { code: 'rate_limited', message: 'slow down' } }, { 'Retry-After': '7' }))
    const err = await new Client(base).joinQueue(5, 't').catch((e) => e)
    expect(err.code).toBe('rate_limited')
    expect(err.retryAfter).toBe(7)
    expect(outcomeUnknown(err)).toBe(true)
  })

  it('names a status without our error shape', async () => {
    routes.set('GET /api/v1/events', (_q, _b, res) => {
      res.writeHead(502, { 'Content-Type': 'text/html' })
      res.end('<h1>Bad gateway</h1>')
    })
    const err = await new Client(base).events().catch((e) => e)
    expect(err).toBeInstanceOf(ApiError)
    expect(err.code).toBe('http_502')
    expect(outcomeUnknown(err)).toBe(true)
  })

  it('answers undefined for 204', async () => {
    routes.set('DELETE /api/v1/events/6/queue', (_q, _b, res) => {
      res.writeHead(204)
      res.end()
    })
    await expect(new Client(base).leaveQueue(6, 't')).resolves.toBeUndefined()
    expect(seen.at(-1)!.method).toBe('DELETE')
  })

  it('encodes hold ids in paths', async () => {
    await new Client(base).getHold('a/b?c', 't').catch(() => undefined)
    expect(seen.at(-1)!.url).toBe('/api/v1/holds/a%2Fb%3Fc')
  })

  /** serveWithETag answers route with body under etag, and 304 to a client that has it. */
  function serveWithETag(route: string, etag: string, body: unknown) {
    routes.set(route, (req, _b, res) => {
      if (req.headers['if-none-match'] === etag) {
        res.writeHead(304, { ETag: etag })
        res.end()
        return
      }
      res.writeHead(200, { 'Content-Type': 'application/json', ETag: etag })
      res.end(JSON.stringify(body))
    })
  }

  it('asks for the seat map only when it changed', async () => {
    const map = { event_id: 9, as_of: '2030-01-01T00:00:00Z', currency: 'GBP', sections: [] }
    serveWithETag('GET /api/v1/events/9/seats', '"v1"', map)
    const c = new Client(base)
    const first = await c.seatsIfChanged(9, null)
    expect(first).toEqual({ map, etag: '"v1"' })
    expect(seen.at(-1)!.headers['if-none-match']).toBeUndefined()
    expect(await c.seatsIfChanged(9, '"v1"')).toBeNull()
    expect(seen.at(-1)!.headers['if-none-match']).toBe('"v1"')
    expect(await c.seatsIfChanged(9, '"v0"')).toEqual({ map, etag: '"v1"' })
  })

  it('asks for the status view with its own ETag and reads 304 as no change', async () => {
    const view = { event_id: 10, as_of: '2030-01-01T00:00:00.123Z', statuses: 'aahs' }
    serveWithETag('GET /api/v1/events/10/seats/status', '"s10-x"', view)
    const c = new Client(base)
    expect(await c.seatStatusesIfChanged(10, null)).toEqual({ view, etag: '"s10-x"' })
    let req = seen.at(-1)!
    expect(req.url).toBe('/api/v1/events/10/seats/status')
    expect(req.headers['if-none-match']).toBeUndefined()
    expect(await c.seatStatusesIfChanged(10, '"s10-x"')).toBeNull()
    req = seen.at(-1)!
    expect(req.url).toBe('/api/v1/events/10/seats/status')
    expect(req.headers['if-none-match']).toBe('"s10-x"')
    expect(await c.seatStatusesIfChanged(10, '"s10-old"')).toEqual({ view, etag: '"s10-x"' })
  })

  it('turns a status view without statuses into malformed_response, and a 404 into an ApiError', async () => {
    routes.set('GET /api/v1/events/11/seats/status', json(200, { event_id: 11, as_of: '', statuses: null }))
    const bad = await new Client(base).seatStatusesIfChanged(11, null).catch((e) => e)
    expect(bad).toBeInstanceOf(ApiError)
    expect(bad.code).toBe('malformed_response')
    routes.set('GET /api/v1/events/12/seats/status', json(404, { error: { code: 'event_not_found', message: 'no event 12' } }))
    const missing = await new Client(base).seatStatusesIfChanged(12, null).catch((e) => e)
    expect(missing).toBeInstanceOf(ApiError)
    expect(missing.status).toBe(404)
    expect(missing.code).toBe('event_not_found')
  })

  it('reports a refused connection as a NetworkError, an unknown outcome', async () => {
    const closed = createServer()
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r))
    const port = (closed.address() as AddressInfo).port
    await new Promise<void>((r) => closed.close(() => r()))
    const err = await new Client(`http://127.0.0.1:${port}`).events().catch((e) => e)
    expect(err).toBeInstanceOf(NetworkError)
    expect(outcomeUnknown(err)).toBe(true)
  })

  it('unwraps the envelopes of list and single answers', async () => {
    routes.set('GET /api/v1/orders', json(200, { orders: [{ id: 'o1' }] }))
    routes.set('GET /api/v1/me', json(200, { user: { id: 7, email: 'a@b.c', name: 'A', role: 'fan' } }))
    const c = new Client(base)
    expect(await c.orders('t')).toEqual([{ id: 'o1' }])
    expect((await c.me('t')).id).toBe(7)
  })
})

describe('admissionEnded', () => {
  it('reads why a hold was refused for an ended admission, and is a definite answer', async () => {
    routes.set(
      'POST /api/v1/events/5/holds',
      json(410, { error: { code: 'admission_expired', message: 'the admission has ended', details: { reason: 'left' }, request_id: 'rid-5' } }),
    )
    const err = await new Client(base).hold(5, 'adm', 'k', { seat_ids: [1] }).catch((e: unknown) => e)
    expect(admissionEnded(err)).toBe('left')
    expect(outcomeUnknown(err)).toBe(false)
  })

  it('names every reason of the contract, an unknown or missing one as just ended, and a lapsed token as a timeout', () => {
    const ended = (details: Record<string, unknown>) => new ApiError(410, 'admission_expired', 'm', details)
    for (const r of ['timeout', 'done', 'left', 'abandoned', 'replaced']) expect(admissionEnded(ended({ reason: r }))).toBe(r)
    expect(admissionEnded(ended({ reason: 'cosmic rays' }))).toBe('ended')
    expect(admissionEnded(ended({}))).toBe('ended')
    expect(admissionEnded(new ApiError(401, 'token_expired', 'm'))).toBe('timeout')
    expect(admissionEnded(new ApiError(410, 'hold_expired', 'm'))).toBeNull()
    expect(admissionEnded(new ApiError(429, 'too_many_attempts', 'm'))).toBeNull()
    expect(admissionEnded(new NetworkError(new Error('x')))).toBeNull()
  })
})

describe('errorMessage', () => {
  it('says what happened in a sentence, never the code', () => {
    const cases: [ApiError, RegExp][] = [
      [new ApiError(409, 'not_enough_seats', 'no run of 2 seats in Floor A'), /^There are not enough free seats there right now/],
      [new ApiError(429, 'ticket_limit', 'at most 6 tickets per fan for this event'), /over the 6 tickets each fan may buy/],
      [new ApiError(503, 'unavailable', 'postgres is down'), /very busy/],
      [new ApiError(500, 'internal', 'nil pointer'), /^Something went wrong on our side/],
      [new ApiError(422, 'weak_password', 'the password must have at least 10 characters'), /^The password must have at least 10 characters\.$/],
    ]
    for (const [err, want] of cases) {
      const got = errorMessage(err)
      expect(got).toMatch(want)
      expect(got).not.toContain(err.code)
    }
  })
})
