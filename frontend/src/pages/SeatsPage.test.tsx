// @vitest-environment jsdom
// The seat page's live refresh against a fake backend: the full map once,
// then the status view, and the full map again whenever the view cannot be
// applied.
import { act, fireEvent, render, screen } from '@testing-library/react'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { SeatMap } from '../lib/api'
import { session } from '../lib/session'
import { SeatsPage, seatRefreshMs } from './SeatsPage'

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
  calls: { path: string; ifNoneMatch: string | null }[] = []

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
    const ifNoneMatch = new Headers(init?.headers).get('If-None-Match')
    this.calls.push({ path, ifNoneMatch })
    const json = (status: number, body: unknown, etag?: string) =>
      new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json', ...(etag ? { ETag: etag } : {}) } })
    const notFound = () => json(404, { error: { code: 'not_found', message: 'not found' } })
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
