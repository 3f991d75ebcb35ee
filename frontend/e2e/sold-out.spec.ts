import { randomUUID } from 'node:crypto'
import { expect, test } from '@playwright/test'
import { admitted, opsUser, registerFan, registerInBrowser, tinyEvent } from './helpers'

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` })

test('a waiting fan sees sold out while every seat is held, keeps their place, and sees it clear when a seat comes back', async ({ page, request }) => {
  const ops = await opsUser(request)
  // Two seats, one buyer at a time: while the rival is admitted the fan waits.
  const ev = await tinyEvent(request, ops, 2, { rate_per_second: 50, max_active: 1, paused: false, auto: false })
  const rival = await registerFan(request, 'Rival')
  const rivalAdmission = await admitted(request, rival, ev.id)

  await registerInBrowser(page, `/events/${ev.id}`)
  await page.getByRole('button', { name: 'Join the queue' }).click()
  const waiting = page.locator('[data-queue-state="waiting"]')
  await expect(waiting).toContainText('You are in the queue.')
  const soldOut = waiting.getByText('Sold out for now')
  await expect(soldOut).toBeHidden()

  // The rival holds both seats: the fan's next poll says sold out, their
  // place stays on screen, and no wait is estimated.
  const hold = await request.post(`/api/v1/events/${ev.id}/holds`, {
    headers: { ...bearer(rivalAdmission), 'Idempotency-Key': randomUUID() },
    data: { seat_ids: [0, 1] },
  })
  expect(hold.status(), await hold.text()).toBe(201)
  await expect(soldOut).toBeVisible({ timeout: 15_000 })
  await expect(waiting).toContainText('unpaid holds expire and the queue moves again as soon as seats come back')
  await expect(waiting.getByText('Your place', { exact: true })).toBeVisible()
  await expect(waiting.getByText('Estimated wait')).toBeHidden()
  await expect(page.getByRole('status').filter({ hasText: 'Every seat is taken right now; your place is kept.' })).toBeAttached()

  // The rival lets the seats go (their admission lives on, so the fan
  // still waits): sold out clears at the next poll.
  const release = await request.delete(`/api/v1/holds/${(await hold.json()).hold.id}`, { headers: bearer(rival.token) })
  expect(release.status(), await release.text()).toBe(204)
  await expect(soldOut).toBeHidden({ timeout: 15_000 })
  await expect(waiting).toContainText('You are in the queue.')

  // The rival leaves: the fan is next.
  const leave = await request.delete(`/api/v1/events/${ev.id}/queue`, { headers: bearer(rival.token) })
  expect(leave.status(), await leave.text()).toBe(204)
  await expect(page).toHaveURL(`/events/${ev.id}/seats`, { timeout: 15_000 })
})
