// @vitest-environment jsdom
// The seat page's live refresh against a fake backend: the full map once,
// then the status view, and the full map again whenever the view cannot be
// applied.
import { act, fireEvent, render, screen } from '@testing-library/react'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { SeatMap } from '../lib/api'
import { session } from '../lib/session'
import { admissionCheckMs, SeatsPage, seatRefreshMs } from './SeatsPage'

const eventId = 1

/** backend is a fake of the three routes the page reads. */
class Backend {
  /** One letter per seat id; its length is the venue's size. */
  statuses = 'aaaaaa'
  /** False: a backend from before GET /seats/status (404). */
  statusView = true
  /** Letters the status view has beyond the map's seats. */
  statusExtra = ''
  /** A status the status view answers instead of its view. */
  statusFails: number | null = null
  /** What POST /holds answers. */
  holdAnswer: { status: number; body: unknown; headers?: Record<string, string> } = { status: 500, body: {} }
  /** What GET and POST /queue answer (404 not_in_queue when null): by default, the page's admission lives. */
  queue: unknown = { state: 'admitted', event_id: eventId, poll_after_ms: 1000, sale_opens_at: '2020-01-01T00:00:00Z', admission_token: 'adm', admission_expires_at: '2099-01-01T00:00:00Z' }
  calls: { method: string; path: string; ifNoneMatch: string | null; auth: string | null }[] = []

  map(): SeatMap {
    const word = { a: 'available', h: 'held', s: 'sold' } as const
    const ids = [...this.statuses].map((_, id) => id)
    return {
      event_id: eventId,
      as_of: '2030-01-01T00:00:00Z',
      currency: 'GBP',
      sections: [
        {
          name: 'Stalls',
          tier: 'Stalls',
          rows: [ids.slice(0, 3), ids.slice(3)].map((row, r) => ({
            label: 'AB'[r],
            seats: row.map((id, i) => ({ id, number: i + 1, price_cents: 2500, status: word[this.statuses[id] as 'a' | 'h' | 's'], accessible: false })),
          })),
        },
      ],
    }
  }

  fetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const path = new URL(String(input), 'http://x').pathname
    const headers = new Headers(init?.headers)
    const ifNoneMatch = headers.get('If-None-Match')
    this.calls.push({ method: init?.method ?? 'GET', path, ifNoneMatch, auth: headers.get('Authorization') })
    const json = (status: number, body: unknown, etag?: string, extra: Record<string, string> = {}) =>
      new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json', ...(etag ? { ETag: etag } : {}), ...extra } })
    const notFound = () => json(404, { error: { code: 'not_found', message: 'not found' } })
    if (path === `/api/v1/events/${eventId}/holds`) {
      return json(this.holdAnswer.status, this.holdAnswer.body, undefined, this.holdAnswer.headers)
    }
    if (path === `/api/v1/events/${eventId}/queue`) {
      return this.queue ? json(200, this.queue) : json(404, { error: { code: 'not_in_queue', message: 'no place' } })
    }
    if (path === `/api/v1/events/${eventId}`) {
      return json(200, { event: { id: eventId, name: 'Test night', max_tickets_per_fan: 4 } })
    }
    if (path === `/api/v1/events/${eventId}/seats`) {
      const etag = `"m-${this.statuses}"`
      return ifNoneMatch === etag ? new Response(null, { status: 304, headers: { ETag: etag } }) : json(200, this.map(), etag)
    }
    if (path === `/api/v1/events/${eventId}/seats/status`) {
      if (!this.statusView) return notFound()
      if (this.statusFails) return json(this.statusFails, { error: { code: 'unavailable', message: 'try again' } })
      const etag = `"s-${this.statuses}"`
      if (ifNoneMatch === etag) return new Response(null, { status: 304, headers: { ETag: etag } })
      return json(200, { event_id: eventId, as_of: '2030-01-01T00:00:01Z', statuses: this.statuses + this.statusExtra }, etag)
    }
    return notFound()
  }

  /** paths are the seat requests so far, with the ETag each sent. */
  seatCalls(): string[] {
    return this.calls.filter((c) => c.path.includes('/seats')).map((c) => `${c.path.replace(`/api/v1/events/${eventId}`, '')}${c.ifNoneMatch ? ` ${c.ifNoneMatch}` : ''}`)
  }
}

let backend: Backend

/** settle lets the fake answers and React's updates run. */
async function settle() {
  await act(async () => {
    for (let i = 0; i < 20; i++) await vi.advanceTimersByTimeAsync(0)
  })
}

