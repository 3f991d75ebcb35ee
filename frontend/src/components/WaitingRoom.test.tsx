// @vitest-environment jsdom
// The waiting room against a fake queue: sold out and paused come from the
// fan's own queue status (the event page's state is seconds stale), show
// instead of a wait estimate, and clear at the poll that says so.
import { act, render, screen } from '@testing-library/react'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { Event, QueueStatus, WaitingRoomState } from '../lib/api'
import { queueStall } from '../lib/queue'
import { session } from '../lib/session'
import { WaitingRoom } from './WaitingRoom'
import { signInAs, tinyEvent } from '../test-fakes'

const eventId = 3
const pollMs = 1000

function event(room: WaitingRoomState = 'open', sale: Event['sale_state'] = 'open'): Event {
  return tinyEvent({ seats_left: sale === 'sold_out' ? 0 : 2, sale_state: sale, waiting_room: { state: room, queue_length: 5 } })
}

const waiting = (over: Partial<QueueStatus> = {}): QueueStatus => ({
  state: 'waiting',
  event_id: eventId,
  position: 4,
  ahead: 3,
  eta_seconds: 120,
  paused: false,
  sold_out: false,
  poll_after_ms: pollMs,
  sale_opens_at: '2020-01-01T10:00:00Z',
  ...over,
})

/** queue is what the fake GET /queue answers next (404 not_in_queue when null). */
let queue: QueueStatus | null

async function settle() {
  await act(async () => {
    for (let i = 0; i < 20; i++) await vi.advanceTimersByTimeAsync(0)
  })
}

async function nextPoll() {
  await act(async () => {
    await vi.advanceTimersByTimeAsync(pollMs)
  })
  await settle()
}

async function open(ev: Event) {
  render(<WaitingRoom event={ev} auth={session.get()} />)
  await settle()
}

const soldOutNotice = () => screen.queryByText('Sold out for now')
const pausedNotice = () => screen.queryByText('The queue is paused for a moment')
const liveStatus = () => screen.getAllByRole('status').find((el) => el.className.includes('sr-only'))!.textContent

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
  queue = null
  vi.stubGlobal('fetch', async (input: RequestInfo | URL) => {
    const path = new URL(String(input), 'http://x').pathname
    if (path === `/api/v1/events/${eventId}/queue` && queue) {
      return new Response(JSON.stringify(queue), { status: 200, headers: { 'Content-Type': 'application/json' } })
    }
    return new Response(JSON.stringify({ error: { code: 'not_in_queue', message: 'no place' } }), { status: 404 })
  })
  signInAs('fan')
})

afterEach(() => {
  vi.useRealTimers()
  vi.unstubAllGlobals()
  session.signOut()
})

describe('WaitingRoom sold out', () => {
  it('says sold out instead of a wait from the status itself, keeps the place on screen, and clears at the next poll', async () => {
    queue = waiting({ sold_out: true, eta_seconds: undefined })
    // The event page still says open: the status is what counts.
    await open(event('open'))
    expect(soldOutNotice()).toBeTruthy()
    expect(screen.getByText(/Keep your place: unpaid holds expire and the queue moves again as soon as seats come back\./)).toBeTruthy()
    expect(screen.getByText('Your place').nextSibling?.textContent).toBe('4')
    expect(screen.getByText('People ahead').nextSibling?.textContent).toBe('3')
    expect(screen.queryByText('Estimated wait')).toBeNull()
    expect(screen.queryByText('calculating…')).toBeNull()
    expect(liveStatus()).toBe('You are in the queue. Every seat is taken right now; your place is kept.')

    queue = waiting({ sold_out: false, eta_seconds: 120 })
    await nextPoll()
    expect(soldOutNotice()).toBeNull()
    expect(screen.getByText('Estimated wait').nextSibling?.textContent).toBe('about 2 minutes')
    expect(liveStatus()).toBe('You are in the queue.')
  })

  it('shows no sold out the stale event page still reports once the status says a seat came back', async () => {
    queue = waiting()
    await open(event('sold_out', 'sold_out'))
    expect(soldOutNotice()).toBeNull()
    expect(screen.getByText('Estimated wait')).toBeTruthy()
  })

  it('says both when sold out and paused at once', async () => {
    queue = waiting({ sold_out: true, paused: true, eta_seconds: undefined })
    await open(event('paused'))
    expect(soldOutNotice()).toBeTruthy()
    expect(screen.getByText(/The organisers have also paused admission/)).toBeTruthy()
    expect(pausedNotice()).toBeNull()
    expect(screen.queryByText('Estimated wait')).toBeNull()
  })
})

describe('WaitingRoom paused', () => {
  it('shows a pause at the poll that reports it, before the event page knows, with no estimate', async () => {
    queue = waiting()
    await open(event('open'))
    expect(pausedNotice()).toBeNull()
    queue = waiting({ paused: true, eta_seconds: undefined })
    await nextPoll()
    expect(pausedNotice()).toBeTruthy()
    expect(screen.queryByText('calculating…')).toBeNull()
    expect(liveStatus()).toBe('You are in the queue. The queue is paused; your place is kept.')
  })

  it('falls back on the event page for a status without the flags (an older backend)', async () => {
    queue = waiting({ paused: undefined, sold_out: undefined, eta_seconds: undefined })
    await open(event('paused'))
    expect(pausedNotice()).toBeTruthy()
  })
})

describe('WaitingRoom join while sold out', () => {
  it('lets a fan join the queue for returns rather than turning them away', async () => {
    await open(event('sold_out', 'sold_out'))
    expect(screen.getByText(/Every seat is held or sold right now\. Unpaid holds expire/)).toBeTruthy()
    expect(screen.getByRole('button', { name: 'Join the queue for returns' })).toBeTruthy()
  })
})

describe('queueStall', () => {
  it('reads the status first and the room state only when the status has no flags', () => {
    const st = waiting({ paused: undefined, sold_out: undefined })
    expect(queueStall(st, 'sold_out')).toEqual({ soldOut: true, paused: false })
    expect(queueStall(st, 'paused')).toEqual({ soldOut: false, paused: true })
    expect(queueStall(st, undefined)).toEqual({ soldOut: false, paused: false })
    expect(queueStall(waiting({ sold_out: true }), 'open')).toEqual({ soldOut: true, paused: false })
    expect(queueStall(waiting({ sold_out: false, paused: false }), 'sold_out')).toEqual({ soldOut: false, paused: false })
  })
})

describe('WaitingRoom last update', () => {
  it('says when a polled place was last confirmed, and says nothing of it once the turn came (no more polls, so its age would only grow)', async () => {
    queue = waiting()
    await open(event('open'))
    expect(screen.getByTestId('queue-updated').textContent).toMatch(/^Last updated \d\d:\d\d:\d\d \(just now\)$/)

    queue = { state: 'admitted', event_id: eventId, poll_after_ms: pollMs, sale_opens_at: '2020-01-01T10:00:00Z', admission_token: 'adm', admission_expires_at: new Date(Date.now() + 300_000).toISOString() }
    await nextPoll()
    expect(screen.getByText("It's your turn!")).toBeTruthy()
    expect(screen.queryByTestId('queue-updated')).toBeNull()
  })
})
