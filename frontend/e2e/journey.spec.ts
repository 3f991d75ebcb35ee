import { expect, test, type APIRequestContext, type Page } from '@playwright/test'
import { admitted, axeViolations, joinAndWaitForTurn, openEvent, opsUser, registerFan, registerInBrowser } from './helpers'

/** chooseFirstFreeSeat opens the seat page and picks the first free seat of the first section. */
async function chooseFirstFreeSeat(page: Page): Promise<{ seatId: number; label: string }> {
  const sections = page.getByRole('heading', { name: 'Sections' }).locator('..').getByRole('button')
  await sections.first().click()
  const seat = page.locator('[role="grid"] [data-status="available"]').first()
  const seatId = Number(await seat.getAttribute('data-seat'))
  const label = (await seat.getAttribute('aria-label'))!.split(', £')[0] // "Row 1, seat 1"
  await seat.click()
  return { seatId, label }
}

/** rivalHolds has another fan, admitted through the API, hold the seat. */
async function rivalHolds(request: APIRequestContext, eventId: number, seatId: number) {
  const rival = await registerFan(request, 'Rival')
  const token = await admitted(request, rival, eventId)
  const taken = await request.post(`/api/v1/events/${eventId}/holds`, {
    headers: { Authorization: `Bearer ${token}`, 'Idempotency-Key': `rival-${Date.now()}` },
    data: { seat_ids: [seatId] },
  })
  expect(taken.status(), await taken.text()).toBe(201)
}

test('a fan registers, queues, is let in, holds two seats, pays, sees the order and cancels it', async ({ page, request }) => {
  test.setTimeout(120_000)
  const ops = await opsUser(request)
  const ev = await openEvent(request, ops, `Journey ${Date.now()}`)

  await registerInBrowser(page, `/events/${ev.id}`)
  await expect(page.getByRole('heading', { level: 1, name: ev.name })).toBeVisible()
  await joinAndWaitForTurn(page)
  await expect(page.getByTestId('admission-left')).toHaveText(/^\d+:\d\d$/)
  await expect(page.getByTestId('seat-canvas')).toBeVisible()
  expect(await axeViolations(page), 'seat map overview').toEqual([])
  // Zoom into the first section from the keyboard-friendly list.
  const sections = page.getByRole('heading', { name: 'Sections' }).locator('..').getByRole('button')
  await sections.first().click()
  const free = page.locator('[role="grid"] [data-status="available"][aria-pressed="false"]')
  await free.nth(0).click()
  await free.nth(0).click() // the first free seat is now chosen, so nth(0) is the next one
  await expect(page.locator('[role="grid"] [aria-pressed="true"]')).toHaveCount(2)
  expect(await axeViolations(page, '[role="grid"] [role="row"]:nth-child(-n+2)'), 'seat grid').toEqual([])
  await expect(page.getByTestId('selection').getByRole('listitem')).toHaveCount(2)
  await page.getByRole('button', { name: 'Hold 2 seats' }).click()

  await expect(page).toHaveURL(/\/holds\/[0-9a-f-]{36}$/)
  await expect(page.getByTestId('held-seats').getByRole('listitem')).toHaveCount(2)
  await expect(page.getByTestId('hold-left')).toHaveText(/^\d+:\d\d$/)
  expect(await axeViolations(page), 'checkout').toEqual([])

  const keys: string[] = []
  page.on('request', (r) => {
    if (r.url().endsWith('/confirm')) keys.push(r.headers()['idempotency-key'])
  })
  // A declined card keeps the hold and says so.
  await page.getByRole('radio', { name: /Mastercard/ }).check()
  await page.getByRole('button', { name: /^Pay / }).click()
  await expect(page.getByText('Your card was declined')).toBeVisible()
  // A bank that never answers: paying again reuses the attempt's key.
  await page.getByRole('radio', { name: /Amex/ }).check()
  await page.getByRole('button', { name: /^Pay / }).click()
  await expect(page.getByText('The bank did not answer in time')).toBeVisible({ timeout: 20_000 })
  await page.getByRole('button', { name: /^Pay / }).click()
  await expect(page.getByRole('button', { name: /^Pay / })).toBeEnabled({ timeout: 20_000 })
  await expect(page.getByText('The bank did not answer in time')).toBeVisible()

  await page.getByRole('radio', { name: /Visa/ }).check()
  await page.getByRole('button', { name: /^Pay / }).click()
  await expect(page.getByRole('heading', { level: 1, name: "You're going!" })).toBeVisible()
  await expect(page.getByTestId('order-tickets').getByRole('listitem')).toHaveCount(2)
  // One key per attempt: declined, timed out (twice, the same key), paid.
  expect(keys).toHaveLength(4)
  expect(new Set(keys).size).toBe(3)
  expect(keys[2]).toBe(keys[1])
  expect(keys[1]).not.toBe(keys[0])
  expect(keys[3]).not.toBe(keys[2])

  await page.getByRole('link', { name: 'See all your orders' }).click()
  const order = page.getByRole('article', { name: `Order for ${ev.name}` })
  await expect(order).toBeVisible()
  await expect(order.getByText('Confirmed')).toBeVisible()
  await order.getByRole('button', { name: 'Cancel order' }).click()
  await order.getByRole('button', { name: 'Yes, cancel the order' }).click()
  await expect(order.getByText('Canceled', { exact: true })).toBeVisible()

  // The backend agrees: the order is canceled and its seats are free again.
  const token = await page.evaluate(() => JSON.parse(sessionStorage.getItem('tv.session')!).token)
  const orders = await (await request.get('/api/v1/orders', { headers: { Authorization: `Bearer ${token}` } })).json()
  expect(orders.orders).toHaveLength(1)
  expect(orders.orders[0].status).toBe('canceled')
})

