// Every page in both viewports: axe-core finds nothing serious or critical,
// sold seats' labels stay legible, and each page leaves a screenshot in
// frontend/screenshots/ (ignored by git) for a person to look over.
import { mkdirSync } from 'node:fs'
import { resolve } from 'node:path'
import AxeBuilder from '@axe-core/playwright'
import { expect, test, type APIRequestContext, type Page } from '@playwright/test'
import { admitted, opsUser, password, registerFan, registerInBrowser, tinyEvent } from './helpers'

const shots = resolve(import.meta.dirname, '..', 'screenshots')
mkdirSync(shots, { recursive: true })

/** seriousViolations lists what axe-core rates serious or critical on the page. */
async function seriousViolations(page: Page): Promise<string[]> {
  await page.waitForFunction(() => document.getAnimations().length === 0)
  const res = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze()
  return res.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ')}`)
}

/** contrast is the WCAG contrast ratio of two sRGB colours (0-255 each). */
function contrast(a: number[], b: number[]): number {
  const lum = (c: number[]) => {
    const [r, g, bl] = c.slice(0, 3).map((v) => {
      const x = v / 255
      return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4
    })
    return 0.2126 * r + 0.7152 * g + 0.0722 * bl
  }
  const [hi, lo] = [lum(a), lum(b)].sort((x, y) => y - x)
  return (hi + 0.05) / (lo + 0.05)
}

/** soldSeat sells seat 1 of the event to another fan through the API. */
async function soldSeat(request: APIRequestContext, eventId: number) {
  const buyer = await registerFan(request, 'Buyer')
  const tok = await admitted(request, buyer, eventId)
  const hold = await request.post(`/api/v1/events/${eventId}/holds`, { headers: { Authorization: `Bearer ${tok}`, 'Idempotency-Key': 'sold-1' }, data: { seat_ids: [1] } })
  expect(hold.status(), await hold.text()).toBe(201)
  const id = (await hold.json()).hold.id
  const order = await request.post(`/api/v1/holds/${id}/confirm`, { headers: { Authorization: `Bearer ${buyer.token}`, 'Idempotency-Key': 'sold-1c' }, data: { payment_token: 'tok_visa' } })
  expect(order.status(), await order.text()).toBe(201)
}

for (const vp of [
  { name: 'desktop', viewport: { width: 1280, height: 800 } },
  { name: 'phone', viewport: { width: 390, height: 844 } },
]) {
  test.describe(vp.name, () => {
    test.use({ viewport: vp.viewport })

    test('every fan page: no serious axe violation, sold seats legible, a screenshot', async ({ page, request }) => {
      test.setTimeout(180_000)
      const ops = await opsUser(request)
      const ev = await tinyEvent(request, ops, 12, { rate_per_second: 50, max_active: 10, paused: false, auto: false })
      await soldSeat(request, ev.id)
      const check = async (name: string) => {
        await page.screenshot({ path: `${shots}/${vp.name}-${name}.png`, fullPage: true })
        expect(await seriousViolations(page), `${name} (${vp.name})`).toEqual([])
      }

      await page.goto('/')
      await expect(page.getByRole('list', { name: 'Events' })).toBeVisible()
      await check('events')
      await page.goto(`/events/${ev.id}`)
      await expect(page.getByRole('heading', { level: 1 })).toBeVisible()
      await check('event')
      await page.goto('/signin')
      await check('signin')
      await page.goto('/register')
      await check('register')

      await registerInBrowser(page, `/events/${ev.id}`)
      await page.getByRole('button', { name: 'Join the queue' }).click()
      await expect(page).toHaveURL(`/events/${ev.id}/seats`, { timeout: 30_000 })
      await expect(page.getByTestId('seat-canvas')).toBeVisible()
      await check('seats')
      await page.getByRole('heading', { name: 'Sections' }).locator('..').getByRole('button').first().click()
      const sold = page.locator('[role="grid"] [data-seat="1"]')
      await expect(sold).toHaveAttribute('data-status', 'sold')
      // Computed colours come as lab(); a canvas pixel gives them in sRGB.
      const [fg, bg] = await sold.evaluate((el) => {
        const ctx = document.createElement('canvas').getContext('2d')!
        return [getComputedStyle(el).color, getComputedStyle(el).backgroundColor].map((c) => {
          ctx.fillStyle = c
          ctx.fillRect(0, 0, 1, 1)
          return [...ctx.getImageData(0, 0, 1, 1).data]
        })
      })
      expect(contrast(fg, bg), `sold seat label rgb(${fg}) on rgb(${bg})`).toBeGreaterThanOrEqual(4.5)
      await check('section')
      await page.locator('[role="grid"] [data-status="available"]').first().click()
      await page.getByRole('button', { name: 'Hold 1 seat' }).first().click()
      await expect(page).toHaveURL(/\/holds\//)
      await expect(page.getByTestId('hold-left')).toBeVisible()
      await check('checkout')
      await page.goto('/orders')
      await expect(page.getByRole('heading', { level: 1, name: 'My orders' })).toBeVisible()
      await expect(page.getByTestId('held-banner')).toBeVisible()
      await check('orders')
    })

    test('every ops page: no serious axe violation, a screenshot', async ({ page, request }) => {
      test.setTimeout(120_000)
      const ops = await opsUser(request)
      const ev = await tinyEvent(request, ops, 12, { rate_per_second: 50, max_active: 10, paused: false, auto: false })
      await page.goto(`/signin?next=${encodeURIComponent(`/ops/events/${ev.id}`)}`)
      await page.getByLabel('Email').fill(ops.email)
      await page.getByLabel('Password').fill(password)
      await page.getByRole('button', { name: 'Sign in' }).click()
      await expect(page.getByTestId('chart-holds')).toBeVisible()
      await expect(page.getByRole('button', { name: 'Save settings' })).toBeVisible()
      await page.screenshot({ path: `${shots}/${vp.name}-ops-event.png`, fullPage: true })
      expect(await seriousViolations(page), 'ops event').toEqual([])
      await page.getByRole('link', { name: '← All events' }).click()
      await expect(page.getByRole('button', { name: 'Create event' })).toBeEnabled()
      await page.screenshot({ path: `${shots}/${vp.name}-ops.png`, fullPage: true })
      expect(await seriousViolations(page), 'ops').toEqual([])
    })
  })
}
