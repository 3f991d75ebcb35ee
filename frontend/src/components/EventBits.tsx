import type { Event, WaitingRoom } from '../lib/api'
import { clock, duration } from '../lib/format'
import { useSecondsLeft } from '../lib/hooks'
import { Badge } from './ui'

export function SaleBadge({ event }: { event: Event }) {
  switch (event.sale_state) {
    case 'open':
      return <Badge tone="green">On sale</Badge>
    case 'sold_out':
      return <Badge tone="red">Sold out</Badge>
    default:
      return <Badge tone="indigo">Coming soon</Badge>
  }
}

export function WaitingRoomBadge({ room }: { room: WaitingRoom }) {
  const label = { prequeue: 'Pre-queue open', open: 'Queue moving', paused: 'Queue paused' }[room.state] ?? room.state
  const tone = room.state === 'paused' ? 'amber' : room.state === 'open' ? 'green' : 'indigo'
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
