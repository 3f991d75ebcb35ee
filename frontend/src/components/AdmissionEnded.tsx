import { useState } from 'react'
import { api, type AdmissionEndReason } from '../lib/api'
import { navigate } from '../lib/router'
import { session } from '../lib/session'
import { Link } from './Link'
import { Button, Notice } from './ui'

export type AdmissionEnd = AdmissionEndReason | 'ended'

/** Why each end of an admission happened, in the fan's words. */
const why: Record<AdmissionEnd, [title: string, body: string]> = {
  timeout: ['Your time to choose seats ran out', 'Your turn from the waiting room reached its time limit.'],
  left: ['You left the queue', 'You left the waiting room (perhaps in another tab), and that ended this turn.'],
  done: ['Your turn is complete', 'Your order completed this turn (a hold that runs out unpaid completes it too).'],
  abandoned: ['Your turn went to the next fan', 'The waiting room did not hear from you for over a minute, so your turn was given away.'],
  replaced: ['A newer turn replaced this one', 'You were let in again, perhaps in another tab, so this page’s turn no longer counts.'],
  ended: ['Your turn has ended', 'Your turn from the waiting room is over.'],
}

/**
 * AdmissionEnded tells a fan whose hold was refused because their
 * admission ended why, what was not held, and offers one way on: rejoin the
 * waiting room, or for a replaced turn, use the newer one.
 */
export function AdmissionEnded({ eventId, reason, unheld, onUseNewTurn }: { eventId: number; reason: AdmissionEnd; unheld: string[]; onUseNewTurn: () => void }) {
  const [busy, setBusy] = useState(false)
  const [title, body] = why[reason]

  async function rejoin() {
    setBusy(true)
    const token = session.get()?.token
    try {
      if (token) await api.joinQueue(eventId, token)
    } catch {
      // The waiting room shows where the fan stands and offers to join.
    }
    navigate(`/events/${eventId}`)
  }

  return (
    <div role="alert" className="max-w-2xl" data-admission-ended={reason}>
      <Notice tone="warning" title={title}>
        <p>{body}</p>
        {unheld.length > 0 && (
          <p className="mt-2" data-testid="unheld">
            {unheld.length === 1 ? 'This was not held' : 'These were not held'}: {unheld.join('; ')}.
          </p>
        )}
        <p className="mt-2">
          {reason === 'replaced'
            ? 'Carry on with the newer turn while it lasts.'
            : 'Rejoin the waiting room for another turn: you get a new place at the back of the queue.'}
        </p>
        <div className="mt-3 flex flex-wrap items-center gap-3">
          {reason === 'replaced' ? (
            <Button onClick={onUseNewTurn}>Use your newer turn</Button>
          ) : (
            <Button onClick={rejoin} busy={busy}>
              Rejoin the waiting room
            </Button>
          )}
          {reason === 'done' && (
            <Link href="/orders" className="font-medium underline">
              See your orders
            </Link>
          )}
        </div>
      </Notice>
    </div>
  )
}
