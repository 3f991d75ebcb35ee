// @vitest-environment jsdom
// The event page against a fake backend: the sale's opening reads in the
// past tense once it has passed, and the queue's count (a snapshot) never
// says fewer fans than the fan's own live place implies.
import { render, screen, waitFor } from '@testing-library/react'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { Event, QueueStatus } from '../lib/api'
import { session } from '../lib/session'
import { EventPage } from './EventPage'

let event: Event
let queue: QueueStatus | null

function makeEvent(over: Partial<Event> = {}): Event {
  return {
    id: 3,
    slug: 'tiny',
    name: 'Tiny night',
    venue: { id: 1, name: 'Grid', city: 'Leeds', timezone: 'UTC' },
    starts_at: '2030-02-01T20:00:00Z',
    sale_opens_at: '2020-01-01T10:00:00Z',
    max_tickets_per_fan: 4,
    currency: 'GBP',
    capacity: 2,
    seats_left: 2,
    sale_state: 'open',
    waiting_room: { state: 'open', queue_length: 0 },
    ...over,
  }
}

const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } })

beforeEach(() => {
  queue = null
  vi.stubGlobal('fetch', async (input: RequestInfo | URL) => {
    const path = new URL(String(input), 'http://x').pathname
    if (path === '/api/v1/events/3') return json(200, { event })
    if (path === '/api/v1/events/3/queue' && queue) return json(200, queue)
    return json(404, { error: { code: 'not_in_queue', message: 'no place' } })
  })
  session.signIn({ user: { id: 1, email: 'f@e.x', name: 'Fan', role: 'fan' }, access_token: 'tok', token_type: 'Bearer', expires_at: new Date(Date.now() + 3600_000).toISOString() })
})

afterEach(() => {
  vi.unstubAllGlobals()
  session.signOut()
})

describe('EventPage', () => {
  it('says the sale opened once its time has passed', async () => {
    event = makeEvent()
    render(<EventPage eventId={3} />)
    expect(await screen.findByText('Sale opened')).toBeTruthy()
    expect(screen.queryByText('Sale opens')).toBeNull()
  })

  it('says when an upcoming sale opens', async () => {
    event = makeEvent({ sale_state: 'upcoming', sale_opens_at: new Date(Date.now() + 3600_000).toISOString(), waiting_room: { state: 'prequeue', queue_length: 0 } })
    render(<EventPage eventId={3} />)
    expect(await screen.findByText('Sale opens')).toBeTruthy()
  })

  it("counts at least the fan's own place in the queue when the event's count lags", async () => {
    event = makeEvent()
    queue = { state: 'waiting', event_id: 3, position: 1, ahead: 0, eta_seconds: 5, poll_after_ms: 1000, sale_opens_at: event.sale_opens_at }
    render(<EventPage eventId={3} />)
    await waitFor(() => expect(screen.getByTestId('queue-length').textContent).toBe('1 fan'))
  })

  it("shows the event's count when the fan is not in the queue", async () => {
    event = makeEvent({ waiting_room: { state: 'open', queue_length: 7 } })
    render(<EventPage eventId={3} />)
    await waitFor(() => expect(screen.getByTestId('queue-length').textContent).toBe('7 fans'))
  })
})
