// An event's sale state as of now, on the page's clock.
import type { Event, SaleState } from './api'
import { useNow } from './hooks'

/**
 * liveSaleState is the event's sale state as of now: an upcoming sale whose
 * opening has passed is open, so a page loaded before the opening does not
 * keep counting down (or saying "coming soon") until it is reloaded.
 */
export function liveSaleState(event: Pick<Event, 'sale_state' | 'sale_opens_at'>, now: number): SaleState {
  if (event.sale_state !== 'upcoming') return event.sale_state
  const at = Date.parse(event.sale_opens_at)
  return !Number.isNaN(at) && now >= at ? 'open' : 'upcoming'
}

/** useSaleState is liveSaleState, turning over on the page's one-second tick. */
export function useSaleState(event: Pick<Event, 'sale_state' | 'sale_opens_at'>): SaleState {
  return liveSaleState(event, useNow())
}
