// @vitest-environment jsdom
// The ops console's live figures against a fake backend: sold out shows in
// the room's state, a notice and the wait at the back, and clears with the
// next refresh once a seat came back.
import { act, render, screen } from '@testing-library/react'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { AdmissionStats } from '../lib/api'
import { session } from '../lib/session'
import { OpsEventPage, statsRefreshMs } from './OpsEventPage'

const eventId = 7

const open: AdmissionStats = {
  state: 'open',
  queue_length: 40,
  prequeue_length: 0,
  admitted_total: 12,
  active: 3,
  rate_per_second: 10,
  measured_rate_per_second: 2.5,
  max_active: 100,
  paused: false,
  sold_out: false,
  auto: false,
  abandoned: 0,
  eta_back_seconds: 95,
  draw_seed: '',
}

let stats: AdmissionStats

async function settle() {
  await act(async () => {
    for (let i = 0; i < 20; i++) await vi.advanceTimersByTimeAsync(0)
  })
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
  stats = open
  vi.stubGlobal('fetch', async (input: RequestInfo | URL) => {
    const path = new URL(String(input), 'http://x').pathname
    const json = (body: unknown) => new Response(JSON.stringify(body), { status: 200, headers: { 'Content-Type': 'application/json' } })
    if (path === `/api/v1/admin/events/${eventId}/stats`) return json(stats)
    if (path === `/api/v1/admin/events/${eventId}/admission`) return json({ rate_per_second: 10, max_active: 100, paused: false, auto: false })
    if (path === `/api/v1/events/${eventId}`) {
      return json({ event: { id: eventId, name: 'Tiny night', sale_opens_at: '2030-01-01T00:00:00Z', venue: { id: 1, name: 'Grid', city: '', timezone: 'UTC' } } })
    }
    return new Response(JSON.stringify({ error: { code: 'not_found', message: 'no' } }), { status: 404 })
  })
  session.signIn({ user: { id: 1, email: 'o@e.x', name: 'Ops', role: 'ops' }, access_token: 'tok', token_type: 'Bearer', expires_at: new Date(Date.now() + 3600_000).toISOString() })
})

afterEach(() => {
  vi.useRealTimers()
  vi.unstubAllGlobals()
  session.signOut()
})

const waitAtBack = () => screen.getByText('Wait at back').parentElement!.textContent

describe('OpsEventPage live figures', () => {
  it('shows sold out in the room state, a notice and the wait at the back, and clears it when a seat comes back', async () => {
    stats = { ...open, state: 'sold_out', sold_out: true, eta_back_seconds: null }
    render(<OpsEventPage eventId={eventId} />)
    await settle()
    expect(screen.getByTestId('room-state').textContent).toBe('Waiting room: Queue waiting for returns')
    expect(screen.getByText('Sold out: nobody is being admitted')).toBeTruthy()
    expect(waitAtBack()).toBe('Wait at back—sold out')

    stats = open
    await act(async () => {
      await vi.advanceTimersByTimeAsync(statsRefreshMs)
    })
    await settle()
    expect(screen.getByTestId('room-state').textContent).toBe('Waiting room: Queue moving')
    expect(screen.queryByText('Sold out: nobody is being admitted')).toBeNull()
    expect(waitAtBack()).toBe('Wait at back1 min 35 s')

    // Paused, nobody moves: no wait to show, whatever figure came with it.
    stats = { ...open, paused: true, eta_back_seconds: 0 }
    await act(async () => {
      await vi.advanceTimersByTimeAsync(statsRefreshMs)
    })
    await settle()
    expect(waitAtBack()).toBe('Wait at back—paused')
  })

  it('says paused rather than a zero wait while ops paused admission', async () => {
    stats = { ...open, state: 'paused', paused: true, eta_back_seconds: null }
    render(<OpsEventPage eventId={eventId} />)
    await settle()
    expect(screen.getByTestId('room-state').textContent).toBe('Waiting room: Queue paused')
    expect(waitAtBack()).toBe('Wait at back—paused')
    expect(screen.queryByText('Sold out: nobody is being admitted')).toBeNull()
  })
})
