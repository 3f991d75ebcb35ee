import { expect, test } from '@playwright/test'

// The binary serves the embedded UI: pages by path with a fallback to
// index.html for client-side routes, hashed assets cached for good.

test('the home page is the embedded UI', async ({ page }) => {
  const res = await page.goto('/')
  expect(res?.status()).toBe(200)
  await expect(page).toHaveTitle(/TicketVelo/)
  await expect(page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'TicketVelo' })).toBeVisible()
  await expect(page.getByRole('heading', { level: 1, name: 'Events' })).toBeVisible()
})

test('a deep link reloads into the app, and a missing page says so', async ({ page }) => {
  await page.goto('/signin')
  await expect(page.getByRole('heading', { level: 1, name: 'Sign in' })).toBeVisible()
  await expect(page.getByLabel('Email')).toBeVisible()
  await page.goto('/no/such/page')
  await expect(page.getByRole('heading', { level: 1, name: 'Page not found' })).toBeVisible()
})

test('hashed assets are cached as immutable; a missing asset is a 404', async ({ page, request }) => {
  const assets: string[] = []
  page.on('response', (r) => {
    if (new URL(r.url()).pathname.startsWith('/assets/')) assets.push(r.url())
  })
  await page.goto('/')
  await expect(page.getByRole('heading', { level: 1 })).toBeVisible()
  expect(assets.length).toBeGreaterThan(0)
  const res = await request.get(assets[0])
  expect(res.status()).toBe(200)
  expect(res.headers()['cache-control']).toContain('immutable')
  expect((await request.get('/assets/missing-0000.js')).status()).toBe(404)
})

test('the app stays small for drop-day connections', async ({ page }) => {
  let bytes = 0
  page.on('response', async (r) => {
    if (new URL(r.url()).pathname.startsWith('/assets/')) bytes += (await r.body()).length
  })
  await page.goto('/')
  await page.waitForLoadState('networkidle')
  // Uncompressed JS + CSS of the first page; gzip cuts it to about a third.
  expect(bytes).toBeLessThan(400_000)
})

test('the events page lists the seeded events with their venue and seats left', async ({ page }) => {
  await page.goto('/')
  const events = page.getByRole('list', { name: 'Events' })
  const arena = events.getByRole('article').filter({ hasText: 'Aurora Skies — World Tour' })
  await expect(arena).toBeVisible()
  await expect(arena).toContainText('Northgate Arena, Manchester')
  await expect(arena).toContainText('of 19,920 seats left')
  await expect(events.getByRole('article').filter({ hasText: 'Midnight Strings — Live at the Lyceum' })).toContainText('Royal Lyceum Theatre, Edinburgh')

  // The event page: prices by section and the waiting room's pre-queue.
  await arena.getByRole('link').click()
  await expect(page.getByRole('heading', { level: 1, name: 'Aurora Skies — World Tour' })).toBeVisible()
  const prices = page.getByRole('table')
  await expect(prices).toContainText('£149.00 – £189.00')
  await expect(prices).not.toContainText('Section 101')
  await prices.getByRole('button', { name: /Lower bowl/ }).click()
  await expect(prices.getByRole('rowheader', { name: 'Section 101' })).toBeVisible()
  await expect(page.getByRole('button', { name: 'Sign in to join' })).toBeVisible()
})
