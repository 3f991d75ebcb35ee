import { expect, test } from '@playwright/test'
import { openEvent, opsUser, registerInBrowser, setAdmission } from './helpers'

const queuePath = /\/api\/v1\/events\/\d+\/queue$/

test('the waiting room polls no faster than poll_after_ms, rides out failed polls, and lets the fan leave', async ({ page, request }) => {
  const ops = await opsUser(request)
  const ev = await openEvent(request, ops, `Queue ${Date.now()}`)
  // Paused: the fan stays in the queue for the whole test.
  await setAdmission(request, ops, ev.id, { rate_per_second: 10, max_active: 100, paused: true, auto: false })
  await registerInBrowser(page, `/events/${ev.id}`)

  // Every answer of the queue, with when its request left and the hint it gave.
  const polls: { sent: number; pollAfter: number }[] = []
  page.on('requestfinished', async (req) => {
    if (!queuePath.test(new URL(req.url()).pathname) || req.method() === 'DELETE') return
    const res = await req.response()
    if (res?.ok()) polls.push({ sent: req.timing().startTime, pollAfter: (await res.json()).poll_after_ms })
  })

  await page.getByRole('button', { name: 'Join the queue' }).click()
  const waiting = page.locator('[data-queue-state="waiting"]')
  await expect(waiting).toContainText('You are in the queue.')
  await expect(waiting.getByText('Your place', { exact: true })).toBeVisible()
  await expect.poll(() => polls.length, { timeout: 30_000 }).toBeGreaterThanOrEqual(3)
  for (let i = 1; i < polls.length; i++) {
    const gap = polls[i].sent - polls[i - 1].sent
    expect(gap, `poll ${i} came ${gap} ms after the last, which asked for ${polls[i - 1].pollAfter} ms`).toBeGreaterThanOrEqual(polls[i - 1].pollAfter - 50)
  }

  // The queue becomes unreachable: a calm notice, the place stays on screen.
  await page.route(queuePath, (route) => (route.request().method() === 'GET' ? route.abort('connectionrefused') : route.continue()))
  await expect(page.getByText('Reconnecting…')).toBeVisible({ timeout: 30_000 })
  await expect(waiting).toBeVisible()
  await page.unroute(queuePath)
  await expect(page.getByText('Reconnecting…')).toBeHidden({ timeout: 30_000 })

  await page.getByRole('button', { name: 'Leave the queue' }).click()
  await page.getByRole('button', { name: 'Yes, leave' }).click()
  await expect(page.getByRole('button', { name: 'Join the queue' })).toBeVisible()
  const token = await page.evaluate(() => JSON.parse(sessionStorage.getItem('tv.session')!).token)
  const after = await request.get(`/api/v1/events/${ev.id}/queue`, { headers: { Authorization: `Bearer ${token}` } })
  expect(after.status()).toBe(404)
  expect((await after.json()).error.code).toBe('not_in_queue')
})

test('a background tab polls every 20 s at most, and catches up as soon as it is visible again', async ({ page, request }) => {
  const ops = await opsUser(request)
  const ev = await openEvent(request, ops, `Hidden ${Date.now()}`)
  await setAdmission(request, ops, ev.id, { rate_per_second: 10, max_active: 100, paused: true, auto: false })
  await registerInBrowser(page, `/events/${ev.id}`)
  const polls: number[] = []
  page.on('request', (req) => {
    if (queuePath.test(new URL(req.url()).pathname) && req.method() === 'GET') polls.push(Date.now())
  })
  const setHidden = (hidden: boolean) =>
    page.evaluate((h) => {
      Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => (h ? 'hidden' : 'visible') })
      document.dispatchEvent(new Event('visibilitychange'))
    }, hidden)

  await page.getByRole('button', { name: 'Join the queue' }).click()
  await expect(page.locator('[data-queue-state="waiting"]')).toBeVisible()
  await expect.poll(() => polls.length, { timeout: 15_000 }).toBeGreaterThanOrEqual(1)

  await setHidden(true)
  const hiddenFrom = polls.length
  await expect.poll(() => polls.length, { timeout: 30_000 }).toBeGreaterThan(hiddenFrom)
  const gap = polls[hiddenFrom] - polls[hiddenFrom - 1]
  expect(gap, `a hidden tab polled ${gap} ms after the last poll`).toBeGreaterThanOrEqual(19_500)

  // Back in front: the next poll comes on the server's hint (about 5 s),
  // not at the background's 20 s.
  await setHidden(false)
  const shownAt = Date.now()
  const shownFrom = polls.length
  await expect.poll(() => polls.length, { timeout: 15_000 }).toBeGreaterThan(shownFrom)
  expect(polls[shownFrom] - shownAt).toBeLessThan(10_000)
})
