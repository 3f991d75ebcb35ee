// What a fan still saw go wrong after issue 12's first pass, on a desktop
// and a phone: each test names the fault and fails on the UI that had it.
import { expect, test, type APIRequestContext, type Page } from '@playwright/test'
import { admitted, apiHold, bearer, openEvent, opsUser, password, registerFan, registerInBrowser, joinAndWaitForTurn, seriousViolations, tinyEvent, screenshotsDir, viewports } from './helpers'

/** signInAs puts an API login into the tab's session, as the sign-in page would. */
async function signInAs(page: Page, request: APIRequestContext, email: string) {
  const res = await request.post('/api/v1/auth/login', { data: { email, password } })
  expect(res.status(), await res.text()).toBe(200)
  const auth = await res.json()
  const stored = JSON.stringify({ user: auth.user, token: auth.access_token, expiresAt: auth.expires_at })
  await page.addInitScript((s) => sessionStorage.setItem('tv.session', s), stored)
}

/** openFirstSection opens the first section of the seat map's list. */
async function openFirstSection(page: Page) {
  await page.getByRole('heading', { name: 'Sections' }).locator('..').getByRole('button').first().click()
  await expect(page.getByRole('grid')).toBeVisible()
}

type Box = { x: number; y: number; width: number; height: number }
const inside = (a: Box, b: Box) => a.x >= b.x - 0.5 && a.y >= b.y - 0.5 && a.x + a.width <= b.x + b.width + 0.5 && a.y + a.height <= b.y + b.height + 0.5
const apart = (a: Box, b: Box) => a.x + a.width <= b.x || b.x + b.width <= a.x || a.y + a.height <= b.y || b.y + b.height <= a.y

