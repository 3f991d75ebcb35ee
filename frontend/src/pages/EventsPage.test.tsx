// @vitest-environment jsdom
// The events list: a venue without a city reads without a trailing comma.
import { render, screen } from '@testing-library/react'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { Event } from '../lib/api'
import { EventsPage } from './EventsPage'

const event = (id: number, city: string): Event => ({
  id,
  slug: `e${id}`,
  name: `Night ${id}`,
  venue: { id, name: `Grid venue grid-${id} (3 seats)`, city, timezone: 'UTC' },
  starts_at: '2030-02-01T20:00:00Z',
  sale_opens_at: '2020-01-01T10:00:00Z',
  max_tickets_per_fan: 4,
  currency: 'GBP',
  capacity: 3,
  seats_left: 3,
  sale_state: 'open',
})

beforeEach(() => {
  vi.stubGlobal('fetch', async () => new Response(JSON.stringify({ events: [event(3, ''), event(4, 'Leeds')] }), { status: 200, headers: { 'Content-Type': 'application/json' } }))
})

afterEach(() => {
  vi.unstubAllGlobals()
})

describe('EventsPage', () => {
  it('names the venue, and its city only when it has one', async () => {
    render(<EventsPage />)
    expect(await screen.findByText('Grid venue grid-3 (3 seats)')).toBeTruthy()
    expect(screen.getByText('Grid venue grid-4 (3 seats), Leeds')).toBeTruthy()
    // The badge keeps "On sale" on one line beside a long name.
    expect(screen.getAllByText('On sale', { exact: true })[0].parentElement?.className).toContain('whitespace-nowrap')
  })
})
