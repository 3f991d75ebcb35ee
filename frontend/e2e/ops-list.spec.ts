// The ops console's event list and its create form, on a desktop and a
// phone: live figures per event, and dates an operator anywhere reads the
// same way.
import { expect, test } from '@playwright/test'
import { admitted, apiHold, bearer, opsUser, registerFan, seriousViolations, setAdmission, signInOps, tinyEvent, screenshotsDir, viewports } from './helpers'

for (const vp of viewports) {
  test.describe(vp.name, () => {
    test.use({ viewport: vp.viewport })

    test.describe('with a US browser', () => {
      test.use({ locale: 'en-US', timezoneId: 'America/Los_Angeles' })

      test('event times are typed 24-hour, YYYY-MM-DD, in the venue zone, and the venue choice is not cut off', async ({ page, request }) => {
        const ops = await opsUser(request)
        await signInOps(page, ops.email, '/ops')
        // No mm/dd/yyyy, no AM/PM: what the field shows is what it holds.
        const opens = page.getByLabel('Sale opens at')
        await expect(opens).toHaveValue(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$/)
        expect(await opens.getAttribute('type')).toBe(null)

        const venue = page.getByLabel('Venue')
        await expect(venue.locator('option', { hasText: 'Northgate Arena' })).toHaveCount(1)
        await venue.selectOption({ label: 'Northgate Arena' })
        await expect(page.getByTestId('venue-hint')).toHaveText('Manchester · 19,920 seats · times in Europe/London')

        // The venue's name fits its box, and the box its card, at this width.
        const fit = await venue.evaluate((el) => {
          const sel = el as HTMLSelectElement
          const cs = getComputedStyle(sel)
          const ctx = document.createElement('canvas').getContext('2d')!
          ctx.font = `${cs.fontWeight} ${cs.fontSize} ${cs.fontFamily}`
          const card = sel.closest('section')!.getBoundingClientRect()
          const box = sel.getBoundingClientRect()
          return {
            text: ctx.measureText(sel.selectedOptions[0].text).width,
            // The arrow takes about 20 px of the box.
            room: sel.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight) - 20,
            inCard: box.left >= card.left && box.right <= card.right,
          }
        })
        expect(fit.text, 'venue name cut off').toBeLessThanOrEqual(fit.room)
        expect(fit.inCard).toBe(true)

        const name = `Zoned ${vp.name} ${Date.now()}`
        await page.getByLabel('Name').fill(name)
        await page.getByLabel('Starts at').fill('2031-08-01 20:00')
        await opens.fill('2031-07-04 18:30')
        await expect(page.getByText(/^YYYY-MM-DD HH:MM, 24-hour, Europe\/London time: .*4 Jul 2031.* 18:30 BST$/)).toBeVisible()
        expect(await seriousViolations(page), 'ops form').toEqual([])
        await page.getByRole('heading', { name: 'Create an event' }).locator('..').screenshot({ path: `${screenshotsDir}/${vp.name}-ops-create.png` })
        await page.getByRole('button', { name: 'Create event' }).click()
        await expect(page).toHaveURL(/\/ops\/events\/\d+$/)
        const id = Number(page.url().split('/').pop())
        const ev = (await (await request.get(`/api/v1/events/${id}`)).json()).event
        // 18:30 in London in July is 17:30 UTC, whatever the browser's zone.
        expect(Date.parse(ev.sale_opens_at)).toBe(Date.parse('2031-07-04T17:30:00Z'))
        expect(Date.parse(ev.starts_at)).toBe(Date.parse('2031-08-01T19:00:00Z'))
      })

      test('a time that is not YYYY-MM-DD HH:MM is refused at its field', async ({ page, request }) => {
        const ops = await opsUser(request)
        await signInOps(page, ops.email, '/ops')
        await page.getByLabel('Name').fill('Never')
        await page.getByLabel('Sale opens at').fill('07/04/2031 6:30 PM')
        await page.getByRole('button', { name: 'Create event' }).click()
        await expect(page.getByText(/^Write it as YYYY-MM-DD HH:MM \(24-hour\)/)).toBeVisible()
        await expect(page.getByLabel('Sale opens at')).toHaveAttribute('aria-invalid', 'true')
        await expect(page).toHaveURL('/ops')
      })
    })

    test('the event list shows each event live: state, queue, admitted and seats left, without a reload', async ({ page, request }) => {
      const ops = await opsUser(request)
      const ev = await tinyEvent(request, ops, 12, { rate_per_second: 50, max_active: 10, paused: true, auto: false })
      const fans = [await registerFan(request, 'A'), await registerFan(request, 'B')]
      for (const f of fans) expect((await request.post(`/api/v1/events/${ev.id}/queue`, { headers: bearer(f.token) })).status()).toBe(201)

      let loads = 0
      page.on('load', () => loads++)
      await signInOps(page, ops.email, '/ops')
      const row = page.locator(`tr[data-event-id="${ev.id}"]`)
      await row.scrollIntoViewIfNeeded()
      await expect(row.getByTestId('ops-state')).toContainText('Queue paused')
      await expect(row.getByTestId('ops-queue')).toHaveText('2')
      await expect(row.getByTestId('ops-admitted')).toHaveText(/^0/)
      await expect(row.getByTestId('ops-seats-left')).toHaveText(/^12/)

      await setAdmission(request, ops, ev.id, { rate_per_second: 50, max_active: 10, paused: false, auto: false })
      const tok = await admitted(request, fans[0], ev.id)
      expect((await apiHold(request, ev.id, tok, [3])).status()).toBe(201)
      await expect(row.getByTestId('ops-state')).toContainText('Queue moving', { timeout: 15_000 })
      await expect(row.getByTestId('ops-admitted')).toHaveText(/^2/, { timeout: 15_000 })
      await expect(row.getByTestId('ops-queue')).toHaveText('0')
      await expect(row.getByTestId('ops-seats-left')).toHaveText(/^11/, { timeout: 15_000 })
      await expect(page.getByTestId('list-updated')).toContainText('updated')
      // The table scrolls inside its card if it must; the page never scrolls sideways.
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(vp.viewport.width)
      expect(loads, 'the page was not reloaded').toBe(1)
      expect(await seriousViolations(page), 'ops list').toEqual([])
      await page.screenshot({ path: `${screenshotsDir}/${vp.name}-ops-list.png` })
    })
  })
}
