// Small React hooks shared by the pages.
import { useEffect, useRef, useState, useSyncExternalStore } from 'react'

// One ticker for the whole page, so every countdown on it turns over on the
// same tick instead of each at its own phase.
const tickListeners = new Set<() => void>()
let tickTimer: ReturnType<typeof setInterval> | null = null
let tickNow = Date.now()

function subscribeTick(l: () => void) {
  tickListeners.add(l)
  if (tickTimer === null) {
    tickNow = Date.now()
    tickTimer = setInterval(() => {
      tickNow = Date.now()
      for (const f of tickListeners) f()
    }, 1000)
  }
  return () => {
    tickListeners.delete(l)
    if (tickListeners.size === 0 && tickTimer !== null) {
      clearInterval(tickTimer)
      tickTimer = null
    }
  }
}

/** useNow is the current time, updated every second (for countdowns). */
export function useNow(): number {
  return useSyncExternalStore(subscribeTick, () => tickNow, () => tickNow)
}

/** useSecondsLeft counts down to an RFC 3339 time; null when there is none. */
export function useSecondsLeft(iso: string | undefined | null): number | null {
  const now = useNow()
  if (!iso) return null
  const at = Date.parse(iso)
  return Number.isNaN(at) ? null : Math.max(0, (at - now) / 1000)
}

/** usePageHidden tracks document.visibilityState. */
export function usePageHidden(): boolean {
  const [hidden, setHidden] = useState(() => typeof document !== 'undefined' && document.visibilityState === 'hidden')
  useEffect(() => {
    const on = () => setHidden(document.visibilityState === 'hidden')
    document.addEventListener('visibilitychange', on)
    return () => document.removeEventListener('visibilitychange', on)
  }, [])
  return hidden
}

export type Loadable<T> =
  | { state: 'loading'; data?: T }
  | { state: 'ready'; data: T }
  | { state: 'error'; error: unknown; data?: T }

/**
 * useLoad runs load when deps change and on reload(), aborting the previous
 * run; the last good data stays visible while a reload is running or fails.
 */
export function useLoad<T>(load: (signal: AbortSignal) => Promise<T>, deps: unknown[]): [Loadable<T>, () => void] {
  const [state, setState] = useState<Loadable<T>>({ state: 'loading' })
  const [generation, setGeneration] = useState(0)
  const loadRef = useRef(load)
  useEffect(() => {
    loadRef.current = load
  })
  const depsKey = JSON.stringify(deps)
  const lastDeps = useRef(depsKey)
  useEffect(() => {
    const ctrl = new AbortController()
    // Data of other arguments (another event) must not show while loading.
    const same = lastDeps.current === depsKey
    lastDeps.current = depsKey
    setState((s) => ({ state: 'loading', data: same ? s.data : undefined }))
    loadRef.current(ctrl.signal).then(
      (data) => {
        if (!ctrl.signal.aborted) setState({ state: 'ready', data })
      },
      (error) => {
        if (!ctrl.signal.aborted) setState((s) => ({ state: 'error', error, data: s.data }))
      },
    )
    return () => ctrl.abort()
  }, [depsKey, generation])
  return [state, () => setGeneration((g) => g + 1)]
}

/** useDocumentTitle sets the tab title while the page is shown. */
export function useDocumentTitle(title: string) {
  useEffect(() => {
    document.title = title ? `${title} · TicketVelo` : 'TicketVelo'
  }, [title])
}

/** Polled is what usePolled knows: the last value, when it came, and the last failure (null once a poll succeeds again). */
export interface Polled<T> {
  value: T | null
  okAt: number | null
  error: unknown
}

/**
 * usePolled calls load every everyMs while the tab is visible, one call at
 * a time, starting again whenever deps change (the ops console's figures
 * and charts).
 */
export function usePolled<T>(load: (signal: AbortSignal) => Promise<T>, everyMs: number, deps: unknown[]): Polled<T> {
  const [state, setState] = useState<Polled<T>>({ value: null, okAt: null, error: null })
  const hidden = usePageHidden()
  useEffect(() => {
    if (hidden) return
    const ctrl = new AbortController()
    let timer: ReturnType<typeof setTimeout>
    const loop = async () => {
      try {
        const value = await load(ctrl.signal)
        setState({ value, okAt: Date.now(), error: null })
      } catch (err) {
        if (ctrl.signal.aborted) return
        setState((s) => ({ ...s, error: err }))
      }
      if (!ctrl.signal.aborted) timer = setTimeout(loop, everyMs)
    }
    void loop()
    return () => {
      ctrl.abort()
      clearTimeout(timer)
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps -- load is a new closure each render; deps name what it reads
  }, [...deps, everyMs, hidden])
  return state
}
