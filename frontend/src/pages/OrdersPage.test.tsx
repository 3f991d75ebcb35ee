// @vitest-environment jsdom
// My orders against a fake backend: a session that ended offers to sign in
// (a retry fails the same way), and each order names its event's venue and
// date and its seats as checkout does.
import { render, screen, waitFor } from '@testing-library/react'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { Order } from '../lib/api'
import { session } from '../lib/session'
import { OrdersPage } from './OrdersPage'
import { jsonResponse, signInAs, tinyEvent } from '../test-fakes'

const order: Order = {
  id: '0123456789abcdef',
  event_id: 3,
  event_name: 'Tiny night',
  status: 'confirmed',
  tickets: [{ id: 't1', seat_id: 11, section: 'Circle', row: 'A', number: 11, price_cents: 2500 }],
  total_cents: 2500,
  currency: 'GBP',
  created_at: '2030-01-05T12:00:00Z',
  canceled_at: null,
}

const event = tinyEvent({ venue: { id: 1, name: 'Grid', city: 'Leeds', timezone: 'Europe/London' }, seats_left: 1, waiting_room: undefined })

/** ordersAnswer is what GET /orders answers. */
let ordersAnswer: { status: number; body: unknown }

const json = jsonResponse

beforeEach(() => {
  vi.stubGlobal('fetch', async (input: RequestInfo | URL) => {
    const path = new URL(String(input), 'http://x').pathname
    if (path === '/api/v1/orders') return json(ordersAnswer.status, ordersAnswer.body)
    if (path === '/api/v1/events/3') return json(200, { event })
    return json(404, { error: { code: 'not_found', message: 'no' } })
  })
  signInAs('fan')
})

afterEach(() => {
  vi.unstubAllGlobals()
  session.signOut()
})

describe('OrdersPage', () => {
  it('offers to sign in again, back to My orders, when the session has ended', async () => {
    ordersAnswer = { status: 401, body: { error: { code: 'token_expired', message: 'token expired' } } }
    render(<OrdersPage />)
    const signIn = await screen.findByRole('link', { name: 'Sign in' })
    expect(signIn.getAttribute('href')).toBe('/signin?next=%2Forders')
    expect(screen.getByText('Your session has ended. Sign in again.')).toBeTruthy()
    expect(screen.queryByRole('button', { name: 'Try again' })).toBeNull()
  })

  it('offers a retry for a failure that may pass', async () => {
    ordersAnswer = { status: 500, body: { error: { code: 'internal', message: 'boom' } } }
    render(<OrdersPage />)
    expect(await screen.findByRole('button', { name: 'Try again' })).toBeTruthy()
    expect(screen.queryByRole('link', { name: 'Sign in' })).toBeNull()
  })

  it("names the seats as checkout does, and the event's venue and date", async () => {
    ordersAnswer = { status: 200, body: { orders: [order] } }
    render(<OrdersPage />)
    expect(await screen.findByText('Section Circle, row A, seat 11')).toBeTruthy()
    await waitFor(() => expect(screen.getByTestId('order-event').textContent).toMatch(/^Grid, Leeds · .*2030/))
  })
})
