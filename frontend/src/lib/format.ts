// Formatting of money, times and durations for people.

const moneyFormats = new Map<string, Intl.NumberFormat>()

/** money formats integer cents in the event's currency, e.g. £189.00. */
export function money(cents: number, currency: string): string {
  let f = moneyFormats.get(currency)
  if (!f) {
    try {
      f = new Intl.NumberFormat('en-GB', { style: 'currency', currency })
    } catch {
      f = new Intl.NumberFormat('en-GB', { minimumFractionDigits: 2, maximumFractionDigits: 2 })
    }
    moneyFormats.set(currency, f)
  }
  return f.format(cents / 100)
}

/** priceRange is "£39.00" or "£39.00 – £189.00". */
export function priceRange(minCents: number, maxCents: number, currency: string): string {
  return minCents === maxCents ? money(minCents, currency) : `${money(minCents, currency)} – ${money(maxCents, currency)}`
}

/** dateTime formats an RFC 3339 time in the venue's time zone when known. */
export function dateTime(iso: string, timeZone?: string): string {
  const d = new Date(iso)
  if (Number.isNaN(d.getTime())) return iso
  const opts: Intl.DateTimeFormatOptions = {
    weekday: 'short', day: 'numeric', month: 'short', year: 'numeric',
    hour: '2-digit', minute: '2-digit', timeZoneName: 'short',
  }
  try {
    return d.toLocaleString('en-GB', { ...opts, timeZone })
  } catch {
    return d.toLocaleString('en-GB', opts)
  }
}

/**
 * duration formats whole seconds compactly: "2 h 05 min", "4 min 09 s",
 * "42 s". Negative values count as zero.
 */
export function duration(totalSeconds: number): string {
  const s = Math.max(0, Math.floor(totalSeconds))
  const d = Math.floor(s / 86400)
  const h = Math.floor((s % 86400) / 3600)
  const m = Math.floor((s % 3600) / 60)
  const sec = s % 60
  const two = (n: number) => String(n).padStart(2, '0')
  if (d > 0) return `${d} d ${h} h`
  if (h > 0) return `${h} h ${two(m)} min`
  if (m > 0) return `${m} min ${two(sec)} s`
  return `${sec} s`
}

/** clock formats seconds as m:ss or h:mm:ss, for countdowns. */
export function clock(totalSeconds: number): string {
  const s = Math.max(0, Math.ceil(totalSeconds))
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  const sec = s % 60
  const two = (n: number) => String(n).padStart(2, '0')
  return h > 0 ? `${h}:${two(m)}:${two(sec)}` : `${m}:${two(sec)}`
}

/** eta is a friendly wait estimate: "about 3 minutes", "under a minute". */
export function eta(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds)) return 'calculating…'
  if (seconds < 60) return 'under a minute'
  const min = Math.round(seconds / 60)
  if (min < 60) return `about ${min} minute${min === 1 ? '' : 's'}`
  const h = Math.floor(min / 60)
  const rest = min % 60
  return `about ${h} h ${rest} min`
}

/** count formats an integer with thousands separators. */
export function count(n: number): string {
  return n.toLocaleString('en-GB')
}

const wallFormats = new Map<string, Intl.DateTimeFormat>()

/** wallClock is the calendar date and 24-hour time of ms in timeZone, as numbers (any locale's digits aside). */
function wallClock(ms: number, timeZone: string): { y: number; mo: number; d: number; h: number; mi: number } {
  let f = wallFormats.get(timeZone)
  if (!f) {
    f = new Intl.DateTimeFormat('en-GB', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric' })
    wallFormats.set(timeZone, f)
  }
  const p = Object.fromEntries(f.formatToParts(ms).map((x) => [x.type, Number(x.value)]))
  return { y: p.year, mo: p.month, d: p.day, h: p.hour, mi: p.minute }
}

/**
 * zonedInput formats a time for the ops console's date fields: its wall
 * clock in timeZone as "YYYY-MM-DD HH:MM", 24-hour, whatever the browser's
 * locale (a datetime-local field shows mm/dd/yyyy and 12-hour in en-US).
 */
export function zonedInput(d: Date, timeZone: string): string {
  const w = wallClock(d.getTime(), timeZone)
  const two = (n: number) => String(n).padStart(2, '0')
  return `${w.y}-${two(w.mo)}-${two(w.d)} ${two(w.h)}:${two(w.mi)}`
}

/**
 * parseZonedInput reads "YYYY-MM-DD HH:MM" (or with a T) as a wall-clock
 * time in timeZone; null when it is not one, or names a time the zone
 * skips (the hour lost when clocks go forward).
 */
export function parseZonedInput(text: string, timeZone: string): Date | null {
  const m = /^\s*(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})\s*$/.exec(text)
  if (!m) return null
  const [y, mo, d, h, mi] = m.slice(1).map(Number)
  const asUTC = Date.UTC(y, mo - 1, d, h, mi)
  // The zone's offset at a guess, then at the answer: right across a change of offset.
  const offsetAt = (ms: number) => {
    const w = wallClock(ms, timeZone)
    return Date.UTC(w.y, w.mo - 1, w.d, w.h, w.mi) - Math.floor(ms / 60_000) * 60_000
  }
  let t = asUTC - offsetAt(asUTC)
  t = asUTC - offsetAt(t)
  const back = wallClock(t, timeZone)
  if (back.y !== y || back.mo !== mo || back.d !== d || back.h !== h || back.mi !== mi) return null
  return new Date(t)
}

/** timeOfDay is a local time with seconds, 24-hour, e.g. 21:04:09. */
export function timeOfDay(ms: number): string {
  return new Date(ms).toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false })
}