test('a seat someone else took is named, dropped from the choice and shown as taken', async ({ page, request }) => {
  const ops = await opsUser(request)
  const ev = await openEvent(request, ops, `Race ${Date.now()}`)

  await registerInBrowser(page, `/events/${ev.id}`)
  await joinAndWaitForTurn(page)
  const { seatId, label } = await chooseFirstFreeSeat(page)

  // Hold the map's live refresh so this page still shows the seat as free
  // while another fan takes it for real.
  let release!: () => void
  const gate = new Promise<void>((r) => (release = r))
  // (the full map and the status view the page polls once it has the map)
  await page.route(/\/api\/v1\/events\/\d+\/seats(\/status)?$/, async (route) => {
    await gate
    await route.continue()
  })
  await rivalHolds(request, ev.id, seatId)
  release()

  await page.getByRole('button', { name: 'Hold 1 seat' }).click()
  const notice = page.getByText('Someone was quicker')
  await expect(notice).toBeVisible()
  await expect(page.getByText(new RegExp(`${label.replace('Row', 'row')} was just taken`))).toBeVisible()
  await expect(page.getByTestId('selection')).toHaveCount(0)
  await expect(page.locator(`[data-seat="${seatId}"]`)).toHaveAttribute('data-status', /held|sold/)
})

test('a chosen seat someone else takes is dropped by the live refresh, which polls only the status view', async ({ page, request }) => {
  const ops = await opsUser(request)
  const ev = await openEvent(request, ops, `Live ${Date.now()}`)

  await registerInBrowser(page, `/events/${ev.id}`)
  // From before the turn: it takes the fan to the seats, which load the map.
  const seen: string[] = []
  page.on('response', (r) => {
    const m = new URL(r.url()).pathname.match(/\/api\/v1\/events\/\d+(\/seats(\/status)?)$/)
    if (m) seen.push(`${m[1]} ${r.status()}`)
  })
  await joinAndWaitForTurn(page)
  const { seatId, label } = await chooseFirstFreeSeat(page)
  await expect(page.getByTestId('selection')).toHaveCount(1)

  await rivalHolds(request, ev.id, seatId)

  // No click: the next poll or two (the snapshot is up to ~1 s old) tell.
  await expect(page.getByText('Just taken by someone else')).toBeVisible({ timeout: 15_000 })
  await expect(page.getByText(new RegExp(`${label.replace('Row', 'row')}\\. Pick another seat\\.`))).toBeVisible()
  await expect(page.getByTestId('selection')).toHaveCount(0)
  await expect(page.locator(`[data-seat="${seatId}"]`)).toHaveAttribute('data-status', 'held')
  // The map came once; the refresh that told was a status view.
  expect(seen.filter((s) => s.startsWith('/seats '))).toEqual(['/seats 200'])
  expect(seen).toContain('/seats/status 200')
})
