// @vitest-environment jsdom
// The event page against a fake backend: the sale's opening reads in the
// past tense once it has passed, and the queue's count (a snapshot) never
// says fewer fans than the fan's own live place implies.
import { render, screen, waitFor } from '@testing-library/react'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { Event, QueueStatus } from '../lib/api'
import { session } from '../lib/session'
import { EventPage } from './EventPage'
import { jsonResponse, signInAs, tinyEvent } from '../test-fakes'

let event: Event
let queue: QueueStatus | null

const json = jsonResponse

beforeEach(() => {
  queue = null
  vi.stubGlobal('fetch', async (input: RequestInfo | URL) => {
    const path = new URL(String(input), 'http://x').pathname
    if (path === '/api/v1/events/3') return json(200, { event })
    if (path === '/api/v1/events/3/queue' && queue) return json(200, queue)
    return json(404, { error: { code: 'not_in_queue', message: 'no place' } })
  })
  signInAs('fan')
})

afterEach(() => {
  vi.unstubAllGlobals()
  session.signOut()
})

describe('EventPage', () => {
  it('says the sale opened once its time has passed', async () => {
    event = tinyEvent()
    render(<EventPage eventId={3} />)
    expect(await screen.findByText('Sale opened')).toBeTruthy()
    expect(screen.queryByText('Sale opens')).toBeNull()
  })

  it('says when an upcoming sale opens', async () => {
    event = tinyEvent({ sale_state: 'upcoming', sale_opens_at: new Date(Date.now() + 3600_000).toISOString(), waiting_room: { state: 'prequeue', queue_length: 0 } })
    render(<EventPage eventId={3} />)
    expect(await screen.findByText('Sale opens')).toBeTruthy()
  })

  it("counts at least the fan's own place in the queue when the event's count lags", async () => {
    event = tinyEvent()
    queue = { state: 'waiting', event_id: 3, position: 1, ahead: 0, eta_seconds: 5, poll_after_ms: 1000, sale_opens_at: event.sale_opens_at }
    render(<EventPage eventId={3} />)
    await waitFor(() => expect(screen.getByTestId('queue-length').textContent).toBe('1 fan'))
  })

  it("shows the event's count when the fan is not in the queue", async () => {
    event = tinyEvent({ waiting_room: { state: 'open', queue_length: 7 } })
    render(<EventPage eventId={3} />)
    await waitFor(() => expect(screen.getByTestId('queue-length').textContent).toBe('7 fans'))
  })
})
