// Figures of the fan's place in the queue, for display.
import type { AdmissionEndReason, QueueStatus, WaitingRoomState } from './api'

/**
 * queueProgress is how far the fan has come since first seeing their place:
 * 0 at the first position seen, 1 at the front.
 */
export function queueProgress(firstAhead: number | null, ahead: number | undefined): number {
  if (ahead === undefined) return 0
  if (!firstAhead || firstAhead <= 0) return ahead <= 0 ? 1 : 0
  return Math.min(1, Math.max(0, (firstAhead - ahead) / firstAhead))
}

/** Stall says why the queue does not move for a waiting fan, if it does not. */
export interface Stall {
  /** Every seat is held or sold: nobody is admitted until one comes back. */
  soldOut: boolean
  /** Ops paused admission. */
  paused: boolean
}

/**
 * queueStall reads the fan's own queue status, which says sold out within
 * the admission interval; the event page's room state (seconds stale, and
 * naming only one reason) stands in only for a status without the flags.
 */
export function queueStall(status: QueueStatus, room: WaitingRoomState | undefined): Stall {
  return {
    soldOut: status.sold_out ?? room === 'sold_out',
    paused: status.paused ?? room === 'paused',
  }
}

/**
 * admissionEndOf reads the fan's queue status for the admission whose token
 * the seat page holds: null while it lives, else why it ended ('ended' when
 * the status does not say: the fan is waiting again, or a reason this UI
 * does not know), so the page can tell the fan at once instead of at their
 * next hold.
 */
export function admissionEndOf(status: QueueStatus, admissionToken: string): AdmissionEndReason | 'ended' | null {
  switch (status.state) {
    case 'admitted':
      return !status.admission_token || status.admission_token === admissionToken ? null : 'replaced'
    case 'expired':
      return status.reason === 'timeout' || status.reason === 'done' || status.reason === 'abandoned' ? status.reason : 'ended'
    default:
      return 'ended'
  }
}
