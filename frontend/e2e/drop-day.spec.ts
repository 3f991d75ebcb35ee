// Drop day as a fan and an operator see it (issue 12), on a desktop and a
// phone: each test names what the old UI got wrong.
import { expect, test, type APIRequestContext, type Page } from '@playwright/test'
import { admission, admitted, openEvent, opsUser, password, registerFan, registerInBrowser, setAdmission, tinyEvent } from './helpers'

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` })

/** apiHold holds seats for an admitted fan through the API. */
async function apiHold(request: APIRequestContext, eventId: number, admissionToken: string, seatIds: number[], key = `k-${Math.random()}`) {
  return request.post(`/api/v1/events/${eventId}/holds`, { headers: { ...bearer(admissionToken), 'Idempotency-Key': key }, data: { seat_ids: seatIds } })
}

async function signInOps(page: Page, email: string, next: string) {
  await page.goto(`/signin?next=${encodeURIComponent(next)}`)
  await page.getByLabel('Email').fill(email)
  await page.getByLabel('Password').fill(password)
  await page.getByRole('button', { name: 'Sign in' }).click()
}

const viewports = [
  { name: 'desktop', viewport: { width: 1280, height: 800 } },
  { name: 'phone', viewport: { width: 390, height: 844 } },
]

for (const vp of viewports) {
  test.describe(vp.name, () => {
    test.use({ viewport: vp.viewport })

    test('the queue shows place, people ahead, estimate, progress and the last update above the fold', async ({ page, request }) => {
      const ops = await opsUser(request)
      const ev = await openEvent(request, ops, `Fold ${Date.now()}`)
      // One slot, taken: the fan waits in a queue that is not paused.
      await setAdmission(request, ops, ev.id, { rate_per_second: 50, max_active: 1, paused: false, auto: false })
      await admitted(request, await registerFan(request, 'First'), ev.id)
      await registerInBrowser(page, `/events/${ev.id}`)
      await page.getByRole('button', { name: 'Join the queue' }).click()
      const waiting = page.locator('[data-queue-state="waiting"]')
      await expect(waiting).toBeVisible()
      for (const what of [waiting.getByText('Your place', { exact: true }), waiting.getByText('People ahead'), waiting.getByText('Estimated wait'), page.getByRole('progressbar'), page.getByTestId('queue-updated')]) {
        await expect(what).toBeInViewport()
        const box = (await what.boundingBox())!
        expect(box.y + box.height, `${await what.textContent()} ends below the fold`).toBeLessThanOrEqual(vp.viewport.height)
      }
      await expect(page.getByTestId('queue-updated')).toContainText(/Last updated \d\d:\d\d:\d\d/)
    })

    test('pause and resume reach the fan within one poll, and the turn takes them to the seats without a click', async ({ page, request }) => {
      const ops = await opsUser(request)
      const ev = await openEvent(request, ops, `Pause ${Date.now()}`)
      await setAdmission(request, ops, ev.id, { rate_per_second: 50, max_active: 1, paused: false, auto: false })
      const first = await registerFan(request, 'First')
      await admitted(request, first, ev.id)
      await registerInBrowser(page, `/events/${ev.id}`)
      let pollAfter = 5_000
      page.on('response', async (r) => {
        if (/\/api\/v1\/events\/\d+\/queue$/.test(new URL(r.url()).pathname) && r.request().method() === 'GET' && r.ok()) pollAfter = (await r.json()).poll_after_ms
      })
      await page.getByRole('button', { name: 'Join the queue' }).click()
      const paused = page.getByText('The queue is paused for a moment')
      await expect(page.locator('[data-queue-state="waiting"]')).toBeVisible()
      await expect(paused).toBeHidden()

      await setAdmission(request, ops, ev.id, { rate_per_second: 50, max_active: 1, paused: true, auto: false })
      await expect(paused).toBeVisible({ timeout: pollAfter + 2_000 })
      await expect(page.getByText('Estimated wait')).toBeHidden()
      await setAdmission(request, ops, ev.id, { rate_per_second: 50, max_active: 1, paused: false, auto: false })
      await expect(paused).toBeHidden({ timeout: pollAfter + 2_000 })

      // The first fan leaves: the slot is this fan's, and the page goes to the seats by itself.
      expect((await request.delete(`/api/v1/events/${ev.id}/queue`, { headers: bearer(first.token) })).status()).toBe(204)
      await expect(page).toHaveURL(`/events/${ev.id}/seats`, { timeout: pollAfter + 5_000 })
      await expect(page.getByRole('heading', { level: 1, name: 'Choose your seats' })).toBeVisible()
    })

    test('leaving the queue asks first', async ({ page, request }) => {
      const ops = await opsUser(request)
      const ev = await openEvent(request, ops, `Leave ${Date.now()}`)
      await setAdmission(request, ops, ev.id, { rate_per_second: 10, max_active: 100, paused: true, auto: false })
      await registerInBrowser(page, `/events/${ev.id}`)
      await page.getByRole('button', { name: 'Join the queue' }).click()
      await expect(page.locator('[data-queue-state="waiting"]')).toBeVisible()
      await page.getByRole('button', { name: 'Leave the queue' }).click()
      await expect(page.getByText('Leave the queue and give up your place?')).toBeVisible()
      const token = await page.evaluate(() => JSON.parse(sessionStorage.getItem('tv.session')!).token)
      expect((await request.get(`/api/v1/events/${ev.id}/queue`, { headers: bearer(token) })).status(), 'one tap must not leave').toBe(200)
      await page.getByRole('button', { name: 'Stay in the queue' }).click()
      await expect(page.locator('[data-queue-state="waiting"]')).toBeVisible()
      await page.getByRole('button', { name: 'Leave the queue' }).click()
      await page.getByRole('button', { name: 'Yes, leave' }).click()
      await expect(page.getByRole('button', { name: 'Join the queue' })).toBeVisible()
      expect((await request.get(`/api/v1/events/${ev.id}/queue`, { headers: bearer(token) })).status()).toBe(404)
    })

    test('a live hold shows a banner with the time left on every page, leading back to checkout', async ({ page, request }) => {
      const ops = await opsUser(request)
      const ev = await tinyEvent(request, ops, 4, { rate_per_second: 50, max_active: 10, paused: false, auto: false })
      await registerInBrowser(page, `/events/${ev.id}`)
      await page.getByRole('button', { name: 'Join the queue' }).click()
      await expect(page).toHaveURL(`/events/${ev.id}/seats`, { timeout: 30_000 })
      await page.getByRole('heading', { name: 'Sections' }).locator('..').getByRole('button').first().click()
      await page.locator('[role="grid"] [data-status="available"]').first().click()
      await page.getByRole('button', { name: 'Hold 1 seat' }).first().click()
      await expect(page).toHaveURL(/\/holds\/[0-9a-f-]{36}$/)
      const checkout = page.url()
      await expect(page.getByTestId('held-banner')).toHaveCount(0) // checkout says it itself

      await page.getByRole('link', { name: 'Events' }).click()
      const banner = page.getByTestId('held-banner')
      await expect(banner).toContainText(/Your seat is held.*\d+:\d\d left to pay/)
      await expect(banner).toBeInViewport()
      await banner.getByRole('link', { name: 'Go to checkout →' }).click()
      await expect(page).toHaveURL(checkout)
      await expect(page.getByTestId('hold-left')).toBeVisible()
    })

    test('a 409 on a hold reads as a sentence, with the code only behind Details', async ({ page, request }) => {
      const ops = await opsUser(request)
      const ev = await tinyEvent(request, ops, 2, { rate_per_second: 50, max_active: 10, paused: false, auto: false })
      await registerInBrowser(page, `/events/${ev.id}`)
      await page.getByRole('button', { name: 'Join the queue' }).click()
      await expect(page).toHaveURL(`/events/${ev.id}/seats`, { timeout: 30_000 })
      const form = page.getByRole('heading', { name: 'Best available' }).locator('..')
      await expect(form.getByLabel('Tickets')).toBeVisible()
      // Hold back the map's refresh while a rival takes one of the two seats.
      let release!: () => void
      const gate = new Promise<void>((r) => (release = r))
      await page.route(/\/api\/v1\/events\/\d+\/seats(\/status)?$/, async (route) => {
        await gate
        await route.continue()
      })
      const rival = await admitted(request, await registerFan(request, 'Rival'), ev.id)
      expect((await apiHold(request, ev.id, rival, [0])).status()).toBe(201)
      await form.getByLabel('Tickets').selectOption('2')
      await form.getByRole('button', { name: 'Find and hold' }).click()
      const alert = page.getByRole('alert')
      await expect(alert).toContainText('There are not enough free seats there right now')
      await expect(alert.getByText('not_enough_seats')).toBeHidden()
      await expect(alert.locator('code')).toBeHidden()
      await alert.getByText('Details').click()
      await expect(alert.getByText('not_enough_seats')).toBeVisible()
      release()
    })

    test('the phone seat map shows every seat of a row by scrolling, with the row label in view', async ({ page, request }) => {
      const ops = await opsUser(request)
      const ev = await openEvent(request, ops, `Rows ${Date.now()}`)
      await registerInBrowser(page, `/events/${ev.id}`)
      await page.getByRole('button', { name: 'Join the queue' }).click()
      await expect(page).toHaveURL(`/events/${ev.id}/seats`, { timeout: 30_000 })
      await page.getByRole('heading', { name: 'Sections' }).locator('..').getByRole('button').first().click()
      const grid = page.getByRole('grid')
      await expect(grid).toBeVisible()
      await expect(grid).toBeInViewport() // opening a section scrolls to it
      const row = grid.getByRole('row').first()
      const label = row.getByRole('rowheader')
      const seats = row.locator('[data-seat]')
      const last = seats.last()
      if (vp.name === 'phone') await expect(page.getByTestId('scroll-hint')).toBeVisible()
      await last.scrollIntoViewIfNeeded()
      await expect(last).toBeInViewport()
      await expect(label).toBeInViewport()
      // The label is not covered by the seats scrolled under it.
      const box = (await label.boundingBox())!
      const hit = await page.evaluate(([x, y]) => document.elementFromPoint(x, y)?.getAttribute('role'), [box.x + box.width / 2, box.y + box.height / 2])
      expect(hit).toBe('rowheader')
      await seats.first().scrollIntoViewIfNeeded()
      await expect(seats.first()).toBeInViewport()
    })

    test('ops: Resume keeps a typed rate, and the charts show 409s rise in a hot-seat burst', async ({ page, request }) => {
      test.setTimeout(90_000)
      const ops = await opsUser(request)
      const ev = await openEvent(request, ops, `Burst ${Date.now()}`)
      await signInOps(page, ops.email, `/ops/events/${ev.id}`)
      await expect(page.getByRole('button', { name: 'Pause' })).toBeVisible()
      await page.getByRole('button', { name: 'Pause' }).click()
      await expect(page.getByTestId('admission-state')).toHaveText('Admission is paused')
      await page.getByLabel('Rate (fans per second)').fill('9')
      await page.getByRole('button', { name: 'Resume' }).click()
      await expect(page.getByTestId('admission-state')).toHaveText('Admission is running')
      expect(await admission(request, ops, ev.id)).toMatchObject({ rate_per_second: 9, paused: false })
      await expect(page.getByLabel('Rate (fans per second)')).toHaveValue('9')
      await setAdmission(request, ops, ev.id, { rate_per_second: 100, max_active: 1000, paused: false, auto: false })

      const conflicts = page.getByTestId('chart-holds').locator('[data-series="409 conflict"]')
      await expect(page.getByTestId('chart-holds')).toBeVisible()
      await expect(page.getByTestId('chart-queue')).toContainText('fans')
      expect(Number((await conflicts.getAttribute('data-peak')) || 0)).toBe(0)

      // 10 fans want the same two seats, three tries each, at once: one wins, the rest get 409.
      const fans = await Promise.all(Array.from({ length: 10 }, (_, i) => registerFan(request, `Hot ${i}`)))
      const tokens = await Promise.all(fans.map((f) => admitted(request, f, ev.id)))
      const tries = tokens.flatMap((t) => [1, 2, 3].map(() => t))
      const statuses = await Promise.all(tries.map(async (t) => (await apiHold(request, ev.id, t, [100, 101])).status()))
      expect(statuses.filter((s) => s === 409).length, statuses.join(' ')).toBeGreaterThanOrEqual(25)
      await expect.poll(async () => Number((await conflicts.getAttribute('data-peak')) || 0), { timeout: 25_000 }).toBeGreaterThan(1)
      await expect(page.getByTestId('chart-holds').locator('[data-series="201 held"]')).toHaveAttribute('data-peak', /^[0-9.]+$/)
      await expect(page.getByTestId('charts-stale')).toHaveCount(0)
    })
  })
}
