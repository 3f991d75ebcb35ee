import { expect, test } from '@playwright/test'
import { axeViolations as violations, opsUser, password, registerInBrowser } from './helpers'

// axe-core's WCAG 2.1 AA rules (labels, names, contrast, landmarks, ARIA)
// over the pages as the real backend fills them. The seat map and checkout
// are checked in journey.spec.ts, on the way through.

test('the fan pages meet WCAG 2.1 AA as axe checks it', async ({ page }) => {
  await page.goto('/')
  await expect(page.getByRole('list', { name: 'Events' })).toBeVisible()
  expect(await violations(page), 'events').toEqual([])

  await page.goto('/events/1')
  await expect(page.getByRole('heading', { level: 1 })).toBeVisible()
  await expect(page.getByRole('table')).toBeVisible()
  expect(await violations(page), 'event, signed out').toEqual([])

  await page.goto('/register')
  expect(await violations(page), 'register').toEqual([])

  await registerInBrowser(page, '/events/1')
  await page.getByRole('button', { name: /^Join the (pre-)?queue$/ }).click()
  await expect(page.locator('[data-queue-state]')).toBeVisible()
  expect(await violations(page), 'waiting room').toEqual([])

  await page.goto('/orders')
  await expect(page.getByRole('heading', { level: 1, name: 'My orders' })).toBeVisible()
  expect(await violations(page), 'orders').toEqual([])
})

test('the ops console meets WCAG 2.1 AA as axe checks it', async ({ page, request }) => {
  const ops = await opsUser(request)
  await page.goto('/signin?next=%2Fops%2Fevents%2F1')
  await page.getByLabel('Email').fill(ops.email)
  await page.getByLabel('Password').fill(password)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await expect(page.getByTestId('stats')).toBeVisible()
  await expect(page.getByRole('button', { name: 'Save settings' })).toBeVisible()
  expect(await violations(page), 'ops event').toEqual([])

  await page.getByRole('link', { name: '← All events' }).click()
  // Create event is off until the venues load, then eases into its colour
  // (transition-colors): axe must not catch it halfway, as it can on a busy
  // machine.
  await expect(page.getByRole('button', { name: 'Create event' })).toBeEnabled()
  await page.waitForFunction(() => document.getAnimations().length === 0)
  expect(await violations(page), 'ops').toEqual([])
})