/** poll lets one refresh interval pass. */
async function poll() {
  await act(async () => {
    await vi.advanceTimersByTimeAsync(seatRefreshMs)
  })
  await settle()
}

async function open() {
  render(<SeatsPage eventId={eventId} />)
  await settle()
  expect(screen.getByRole('heading', { name: 'Sections' })).toBeTruthy()
}

/** free is what the sections list says of the one section's free seats. */
const free = () => screen.getByRole('button', { name: /^Stalls/ }).textContent?.match(/\d+ free|Sold out/)?.[0]

const seat = (row: string, n: number) => screen.getByRole('button', { name: new RegExp(`^Row ${row}, seat ${n},`) })

beforeEach(() => {
  // Only the page's poll timer is faked: the countdown ticker stays real.
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
  backend = new Backend()
  vi.stubGlobal('fetch', backend.fetch)
  // jsdom has no 2D canvas (and the test's zero-width canvas draws nothing).
  vi.spyOn(HTMLCanvasElement.prototype, 'getContext').mockReturnValue(null)
  session.signIn({ user: { id: 1, email: 'f@e.x', name: 'Fan', role: 'fan' }, access_token: 'tok', token_type: 'Bearer', expires_at: new Date(Date.now() + 3600_000).toISOString() })
  session.saveAdmission(eventId, { token: 'adm', expiresAt: new Date(Date.now() + 600_000).toISOString() })
})

afterEach(() => {
  vi.useRealTimers()
  vi.unstubAllGlobals()
  session.signOut()
  history.replaceState(null, '', '/')
})

describe('SeatsPage live refresh', () => {
  it('loads the full map once, then polls the status view and drops a chosen seat someone takes', async () => {
    await open()
    fireEvent.click(screen.getByRole('button', { name: /^Stalls/ }))
    fireEvent.click(seat('A', 1))
    expect(screen.getByTestId('selection').textContent).toContain('row A, seat 1')

    await poll() // the first view: 200, nothing moved
    await poll() // unchanged: 304
    expect(backend.seatCalls()).toEqual(['/seats', '/seats/status', '/seats/status "s-aaaaaa"'])

    backend.statuses = 'haaasa'
    await poll()
    expect(backend.seatCalls().at(-1)).toBe('/seats/status "s-aaaaaa"')
    // The chosen seat went: named for screen readers and dropped.
    expect(screen.getByText('Just taken by someone else')).toBeTruthy()
    expect(screen.getByText(/Section Stalls, row A, seat 1\. Pick another seat\./)).toBeTruthy()
    expect(screen.queryByTestId('selection')).toBeNull()
    expect(seat('A', 1).getAttribute('data-status')).toBe('held')
    expect(seat('B', 2).getAttribute('data-status')).toBe('sold')
    expect(seat('A', 2).getAttribute('data-status')).toBe('available')
    // Never the full map again.
    expect(backend.seatCalls().filter((c) => c.startsWith('/seats ') || c === '/seats')).toEqual(['/seats'])
    expect(screen.queryByText('Live seat updates paused')).toBeNull()
  })

  it('lays out the full map again when the status view does not fit the venue', async () => {
    await open()
    expect(free()).toBe('6 free')
    backend.statuses = 'aaaaaaaa' // two more seats: another layout
    await poll()
    expect(backend.seatCalls()).toEqual(['/seats', '/seats/status', '/seats'])
    expect(free()).toBe('8 free')
    backend.statuses = 'aaaaaaas'
    await poll()
    expect(backend.seatCalls().at(-1)).toBe('/seats/status')
    expect(free()).toBe('7 free')
  })

  it('polls the full map when the status view never fits, even after a fresh map', async () => {
    backend.statusExtra = 'a'
    await open()
    await poll()
    await poll()
    await poll()
    expect(backend.seatCalls()).toEqual(['/seats', '/seats/status', '/seats', '/seats/status', '/seats', '/seats "m-aaaaaa"'])
    backend.statuses = 'aaasss'
    await poll()
    expect(free()).toBe('3 free')
    expect(screen.queryByText('Live seat updates paused')).toBeNull()
  })

  it('polls the full map, as before, when the backend has no status view', async () => {
    backend.statusView = false
    await open()
    await poll()
    await poll()
    expect(backend.seatCalls()).toEqual(['/seats', '/seats/status', '/seats "m-aaaaaa"', '/seats "m-aaaaaa"'])
    backend.statuses = 'aaaaas'
    await poll()
    expect(backend.seatCalls().at(-1)).toBe('/seats "m-aaaaaa"')
    expect(free()).toBe('5 free')
    expect(screen.queryByText('Live seat updates paused')).toBeNull()
  })

  it('keeps the map and says updates paused when a poll fails, then carries on', async () => {
    await open()
    backend.statusFails = 503
    await poll()
    expect(screen.getByText('Live seat updates paused')).toBeTruthy()
    expect(screen.getByRole('heading', { name: 'Sections' })).toBeTruthy()
    backend.statusFails = null
    backend.statuses = 'saaaaa'
    await poll()
    expect(screen.queryByText('Live seat updates paused')).toBeNull()
    expect(free()).toBe('5 free')
    expect(backend.seatCalls()).toEqual(['/seats', '/seats/status', '/seats/status'])
  })
})

