import { useEffect } from 'react'
import { clock } from '../lib/format'
import { useSecondsLeft } from '../lib/hooks'
import { Link } from './Link'
import { session, useLiveHold } from '../lib/session'

/**
 * HeldBanner stands on every page while the fan's seats are held: how long
 * is left and the way back to checkout, so a hold is never lost with its
 * URL. Checkout itself says as much and hides it.
 */
export function HeldBanner({ pathname }: { pathname: string }) {
  const hold = useLiveHold()
  const left = useSecondsLeft(hold?.expiresAt)
  const over = hold !== null && left !== null && left <= 0
  useEffect(() => {
    if (over) session.forgetHold(hold.id)
  }, [over, hold])
  if (!hold || over || pathname === `/holds/${hold.id}`) return null
  return (
    <div role="region" aria-label="Your held seats" className="border-b border-amber-300 bg-amber-50" data-testid="held-banner">
      <p className="mx-auto flex max-w-6xl flex-wrap items-center gap-x-3 gap-y-1 px-4 py-2 text-sm text-amber-950">
        <span>
          <span className="font-semibold">
            Your {hold.seats === 1 ? 'seat is' : `${hold.seats} seats are`} held
          </span>
          {hold.eventName ? ` for ${hold.eventName}` : ''}: <span className="font-semibold tabular-nums">{clock(left ?? 0)}</span> left to pay.
        </span>
        <Link href={`/holds/${hold.id}`} className="font-semibold text-indigo-800 underline">
          Go to checkout →
        </Link>
      </p>
    </div>
  )
}