for (const vp of viewports) {
  test.describe(vp.name, () => {
    test.use({ viewport: vp.viewport })

    test('an event card turns to on sale by itself at the opening (it said "Sale opens in 0:01" until a reload)', async ({ page, request }) => {
      const ops = await opsUser(request)
      const ev = await openEvent(request, ops, `Opening ${vp.name} ${Date.now()}`, 8_000)
      let loads = 0
      page.on('load', () => loads++)
      await page.goto('/')
      const card = page.getByRole('list', { name: 'Events' }).getByRole('article').filter({ hasText: ev.name })
      await expect(card).toContainText('Sale opens in')
      await expect(card).toContainText('Coming soon')
      await expect(card).toContainText('On sale now', { timeout: 15_000 })
      await expect(card.getByText('On sale', { exact: true })).toBeVisible()
      await expect(card).not.toContainText('Sale opens in')
      await expect(card).not.toContainText('Coming soon')
      expect(loads, 'the page was not reloaded').toBe(1)
    })

    test('an unchanged seat-status poll (304) is an answer, not a failed request', async ({ page, request }) => {
      const ops = await opsUser(request)
      const ev = await tinyEvent(request, ops, 12, { rate_per_second: 50, max_active: 10, paused: false, auto: false })
      const failed: string[] = []
      const notModified: string[] = []
      page.on('requestfailed', (r) => failed.push(`${r.method()} ${new URL(r.url()).pathname}: ${r.failure()?.errorText}`))
      page.on('response', (r) => {
        if (r.status() === 304 && new URL(r.url()).pathname.endsWith('/seats/status')) notModified.push(r.url())
      })
      await registerInBrowser(page, `/events/${ev.id}`)
      await joinAndWaitForTurn(page)
      await expect.poll(() => notModified.length, { timeout: 20_000 }).toBeGreaterThanOrEqual(2)
      expect(failed).toEqual([])
    })

    test('the seat map names its sections, shows the whole STAGE label and prices in the legend', async ({ page, request }) => {
      test.setTimeout(120_000)
      const ops = await opsUser(request)
      const ev = await openEvent(request, ops, `Map ${vp.name} ${Date.now()}`)
      await registerInBrowser(page, `/events/${ev.id}`)
      await joinAndWaitForTurn(page)
      const canvas = page.getByTestId('seat-canvas')
      await expect(canvas).toBeVisible()

      // The stage: all of its label inside its box, the box inside the page.
      const stage = page.getByTestId('stage')
      await expect(stage).toHaveText(/stage/i)
      const fit = await stage.evaluate((el) => ({ sw: el.scrollWidth, cw: el.clientWidth, sh: el.scrollHeight, ch: el.clientHeight, right: el.getBoundingClientRect().right }))
      expect(fit.sw, 'STAGE clipped sideways').toBeLessThanOrEqual(fit.cw)
      expect(fit.sh, 'STAGE clipped at the top or bottom').toBeLessThanOrEqual(fit.ch)
      expect(fit.right).toBeLessThanOrEqual(vp.viewport.width)

      // Each of the arena's 44 sections is named on the map, legibly: on it, and clear of the others.
      const labels = page.getByTestId('section-label')
      await expect(labels).toHaveCount(44)
      const names = await labels.allTextContents()
      expect(names).toEqual(expect.arrayContaining(['Floor A', '101', '224']))
      const map = (await canvas.boundingBox())!
      const boxes = await labels.evaluateAll((els) => els.map((el) => el.getBoundingClientRect().toJSON() as Box))
      boxes.forEach((b, i) => {
        expect(inside(b, map), `label ${names[i]} ${JSON.stringify(b)} outside the map ${JSON.stringify(map)}`).toBe(true)
        expect(b.height, `label ${names[i]}`).toBeGreaterThanOrEqual(10)
        for (let j = i + 1; j < boxes.length; j++) expect(apart(b, boxes[j]), `labels ${names[i]} and ${names[j]} overlap`).toBe(true)
      })

      // Prices by tier under the map, then by row in a section.
      const prices = page.getByTestId('legend-prices')
      await expect(prices).toBeVisible()
      await expect(prices).toContainText('Floor £149.00 – £189.00')
      await expect(prices).toContainText('Upper bowl £39.00 – £59.00')
      expect(await seriousViolations(page), 'seat map overview').toEqual([])
      await page.screenshot({ path: `${screenshotsDir}/${vp.name}-arena-map.png`, fullPage: true })
      await openFirstSection(page)
      await expect(prices).toContainText('Rows 1–5 £189.00')
      await expect(prices).toContainText('Rows 6–20 £149.00')
      await page.screenshot({ path: `${screenshotsDir}/${vp.name}-arena-section.png`, fullPage: true })
    })

    test.describe('in New York', () => {
      test.use({ timezoneId: 'America/New_York' })

      test('order times carry the same zone label as every other page (they said UTC where the rest said GMT)', async ({ page, request }) => {
        const ops = await opsUser(request)
        const ev = await openEvent(request, ops, `Zones ${vp.name} ${Date.now()}`)
        const fan = await registerFan(request, 'Zoe')
        const tok = await admitted(request, fan, ev.id)
        const hold = await apiHold(request, ev.id, tok, [7])
        expect(hold.status(), await hold.text()).toBe(201)
        const order = await request.post(`/api/v1/holds/${(await hold.json()).hold.id}/confirm`, { headers: { ...bearer(fan.token), 'Idempotency-Key': `c-${Date.now()}` }, data: { payment_token: 'tok_visa' } })
        expect(order.status(), await order.text()).toBe(201)
        await signInAs(page, request, fan.email)

        const zoneOf = (text: string | null) => /\s(\S+)$/.exec((text ?? '').trim())?.[1]
        await page.goto(`/events/${ev.id}`)
        const opens = page.locator('dt', { hasText: /^Sale open(s|ed)$/ }).locator('+ dd')
        await expect(opens).toBeVisible()
        const eventZone = zoneOf(await opens.textContent())
        expect(eventZone, 'the event page names the venue zone').toMatch(/^(GMT|BST)$/)

        await page.goto('/orders')
        const ordered = page.getByRole('article', { name: `Order for ${ev.name}` }).getByText(/^Ordered /)
        await expect(ordered).toBeVisible()
        const text = (await ordered.textContent())!.split('·')[0]
        expect(zoneOf(text), `"${text}" against the event page's ${eventZone}`).toBe(eventZone)
      })
    })

    test('my orders shows a live hold with its time left and the way to checkout (it said "No orders yet")', async ({ page, request }) => {
      const ops = await opsUser(request)
      const ev = await tinyEvent(request, ops, 12, { rate_per_second: 50, max_active: 10, paused: false, auto: false })
      await registerInBrowser(page, `/events/${ev.id}`)
      await joinAndWaitForTurn(page)
      await openFirstSection(page)
      await page.locator('[role="grid"] [data-status="available"]').first().click()
      await page.getByRole('button', { name: 'Hold 1 seat' }).first().click()
      await expect(page).toHaveURL(/\/holds\//)
      const checkout = page.url()

      await page.goto('/orders')
      const held = page.getByRole('article', { name: 'Seats held for you' })
      await expect(held).toBeVisible()
      await expect(held).toContainText('1 seat is held for you')
      await expect(held.getByTestId('held-card-left')).toHaveText(/^\d+:\d\d$/)
      await expect(page.getByText('No orders yet')).toHaveCount(0)
      expect(await seriousViolations(page), 'orders with a hold').toEqual([])
      await held.getByRole('link', { name: 'Pay at checkout →' }).click()
      await expect(page).toHaveURL(checkout)
      await expect(page.getByTestId('hold-left')).toBeVisible()
    })

    test('a pending choice is not dropped silently when the admission ends: the fan is told, and what to do', async ({ page, request }) => {
      const ops = await opsUser(request)
      const ev = await tinyEvent(request, ops, 12, { rate_per_second: 50, max_active: 10, paused: false, auto: false })
      await registerInBrowser(page, `/events/${ev.id}`)
      await joinAndWaitForTurn(page)
      await openFirstSection(page)
      const seat = page.locator('[role="grid"] [data-status="available"]').first()
      const [row, number] = (await seat.getAttribute('aria-label'))!.split(', £')[0].split(', ') // "Row 1", "seat 1"
      await seat.click()
      await expect(page.getByTestId('selection')).toBeVisible()
      const holds: string[] = []
      page.on('request', (r) => {
        if (r.method() === 'POST' && r.url().endsWith('/holds')) holds.push(r.url())
      })

      // The admission ends elsewhere: the fan leaves the queue in another
      // tab, which also drops the place receipt the tabs share.
      const token = await page.evaluate(() => JSON.parse(sessionStorage.getItem('tv.session')!).token)
      expect((await request.delete(`/api/v1/events/${ev.id}/queue`, { headers: bearer(token) })).status()).toBe(204)
      await page.evaluate((id) => localStorage.removeItem(`tv.placeReceipt.${id}`), ev.id)

      const alert = page.getByRole('alert')
      await expect(alert).toContainText('You left the queue', { timeout: 12_000 })
      await expect(page.getByTestId('unheld')).toContainText(`${row.toLowerCase()}, ${number}`)
      await expect(alert).toContainText('Rejoin the waiting room for another turn')
      await expect(alert.getByRole('button', { name: 'Rejoin the waiting room' })).toBeVisible()
      expect(holds, 'told without trying a hold').toEqual([])
      expect(await seriousViolations(page), 'admission ended').toEqual([])
    })
  })
}
