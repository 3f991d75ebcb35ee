import { expect, test } from '@playwright/test'
import { admission, opsUser, password, registerFan } from './helpers'
import { zonedInput } from '../src/lib/format'

test('ops create an event, change the admission rate and pause the queue from the console', async ({ page, request }) => {
  const ops = await opsUser(request)

  await page.goto('/signin?next=%2Fops')
  await page.getByLabel('Email').fill(ops.email)
  await page.getByLabel('Password').fill(password)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await expect(page.getByRole('heading', { level: 1, name: 'Ops console' })).toBeVisible()
  await expect(page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Ops console' })).toBeVisible()

  const name = `Console ${Date.now()}`
  await page.getByLabel('Name').fill(name)
  await page.getByLabel('Venue').selectOption({ label: 'Northgate Arena' })
  await page.getByLabel('Sale opens at').fill(zonedInput(new Date(Date.now() - 60_000), 'Europe/London'))
  await page.getByLabel('Tickets per fan').fill('4')
  await page.getByRole('button', { name: 'Create event' }).click()
  await expect(page).toHaveURL(/\/ops\/events\/\d+$/)
  await expect(page.getByRole('heading', { level: 1, name })).toBeVisible()
  const eventId = Number(page.url().split('/').pop())

  await expect(page.getByTestId('stats')).toBeVisible()
  await expect(page.getByTestId('stats').getByText('In queue')).toBeVisible()

  await page.getByLabel('Rate (fans per second)').fill('7')
  await page.getByLabel('Max active buyers').fill('123')
  await page.getByRole('button', { name: 'Save settings' }).click()
  await expect(page.getByText('Saved: admitting 7/s, at most 123 active.')).toBeVisible()
  expect(await admission(request, ops, eventId)).toMatchObject({ rate_per_second: 7, max_active: 123, paused: false })

  await page.getByRole('button', { name: 'Pause' }).click()
  await expect(page.getByTestId('admission-state')).toHaveText('Admission is paused')
  expect((await admission(request, ops, eventId)).paused).toBe(true)
  await expect(page.getByTestId('stats').getByText('7/s')).toBeVisible()

  // Live figures: fans who join while admission is paused show up in the queue.
  for (const name of ['Ada', 'Bo']) {
    const fan = await registerFan(request, name)
    const join = await request.post(`/api/v1/events/${eventId}/queue`, { headers: { Authorization: `Bearer ${fan.token}` } })
    expect(join.status(), await join.text()).toBe(201)
  }
  const inQueue = page.getByTestId('stats').locator('div', { hasText: 'In queue' })
  await expect(inQueue.locator('dd')).toHaveText('2', { timeout: 15_000 })

  await page.getByRole('button', { name: 'Resume' }).click()
  await expect(page.getByTestId('admission-state')).toHaveText('Admission is running')
  expect(await admission(request, ops, eventId)).toMatchObject({ rate_per_second: 7, paused: false })
})

test('a fan account cannot use the ops console', async ({ page, request }) => {
  const email = `fan-${Date.now()}@e2e.example.com`
  const res = await request.post('/api/v1/auth/register', { data: { email, password, name: 'Fan' } })
  expect(res.status()).toBe(201)
  await page.goto('/signin?next=%2Fops')
  await page.getByLabel('Email').fill(email)
  await page.getByLabel('Password').fill(password)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await expect(page.getByText('This page is for the operations team')).toBeVisible()
  const token = await page.evaluate(() => JSON.parse(sessionStorage.getItem('tv.session')!).token)
  const stats = await request.get('/api/v1/admin/venues', { headers: { Authorization: `Bearer ${token}` } })
  expect(stats.status()).toBe(403)
})
