import { expect, test } from '@playwright/test'
import { axeViolations, joinAndWaitForTurn, opsUser, registerInBrowser, tinyEvent } from './helpers'

test('a fan whose admission ended is told why, what was not held, and rejoins the waiting room in one click', async ({ page, request }) => {
  const ops = await opsUser(request)
  const ev = await tinyEvent(request, ops, 4, { rate_per_second: 50, max_active: 10, paused: false, auto: false })
  await registerInBrowser(page, `/events/${ev.id}`)
  await joinAndWaitForTurn(page)
  await page.getByRole('heading', { name: 'Sections' }).locator('..').getByRole('button').first().click()
  const seat = page.locator('[role="grid"] [data-status="available"]').first()
  const [row, number] = (await seat.getAttribute('aria-label'))!.split(', £')[0].split(', ') // "Row 1", "seat 1"
  await seat.click()

  // The fan leaves the queue elsewhere (another tab): the admission ends.
  const token = await page.evaluate(() => JSON.parse(sessionStorage.getItem('tv.session')!).token)
  const left = await request.delete(`/api/v1/events/${ev.id}/queue`, { headers: { Authorization: `Bearer ${token}` } })
  expect(left.status(), await left.text()).toBe(204)

  await page.getByRole('button', { name: 'Hold 1 seat' }).click()
  const alert = page.getByRole('alert')
  await expect(alert).toContainText('You left the queue')
  await expect(page.getByTestId('unheld')).toContainText(`${row.toLowerCase()}, ${number}`)
  await expect(alert).not.toContainText('admission_expired')
  expect(await page.evaluate((id) => sessionStorage.getItem(`tv.admission.${id}`), ev.id)).toBeNull()
  expect(await axeViolations(page), 'admission ended').toEqual([])

  await page.getByRole('button', { name: 'Rejoin the waiting room' }).click()
  await expect(page).toHaveURL(`/events/${ev.id}`)
  await expect(page.locator('[data-queue-state]')).toBeVisible()
})
