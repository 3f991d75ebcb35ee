import { expect, test } from '@playwright/test'
import { openEvent, opsUser, registerInBrowser } from './helpers'

test('a fan in the pre-queue sees the countdown and the draw explained, then the published seed and their turn', async ({ page, request }) => {
  const ops = await opsUser(request)
  const ev = await openEvent(request, ops, `Pre-queue ${Date.now()}`, 15_000)
  await registerInBrowser(page, `/events/${ev.id}`)

  await page.getByRole('button', { name: 'Join the pre-queue' }).click()
  const pre = page.locator('[data-queue-state="prequeue"]')
  await expect(pre).toContainText('You are in the pre-queue.')
  await expect(pre).toContainText(/in \d+:\d\d/)
  await pre.getByText('How is the draw fair?').click()
  await expect(pre).toContainText('The seed is published here after the opening')

  // The sale opens, the draw runs, the fan is let in and the seed is public.
  await expect(page).toHaveURL(`/events/${ev.id}/seats`, { timeout: 60_000 })
  await page.goto(`/events/${ev.id}`)
  await expect(page.getByText("It's your turn!")).toBeVisible()
  const seed = page.getByTestId('draw-seed')
  await expect(seed).toBeVisible({ timeout: 15_000 })
  const stats = await request.get(`/api/v1/admin/events/${ev.id}/stats`, { headers: { Authorization: `Bearer ${ops.token}` } })
  const published = (await stats.json()).draw_seed
  expect(published).toMatch(/^[0-9a-f]{16,}$/)
  await expect(seed).toContainText(published)
})