/** refuse makes POST /holds answer an API error. */
function refuse(status: number, code: string, details: Record<string, unknown> = {}, headers: Record<string, string> = {}) {
  backend.holdAnswer = { status, body: { error: { code, message: `raw server sentence for ${code}`, details, request_id: 'rid-secret' } }, headers }
}

async function chooseA1AndHold() {
  fireEvent.click(screen.getByRole('button', { name: /^Stalls/ }))
  fireEvent.click(seat('A', 1))
  fireEvent.click(screen.getByRole('button', { name: 'Hold 1 seat' }))
  await settle()
}

/** nothingRaw checks the fan sees no server sentence, code or request id. */
function nothingRaw(code: string) {
  const text = document.body.textContent ?? ''
  expect(text).not.toContain('raw server sentence')
  expect(text).not.toContain(code)
  expect(text).not.toContain('rid-secret')
}

describe('SeatsPage when the admission ended', () => {
  it('says the fan left, names the seat that was not held, forgets the admission and rejoins the waiting room', async () => {
    await open()
    refuse(410, 'admission_expired', { reason: 'left' })
    await chooseA1AndHold()
    const alert = screen.getByRole('alert')
    expect(alert.textContent).toContain('You left the queue')
    expect(screen.getByTestId('unheld').textContent).toBe('This was not held: Section Stalls, row A, seat 1.')
    expect(session.admission(eventId)).toBeNull()
    expect(screen.queryByRole('heading', { name: 'Sections' })).toBeNull()
    nothingRaw('admission_expired')

    backend.queue = { state: 'waiting', event_id: eventId, position: 9, ahead: 8, poll_after_ms: 1000, sale_opens_at: '2020-01-01T00:00:00Z' }
    fireEvent.click(screen.getByRole('button', { name: 'Rejoin the waiting room' }))
    await settle()
    expect(backend.calls.filter((c) => c.path.endsWith('/queue') && c.method !== 'GET').map((c) => `${c.method} ${c.auth}`)).toEqual(['POST Bearer tok'])
    expect(location.pathname).toBe(`/events/${eventId}`)
  })

  it.each([
    ['timeout', 'Your time to choose seats ran out'],
    ['done', 'Your turn is complete'],
    ['abandoned', 'Your turn went to the next fan'],
    ['replaced', 'A newer turn replaced this one'],
    ['something new', 'Your turn has ended'],
  ])('explains the reason %s plainly', async (reason, title) => {
    await open()
    refuse(410, 'admission_expired', { reason })
    await chooseA1AndHold()
    expect(screen.getByRole('alert').textContent).toContain(title)
    expect(screen.getByTestId('unheld').textContent).toContain('row A, seat 1')
    // One way on: a newer turn is used, any other ends in the waiting room.
    const actions = screen.getAllByRole('button').map((b) => b.textContent)
    expect(actions).toEqual([reason === 'replaced' ? 'Use your newer turn' : 'Rejoin the waiting room'])
    expect(screen.queryByRole('link', { name: 'See your orders' }) !== null).toBe(reason === 'done')
    nothingRaw('admission_expired')
  })

  it('says so when the turn runs out on the page, naming the chosen seat that was never held', async () => {
    session.saveAdmission(eventId, { token: 'adm', expiresAt: new Date(Date.now() + 1200).toISOString() })
    await open()
    fireEvent.click(screen.getByRole('button', { name: /^Stalls/ }))
    fireEvent.click(seat('B', 2))
    // The countdown runs on the page's real one-second ticker.
    await vi.waitFor(() => expect(screen.getByRole('alert').textContent).toContain('Your time to choose seats ran out'), { timeout: 4000, interval: 100 })
    expect(screen.getByTestId('unheld').textContent).toBe('This was not held: Section Stalls, row B, seat 2.')
    expect(session.admission(eventId)).toBeNull()
  })

  it('tells the fan within one check when the admission ended elsewhere, naming the chosen seat, without a hold attempt', async () => {
    await open()
    fireEvent.click(screen.getByRole('button', { name: /^Stalls/ }))
    fireEvent.click(seat('A', 1))
    // The fan left the queue in another tab.
    backend.queue = null
    await act(async () => {
      await vi.advanceTimersByTimeAsync(admissionCheckMs)
    })
    await settle()
    expect(screen.getByRole('alert').textContent).toContain('You left the queue')
    expect(screen.getByTestId('unheld').textContent).toBe('This was not held: Section Stalls, row A, seat 1.')
    expect(session.admission(eventId)).toBeNull()
    expect(backend.calls.filter((c) => c.path.endsWith('/holds'))).toEqual([])
    const checks = backend.calls.filter((c) => c.path.endsWith('/queue'))
    expect(checks.map((c) => `${c.method} ${c.auth}`)).toEqual(['GET Bearer tok'])
  })

  it('keeps the page while the waiting room says the admission lives', async () => {
    await open()
    await act(async () => {
      await vi.advanceTimersByTimeAsync(admissionCheckMs * 3)
    })
    await settle()
    expect(backend.calls.filter((c) => c.path.endsWith('/queue')).length).toBeGreaterThanOrEqual(2)
    expect(screen.queryByRole('alert')).toBeNull()
    expect(screen.getByRole('heading', { name: 'Sections' })).toBeTruthy()
  })

  it('treats a lapsed admission token (401 token_expired) as a turn that ran out', async () => {
    await open()
    refuse(401, 'token_expired')
    await chooseA1AndHold()
    expect(screen.getByRole('alert').textContent).toContain('Your time to choose seats ran out')
    expect(screen.queryByText('Sign in again')).toBeNull()
    nothingRaw('token_expired')
  })

  it('says what a best-available request asked for was not held', async () => {
    await open()
    refuse(410, 'admission_expired', { reason: 'timeout' })
    fireEvent.click(screen.getByRole('button', { name: 'Find and hold' }))
    await settle()
    expect(screen.getByTestId('unheld').textContent).toBe('This was not held: 2 best available in Stalls.')
  })

  it('goes on with the newer admission that replaced this one', async () => {
    await open()
    refuse(410, 'admission_expired', { reason: 'replaced' })
    await chooseA1AndHold()
    const expiresAt = new Date(Date.now() + 300_000).toISOString()
    backend.queue = { state: 'admitted', event_id: eventId, poll_after_ms: 1000, sale_opens_at: '2020-01-01T00:00:00Z', admission_token: 'adm-2', admission_expires_at: expiresAt }
    fireEvent.click(screen.getByRole('button', { name: 'Use your newer turn' }))
    await settle()
    expect(screen.getByRole('heading', { name: 'Sections' })).toBeTruthy()
    expect(session.admission(eventId)).toEqual({ token: 'adm-2', expiresAt })
  })
})

