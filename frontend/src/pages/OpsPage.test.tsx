// @vitest-environment jsdom
// The create-event form against a fake backend: an error the API names a
// field for shows at that field, in the form's words, and goes once the
// operator edits the form.
import { act, fireEvent, render, screen } from '@testing-library/react'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { session } from '../lib/session'
import { OpsPage } from './OpsPage'
import { jsonResponse, signInAs } from '../test-fakes'

async function settle() {
  await act(async () => {
    for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 0))
  })
}

beforeEach(() => {
  vi.stubGlobal('fetch', async (input: RequestInfo | URL, init?: RequestInit) => {
    const path = new URL(String(input), 'http://x').pathname
    const json = jsonResponse
    if (path === '/api/v1/admin/venues') return json(200, { venues: [{ id: 1, name: 'Arena', city: 'London', capacity: 100, timezone: 'Europe/London' }] })
    if (path === '/api/v1/events') return json(200, { events: [] })
    if (path === '/api/v1/admin/events' && init?.method === 'POST') {
      return json(422, { error: { code: 'invalid_field', message: 'starts_at must be in the future', details: { field: 'starts_at' }, request_id: 'r1' } })
    }
    return json(404, { error: { code: 'not_found', message: 'no' } })
  })
  signInAs('ops')
})

afterEach(() => {
  vi.unstubAllGlobals()
  session.signOut()
})

describe('OpsPage create event', () => {
  it('shows a refused field at the field, in its label, until the form is edited', async () => {
    render(<OpsPage />)
    await settle()
    fireEvent.change(screen.getByLabelText('Name'), { target: { value: 'Night' } })
    fireEvent.click(screen.getByRole('button', { name: 'Create event' }))
    await settle()
    const starts = screen.getByLabelText('Starts at')
    expect(starts.getAttribute('aria-invalid')).toBe('true')
    expect(screen.getByText('Starts at must be in the future.')).toBeTruthy()
    expect(screen.queryByText('The event was not created')).toBeNull()

    fireEvent.change(screen.getByLabelText('Name'), { target: { value: 'Night 2' } })
    expect(screen.queryByText('Starts at must be in the future.')).toBeNull()
    expect(starts.getAttribute('aria-invalid')).toBeNull()
  })

  it('refuses tickets per fan outside 1 to 50 at the field, before asking the API', async () => {
    render(<OpsPage />)
    await settle()
    fireEvent.change(screen.getByLabelText('Tickets per fan'), { target: { value: '51' } })
    fireEvent.click(screen.getByRole('button', { name: 'Create event' }))
    await settle()
    expect(screen.getByText('Tickets per fan must be a whole number from 1 to 50.')).toBeTruthy()
    expect(screen.queryByText('Starts at must be in the future.')).toBeNull()
  })
})
