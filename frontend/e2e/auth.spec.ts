import { expect, test } from '@playwright/test'
import { password, uniqueEmail } from './helpers'

test("registration and sign-in show the API's errors next to the field they concern", async ({ page }) => {
  const email = uniqueEmail('auth')
  await page.goto('/register')
  await page.getByLabel('Name').fill('Sam')
  await page.getByLabel('Email').fill(email)
  await page.getByLabel('Password').fill('short')
  await page.getByRole('button', { name: 'Create account' }).click()
  await expect(page.getByRole('alert')).toContainText('We could not create your account')
  await expect(page.locator('[data-error-code="weak_password"]')).toBeVisible()
  await expect(page.getByLabel('Password')).toHaveAttribute('aria-invalid', 'true')

  await page.getByLabel('Password').fill(password)
  await page.getByRole('button', { name: 'Create account' }).click()
  await expect(page).toHaveURL('/')
  await expect(page.getByRole('button', { name: 'Sign out' })).toBeVisible()
  // The session survives a reload (sessionStorage), and signing out ends it.
  await page.reload()
  await expect(page.getByRole('button', { name: 'Sign out' })).toBeVisible()
  await page.getByRole('button', { name: 'Sign out' }).click()
  await expect(page.getByRole('link', { name: 'Sign in' })).toBeVisible()

  // The same email again.
  await page.goto('/register')
  await page.getByLabel('Name').fill('Sam again')
  await page.getByLabel('Email').fill(email)
  await page.getByLabel('Password').fill(password)
  await page.getByRole('button', { name: 'Create account' }).click()
  await expect(page.locator('[data-error-code="email_taken"]')).toBeVisible()
  await expect(page.getByLabel('Email')).toHaveAttribute('aria-invalid', 'true')

  // A wrong password.
  await page.goto('/signin')
  await page.getByLabel('Email').fill(email)
  await page.getByLabel('Password').fill('not the password at all')
  await page.getByRole('button', { name: 'Sign in' }).click()
  await expect(page.locator('[data-error-code="bad_credentials"]')).toContainText('The email or password is wrong.')
  await expect(page.getByText('Sign in again')).toHaveCount(0)

  await page.getByLabel('Password').fill(password)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await expect(page.getByRole('navigation', { name: 'Main' })).toContainText('Sam')
})
