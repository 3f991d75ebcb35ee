// Fakes the page tests share: a JSON answer, a signed-in session and a
// small event, so each test states only what it varies.
import type { Event } from './lib/api'
import { session } from './lib/session'

/** jsonResponse is an API answer of status with body as JSON. */
export function jsonResponse(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } })
}

/** signInAs signs in user 1 with role, for an hour. */
export function signInAs(role: 'fan' | 'ops') {
  session.signIn({ user: { id: 1, email: 'u@e.x', name: role === 'ops' ? 'Ops' : 'Fan', role }, access_token: 'tok', token_type: 'Bearer', expires_at: new Date(Date.now() + 3600_000).toISOString() })
}

/** tinyEvent is event 3, two seats in Leeds, on sale, with over laid on it. */
export function tinyEvent(over: Partial<Event> = {}): Event {
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
