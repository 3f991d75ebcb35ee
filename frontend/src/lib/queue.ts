// Figures of the fan's place in the queue, for display.

/**
 * queueProgress is how far the fan has come since first seeing their place:
 * 0 at the first position seen, 1 at the front.
 */
export function queueProgress(firstAhead: number | null, ahead: number | undefined): number {
  if (ahead === undefined) return 0
  if (!firstAhead || firstAhead <= 0) return ahead <= 0 ? 1 : 0
  return Math.min(1, Math.max(0, (firstAhead - ahead) / firstAhead))
}
