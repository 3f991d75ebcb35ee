// The signed-in fan: the access token lives in memory and in sessionStorage,
// so a reload keeps the session but closing the tab ends it, and no token
// ever reaches localStorage or a cookie. Admission tokens are kept the same
// way per event, so the seat map survives a reload while the admission lasts.
import { useSyncExternalStore } from 'react'
import type { AuthResponse, User } from './api'

export interface Session {
  user: User
  token: string
  expiresAt: string
}

export interface Admission {
  token: string
  expiresAt: string
}

/** LiveHold is the fan's latest hold, so any page can lead back to its checkout. */
export interface LiveHold {
  id: string
  eventId: number
  eventName?: string
  seats: number
  expiresAt: string
}

const sessionKey = 'tv.session'
const holdKey = 'tv.hold'
const admissionKey = (eventId: number) => `tv.admission.${eventId}`

type Listener = () => void

/** SessionStore holds the session and notifies React when it changes. */
export class SessionStore {
  private current: Session | null
  private readonly listeners = new Set<Listener>()
  private readonly storage: Storage | undefined
  private readonly now: () => number

  constructor(storage: Storage | undefined, now: () => number = Date.now) {
    this.storage = storage
    this.now = now
    this.current = this.load()
  }

  private load(): Session | null {
    try {
      const raw = this.storage?.getItem(sessionKey)
      if (!raw) return null
      const s = JSON.parse(raw) as Session
      if (!s?.token || !s.user || Date.parse(s.expiresAt) <= this.now()) return null
      return s
    } catch {
      return null
    }
  }

  get = (): Session | null => {
    if (this.current && Date.parse(this.current.expiresAt) <= this.now()) {
      this.signOut()
    }
    return this.current
  }

  subscribe = (l: Listener): (() => void) => {
    this.listeners.add(l)
    return () => this.listeners.delete(l)
  }

  signIn(res: AuthResponse): Session {
    this.current = { user: res.user, token: res.access_token, expiresAt: res.expires_at }
    try {
      this.storage?.setItem(sessionKey, JSON.stringify(this.current))
    } catch {
      // Private mode or a full store: the session still works in memory.
    }
    this.emit()
    return this.current
  }

  signOut(): void {
    const had = this.current !== null
    this.current = null
    try {
      if (this.storage) {
        for (let i = this.storage.length - 1; i >= 0; i--) {
          const k = this.storage.key(i)
          if (k?.startsWith('tv.')) this.storage.removeItem(k)
        }
      }
    } catch {
      // Nothing stored: nothing to forget.
    }
    if (had) this.emit()
  }

  admission(eventId: number): Admission | null {
    try {
      const raw = this.storage?.getItem(admissionKey(eventId))
      if (!raw) return null
      const a = JSON.parse(raw) as Admission
      return a?.token && Date.parse(a.expiresAt) > this.now() ? a : null
    } catch {
      return null
    }
  }

  saveAdmission(eventId: number, a: Admission): void {
    try {
      this.storage?.setItem(admissionKey(eventId), JSON.stringify(a))
    } catch {
      // Kept nowhere: the seat page asks the queue for it again.
    }
  }

  forgetAdmission(eventId: number): void {
    try {
      this.storage?.removeItem(admissionKey(eventId))
    } catch {
      // Nothing stored.
    }
  }

  /** hold is the fan's latest hold while it has not run out, or null. */
  hold = (): LiveHold | null => {
    try {
      const raw = this.storage?.getItem(holdKey)
      if (!raw) return null
      const h = JSON.parse(raw) as LiveHold
      return h?.id && Date.parse(h.expiresAt) > this.now() ? h : null
    } catch {
      return null
    }
  }

  saveHold(h: LiveHold): void {
    try {
      this.storage?.setItem(holdKey, JSON.stringify(h))
    } catch {
      // Kept nowhere: the checkout URL still leads to it.
    }
    this.emit()
  }

  /** forgetHold forgets the hold id once it is paid, released or expired (any hold when id is absent). */
  forgetHold(id?: string): void {
    try {
      const cur = this.storage?.getItem(holdKey)
      if (cur && (!id || (JSON.parse(cur) as LiveHold).id === id)) this.storage?.removeItem(holdKey)
    } catch {
      // Nothing stored.
    }
    this.emit()
  }

  private emit() {
    for (const l of this.listeners) l()
  }
}

function browserStorage(): Storage | undefined {
  try {
    return typeof sessionStorage === 'undefined' ? undefined : sessionStorage
  } catch {
    return undefined
  }
}

/** session is the store of this tab. */
export const session = new SessionStore(browserStorage())

/** useSession is the signed-in session, or null. */
export function useSession(): Session | null {
  return useSyncExternalStore(session.subscribe, session.get, session.get)
}

let lastHold: { raw: string | null; value: LiveHold | null } = { raw: null, value: null }

/** heldNow is session.hold() kept stable between changes, as useSyncExternalStore needs. */
function heldNow(): LiveHold | null {
  const h = session.hold()
  const raw = h && JSON.stringify(h)
  if (raw !== lastHold.raw) lastHold = { raw, value: h }
  return lastHold.value
}

/** useLiveHold is the fan's latest live hold, or null. */
export function useLiveHold(): LiveHold | null {
  return useSyncExternalStore(session.subscribe, heldNow, heldNow)
}
