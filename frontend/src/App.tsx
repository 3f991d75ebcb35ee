import { lazy, Suspense, useEffect, useRef } from 'react'
import { match, navigate, useLocation } from './lib/router'
import { Link } from './components/Link'
import { session, useSession } from './lib/session'
import { EventsPage } from './pages/EventsPage'
import { EventPage } from './pages/EventPage'
import { AuthPage } from './pages/AuthPage'
import { OrdersPage } from './pages/OrdersPage'
import { Loading } from './components/ui'
import { HeldBanner } from './components/HeldBanner'

// The seat map, checkout and ops console load on demand: a fan's first
// page (events, waiting room) is what drop-day traffic fetches.
const SeatsPage = lazy(() => import('./pages/SeatsPage').then((m) => ({ default: m.SeatsPage })))
const CheckoutPage = lazy(() => import('./pages/CheckoutPage').then((m) => ({ default: m.CheckoutPage })))
const OpsPage = lazy(() => import('./pages/OpsPage').then((m) => ({ default: m.OpsPage })))
const OpsEventPage = lazy(() => import('./pages/OpsEventPage').then((m) => ({ default: m.OpsEventPage })))

function Page({ pathname }: { pathname: string }) {
  let p: Record<string, string> | null
  if (pathname === '/' || pathname === '/events') return <EventsPage />
  if ((p = match('/events/:id', pathname))) return <EventPage eventId={Number(p.id)} />
  if ((p = match('/events/:id/seats', pathname))) return <SeatsPage eventId={Number(p.id)} />
  if ((p = match('/holds/:id', pathname))) return <CheckoutPage holdId={p.id} />
  if (pathname === '/orders') return <OrdersPage />
  if (pathname === '/signin') return <AuthPage mode="signin" />
  if (pathname === '/register') return <AuthPage mode="register" />
  if (pathname === '/ops') return <OpsPage />
  if ((p = match('/ops/events/:id', pathname))) return <OpsEventPage eventId={Number(p.id)} />
  return (
    <div className="py-16 text-center">
      <h1 className="text-2xl font-bold" tabIndex={-1} data-page-title>
        Page not found
      </h1>
      <p className="mt-2 text-slate-600">
        <Link href="/" className="text-indigo-700 underline">
          See the events on sale
        </Link>
      </p>
    </div>
  )
}

function NavLink({ href, children, current }: { href: string; children: string; current: boolean }) {
  return (
    <Link
      href={href}
      aria-current={current ? 'page' : undefined}
      className={`rounded-md px-3 py-2 text-sm font-medium focus-visible:outline-2 focus-visible:outline-white ${current ? 'bg-white/15 text-white' : 'text-slate-200 hover:bg-white/10 hover:text-white'}`}
    >
      {children}
    </Link>
  )
}

export default function App() {
  const { pathname } = useLocation()
  const s = useSession()
  const first = useRef(true)

  // Move focus to the new page's heading so screen readers announce it.
  useEffect(() => {
    if (first.current) {
      first.current = false
      return
    }
    const t = setTimeout(() => document.querySelector<HTMLElement>('[data-page-title]')?.focus({ preventScroll: true }), 0)
    return () => clearTimeout(t)
  }, [pathname])

  return (
    <div className="flex min-h-dvh flex-col">
      <a href="#main" className="sr-only z-50 rounded bg-white px-3 py-2 text-indigo-800 focus:not-sr-only focus:fixed focus:left-2 focus:top-2">
        Skip to content
      </a>
      <header className="bg-slate-900">
        <nav aria-label="Main" className="mx-auto flex max-w-6xl flex-wrap items-center gap-1 px-4 py-2">
          <Link href="/" className="mr-4 flex items-center gap-2 py-2 text-lg font-bold text-white focus-visible:outline-2 focus-visible:outline-white">
            <img src="/favicon.svg" alt="" width={24} height={24} />
            TicketVelo
          </Link>
          <NavLink href="/" current={pathname === '/' || pathname.startsWith('/events')}>
            Events
          </NavLink>
          {s && (
            <NavLink href="/orders" current={pathname === '/orders'}>
              My orders
            </NavLink>
          )}
          {s?.user.role === 'ops' && (
            <NavLink href="/ops" current={pathname.startsWith('/ops')}>
              Ops console
            </NavLink>
          )}
          <span className="ml-auto flex items-center gap-2">
            {s ? (
              <>
                <span className="hidden text-sm text-slate-300 sm:inline">{s.user.name || s.user.email}</span>
                <button
                  type="button"
                  onClick={() => {
                    session.signOut()
                    navigate('/')
                  }}
                  className="rounded-md px-3 py-2 text-sm font-medium text-slate-200 hover:bg-white/10 hover:text-white focus-visible:outline-2 focus-visible:outline-white"
                >
                  Sign out
                </button>
              </>
            ) : (
              <>
                <NavLink href="/signin" current={pathname === '/signin'}>
                  Sign in
                </NavLink>
                <NavLink href="/register" current={pathname === '/register'}>
                  Register
                </NavLink>
              </>
            )}
          </span>
        </nav>
      </header>
      <HeldBanner pathname={pathname} />
      <main id="main" className="mx-auto w-full max-w-6xl flex-1 px-4 py-6 sm:py-8">
        <Suspense fallback={<Loading what="the page" />}>
          <Page pathname={pathname} />
        </Suspense>
      </main>
      <footer className="border-t border-slate-200 py-4 text-center text-xs text-slate-600">
        TicketVelo · fair queues, no double sales
      </footer>
    </div>
  )
}
