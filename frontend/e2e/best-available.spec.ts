import { expect, test } from '@playwright/test'
import { joinAndWaitForTurn, openEvent, opsUser, registerInBrowser } from './helpers'

test('best available finds seats together in a section, and releasing the hold frees them', async ({ page, request }) => {
  test.setTimeout(90_000)
  const ops = await opsUser(request)
  const ev = await openEvent(request, ops, `Best ${Date.now()}`)
  await registerInBrowser(page, `/events/${ev.id}`)
  await joinAndWaitForTurn(page)

  const form = page.getByRole('heading', { name: 'Best available' }).locator('..')
  await form.getByLabel('Section').selectOption('102') // option values are section names
  await form.getByLabel('Tickets').selectOption('3')
  await expect(form.getByLabel('Seats next to each other')).toBeChecked()
  await form.getByRole('button', { name: 'Find and hold' }).click()

  await expect(page).toHaveURL(/\/holds\/[0-9a-f-]{36}$/)
  const seats = page.getByTestId('held-seats').getByRole('listitem')
  await expect(seats).toHaveCount(3)
  const names = await seats.allTextContents()
  const parsed = names.map((n) => /Section (\S+), row (\S+), seat (\d+)/.exec(n)!)
  expect(new Set(parsed.map((m) => `${m[1]}/${m[2]}`)).size, names.join(' | ')).toBe(1)
  expect(parsed[0][1]).toBe('102')
  const numbers = parsed.map((m) => Number(m[3])).sort((a, b) => a - b)
  expect(numbers[2] - numbers[0], names.join(' | ')).toBe(2)

  const holdId = page.url().split('/').pop()!
  // Release asks first: saying no keeps the seats.
  await page.getByRole('button', { name: 'Release these seats' }).click()
  await page.getByRole('button', { name: 'Keep my seats' }).click()
  await expect(page.getByTestId('hold-left')).toBeVisible()
  await page.getByRole('button', { name: 'Release these seats' }).click()
  await page.getByRole('button', { name: 'Yes, release them' }).click()
  await expect(page).toHaveURL(`/events/${ev.id}/seats`)
  await expect(page.getByTestId('held-banner')).toHaveCount(0)
  const token = await page.evaluate(() => JSON.parse(sessionStorage.getItem('tv.session')!).token)
  const hold = await request.get(`/api/v1/holds/${holdId}`, { headers: { Authorization: `Bearer ${token}` } })
  expect((await hold.json()).hold.status).toBe('released')
})
