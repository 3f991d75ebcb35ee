// Helpers for the browser tests: accounts and events made through the real
// API and CLI, so each test starts from a world of its own on the shared
// backend.
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import AxeBuilder from '@axe-core/playwright'
import { expect, type APIRequestContext, type Page } from '@playwright/test'

export const password = 'correct horse battery staple 42'

export function uniqueEmail(tag: string): string {
  return `${tag}-${randomBytes(5).toString('hex')}@e2e.example.com`
}

interface Auth {
  token: string
  email: string
}

/** ticketvelo runs the test's binary with the backend's environment. */
export function ticketvelo(args: string[], extraEnv: Record<string, string> = {}): string {
  const env = JSON.parse(process.env.TV_ENV ?? '{}') as Record<string, string>
  return execFileSync(process.env.TV_BIN!, args, { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env, ...extraEnv }, encoding: 'utf8' })
}

/** opsUser makes an ops account with the CLI and signs it in. */
export async function opsUser(request: APIRequestContext): Promise<Auth> {
  const email = uniqueEmail('ops')
  ticketvelo(['user', 'create', '--role', 'ops', '--email', email, '--name', 'Olive Ops'], { TICKETVELO_USER_PASSWORD: password })
  return login(request, email)
}

export async function login(request: APIRequestContext, email: string): Promise<Auth> {
  const res = await request.post('/api/v1/auth/login', { data: { email, password } })
  expect(res.status(), await res.text()).toBe(200)
  return { token: (await res.json()).access_token, email }
}

export async function registerFan(request: APIRequestContext, name = 'Fan'): Promise<Auth> {
  const email = uniqueEmail('fan')
  const res = await request.post('/api/v1/auth/register', { data: { email, password, name } })
  expect(res.status(), await res.text()).toBe(201)
  return { token: (await res.json()).access_token, email }
}

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` })

/**
 * openEvent creates an event at the largest venue (the arena) whose sale
 * opened a minute ago (or opens in opensInMs) and lets fans in quickly, so a
 * test is not kept waiting.
 */
export async function openEvent(request: APIRequestContext, ops: Auth, name: string, opensInMs = -60_000): Promise<{ id: number; name: string }> {
  const venues = await request.get('/api/v1/admin/venues', { headers: bearer(ops.token) })
  expect(venues.status(), await venues.text()).toBe(200)
  // The arena (venues are listed by name, and tinyEvent's grid venues sort
  // first): the specs using this expect its sections and its 19,920 seats.
  const list = (await venues.json()).venues as { id: number; capacity: number }[]
  const venue = list.reduce((a, b) => (b.capacity > a.capacity ? b : a))
  const res = await request.post('/api/v1/admin/events', {
    headers: bearer(ops.token),
    data: {
      venue_id: venue.id,
      name,
      starts_at: new Date(Date.now() + 30 * 86400_000).toISOString(),
      sale_opens_at: new Date(Date.now() + opensInMs).toISOString(),
      max_tickets_per_fan: 6,
    },
  })
  expect(res.status(), await res.text()).toBe(201)
  const ev = (await res.json()).event
  await setAdmission(request, ops, ev.id, { rate_per_second: 100, max_active: 1000, paused: false, auto: false })
  return { id: ev.id, name: ev.name }
}

/**
 * tinyEvent seeds, with the CLI, a venue of exactly seats seats and an event
 * on it whose sale opened a minute ago (up to 10 tickets a fan), so a test
 * can hold every seat, and sets its admission.
 */
export async function tinyEvent(request: APIRequestContext, ops: Auth, seats: number, s: { rate_per_second: number; max_active: number; paused: boolean; auto: boolean }): Promise<{ id: number }> {
  const slug = `e2e-tiny-${randomBytes(5).toString('hex')}`
  const out = ticketvelo(['seed', '--seats', String(seats), '--slug', slug, '--sale-opens-in', '-1m'])
  const id = Number(/seeded event (\d+)/.exec(out)?.[1])
  expect(id, `seed said: ${out}`).toBeGreaterThan(0)
  await setAdmission(request, ops, id, s)
  return { id }
}

export async function admission(request: APIRequestContext, ops: Auth, eventId: number) {
  const res = await request.get(`/api/v1/admin/events/${eventId}/admission`, { headers: bearer(ops.token) })
  expect(res.status(), await res.text()).toBe(200)
  return res.json()
}

export async function setAdmission(request: APIRequestContext, ops: Auth, eventId: number, s: { rate_per_second: number; max_active: number; paused: boolean; auto: boolean }) {
  const res = await request.put(`/api/v1/admin/events/${eventId}/admission`, { headers: bearer(ops.token), data: s })
  expect(res.status(), await res.text()).toBe(200)
}

/** admitted joins the queue through the API and polls until let in. */
export async function admitted(request: APIRequestContext, fan: Auth, eventId: number): Promise<string> {
  const join = await request.post(`/api/v1/events/${eventId}/queue`, { headers: bearer(fan.token) })
  expect([200, 201], await join.text()).toContain(join.status())
  let st = await join.json()
  const deadline = Date.now() + 30_000
  while (st.state !== 'admitted') {
    expect(Date.now(), `still ${st.state} after 30 s`).toBeLessThan(deadline)
    await new Promise((r) => setTimeout(r, Math.max(250, Math.min(st.poll_after_ms ?? 1000, 2000))))
    const res = await request.get(`/api/v1/events/${eventId}/queue`, { headers: bearer(fan.token) })
    expect(res.status(), await res.text()).toBe(200)
    st = await res.json()
  }
  return st.admission_token
}

/** registerInBrowser creates a fan account through the UI. */
export async function registerInBrowser(page: Page, next: string, name = 'Robin Fan'): Promise<string> {
  const email = uniqueEmail('ui')
  await page.goto(`/register?next=${encodeURIComponent(next)}`)
  await page.getByLabel('Name').fill(name)
  await page.getByLabel('Email').fill(email)
  await page.getByLabel('Password').fill(password)
  await page.getByRole('button', { name: 'Create account' }).click()
  await expect(page).toHaveURL(next)
  return email
}

/** joinAndWaitForTurn joins the queue on the event page and waits to be let in: the turn takes the fan to the seats. */
export async function joinAndWaitForTurn(page: Page) {
  await page.getByRole('button', { name: /^Join the (pre-)?queue$/ }).click()
  await expect(page).toHaveURL(/\/events\/\d+\/seats$/, { timeout: 45_000 })
  await expect(page.getByRole('heading', { level: 1, name: 'Choose your seats' })).toBeVisible()
}

/**
 * axeViolations lists the WCAG 2.1 AA violations axe-core finds on the page,
 * or only within the elements include selects (a section of several hundred
 * seat buttons takes axe a minute on this machine; a few rows say as much).
 */
export async function axeViolations(page: Page, include?: string): Promise<string[]> {
  let axe = new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'])
  if (include) axe = axe.include(include)
  const res = await axe.analyze()
  return res.violations.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ')}`)
}
