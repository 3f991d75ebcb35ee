import type { Event, WaitingRoomState } from '../lib/api'
import { clock, duration } from '../lib/format'
import { useSecondsLeft } from '../lib/hooks'
import { useSaleState } from '../lib/sale'
import { Badge } from './ui'

export function SaleBadge({ event }: { event: Event }) {
  switch (useSaleState(event)) {
    case 'open':
      return <Badge tone="green">On sale</Badge>
    case 'sold_out':
      return <Badge tone="red">Sold out</Badge>
    default:
      return <Badge tone="indigo">Coming soon</Badge>
  }
}

const roomBadges: Record<WaitingRoomState, [string, 'indigo' | 'green' | 'amber' | 'red']> = {
  prequeue: ['Pre-queue open', 'indigo'],
  open: ['Queue moving', 'green'],
  paused: ['Queue paused', 'amber'],
  sold_out: ['Queue waiting for returns', 'amber'],
}

/** WaitingRoomBadge names the room's state, as event pages and ops stats give it. */
export function WaitingRoomBadge({ state }: { state: WaitingRoomState }) {
  // A state this UI does not know yet (a newer backend) shows as it is.
  const [label, tone] = roomBadges[state] ?? [state, 'indigo']
  return <Badge tone={tone}>{label}</Badge>
}

/** SaleCountdown counts down to the sale opening, live. */
export function SaleCountdown({ opensAt, compact = false }: { opensAt: string; compact?: boolean }) {
  const left = useSecondsLeft(opensAt)
  if (left === null) return null
  if (left <= 0) return <span>Sale open</span>
  return (
    <span>
      Sale opens in{' '}
      <time dateTime={opensAt} className="font-semibold tabular-nums">
        {compact || left >= 3600 ? duration(left) : clock(left)}
      </time>
    </span>
  )
}
