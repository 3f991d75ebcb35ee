// A small client-side router over the History API: the app has a handful of
// pages, so a 20-line matcher beats shipping a routing library to every fan
// on a congested drop-day connection.
import { useSyncExternalStore } from 'react'

const listeners = new Set<() => void>()

function subscribe(l: () => void) {
  listeners.add(l)
  window.addEventListener('popstate', l)
  return () => {
    listeners.delete(l)
    window.removeEventListener('popstate', l)
  }
}

const locationKey = () => window.location.pathname + window.location.search

/** navigate moves to path without a page load. */
export function navigate(path: string, opts: { replace?: boolean } = {}) {
  if (path === locationKey()) return
  if (opts.replace) window.history.replaceState(null, '', path)
  else window.history.pushState(null, '', path)
  window.scrollTo?.(0, 0)
  for (const l of listeners) l()
}

/** useLocation is the current path and query string. */
export function useLocation(): { pathname: string; search: URLSearchParams } {
  const key = useSyncExternalStore(subscribe, locationKey, locationKey)
  const i = key.indexOf('?')
  return {
    pathname: i < 0 ? key : key.slice(0, i),
    search: new URLSearchParams(i < 0 ? '' : key.slice(i)),
  }
}

/**
 * match matches pathname against a pattern like "/events/:id/seats" and
 * returns its parameters, or null.
 */
export function match(pattern: string, pathname: string): Record<string, string> | null {
  const p = pattern.split('/').filter(Boolean)
  const s = pathname.split('/').filter(Boolean)
  if (p.length !== s.length) return null
  const params: Record<string, string> = {}
  for (let i = 0; i < p.length; i++) {
    if (p[i].startsWith(':')) params[p[i].slice(1)] = decodeURIComponent(s[i])
    else if (p[i] !== s[i]) return null
  }
  return params
}

/** safeNext keeps a ?next= redirect inside this site. */
export function safeNext(next: string | null): string {
  return next && next.startsWith('/') && !next.startsWith('//') ? next : '/'
}
