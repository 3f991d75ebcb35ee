// @vitest-environment jsdom
import { beforeEach, describe, expect, it } from 'vitest'
import { SessionStore } from './session'

const auth = (expires: string) => ({
  user: { id: 7, email: 'ana@example.com', name: 'Ana', role: 'fan' as const },
  access_token: 'tok',
  token_type: 'Bearer' as const,
  expires_at: expires,
})

describe('SessionStore', () => {
  beforeEach(() => sessionStorage.clear())

  it('survives a reload through sessionStorage', () => {
    const now = Date.parse('2030-01-01T00:00:00Z')
    new SessionStore(sessionStorage, () => now).signIn(auth('2030-01-01T12:00:00Z'))
    const again = new SessionStore(sessionStorage, () => now)
    expect(again.get()?.token).toBe('tok')
    expect(localStorage.length).toBe(0)
  })

  it('drops an expired session', () => {
    let now = Date.parse('2030-01-01T00:00:00Z')
    const s = new SessionStore(sessionStorage, () => now)
    s.signIn(auth('2030-01-01T01:00:00Z'))
    now += 2 * 3600_000
    expect(s.get()).toBeNull()
    expect(new SessionStore(sessionStorage, () => now).get()).toBeNull()
  })

  it('keeps admissions per event until they expire and forgets them on sign-out', () => {
    let now = Date.parse('2030-01-01T00:00:00Z')
    const s = new SessionStore(sessionStorage, () => now)
    s.signIn(auth('2030-01-02T00:00:00Z'))
    s.saveAdmission(3, { token: 'adm', expiresAt: '2030-01-01T00:10:00Z' })
    expect(s.admission(3)?.token).toBe('adm')
    expect(s.admission(4)).toBeNull()
    now += 11 * 60_000
    expect(s.admission(3)).toBeNull()
    now -= 11 * 60_000
    s.signOut()
    expect(s.admission(3)).toBeNull()
    expect(sessionStorage.length).toBe(0)
  })

  it('notifies subscribers', () => {
    const s = new SessionStore(sessionStorage)
    let calls = 0
    s.subscribe(() => calls++)
    s.signIn(auth('2999-01-01T00:00:00Z'))
    s.signOut()
    expect(calls).toBe(2)
  })
})