describe('SeatsPage when holding too often', () => {
  it('asks the fan to slow down for Retry-After seconds, keeps the choice and holds off the hold buttons', async () => {
    await open()
    refuse(429, 'too_many_attempts', {}, { 'Retry-After': '7' })
    await chooseA1AndHold()
    expect(screen.getByText('Slow down a moment')).toBeTruthy()
    // The page's clock ticks once a second, so the wait shown may round up by one.
    const wait = Number(/Try again in (\d+) s\./.exec(document.body.textContent ?? '')?.[1])
    expect(wait).toBeGreaterThanOrEqual(7)
    expect(wait).toBeLessThanOrEqual(8)
    expect(screen.getByTestId('selection').textContent).toContain('row A, seat 1')
    expect((screen.getByRole('button', { name: 'Hold 1 seat' }) as HTMLButtonElement).disabled).toBe(true)
    expect((screen.getByRole('button', { name: 'Find and hold' }) as HTMLButtonElement).disabled).toBe(true)
    // The phone's bottom bar, far from the notice, says why its Hold is off.
    expect((screen.getByRole('button', { name: 'Hold' }) as HTMLButtonElement).disabled).toBe(true)
    expect(screen.getByText(/^Slow down: try again in/).textContent).toMatch(/^Slow down: try again in [78] s$/)
    expect(session.admission(eventId)).not.toBeNull()
    nothingRaw('too_many_attempts')
  })

  it('lets the fan try again at once when Retry-After is 0', async () => {
    await open()
    refuse(429, 'too_many_attempts', {}, { 'Retry-After': '0' })
    await chooseA1AndHold()
    expect(screen.getByText('You can try again now.', { exact: false })).toBeTruthy()
    expect((screen.getByRole('button', { name: 'Hold 1 seat' }) as HTMLButtonElement).disabled).toBe(false)
  })
})
