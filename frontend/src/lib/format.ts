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

/** toLocalInput formats a time for an <input type="datetime-local">. */
export function toLocalInput(d: Date): string {
  const two = (n: number) => String(n).padStart(2, '0')
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}T${two(d.getHours())}:${two(d.getMinutes())}`
}

/** timeOfDay is a local time with seconds, 24-hour, e.g. 21:04:09. */
export function timeOfDay(ms: number): string {
  return new Date(ms).toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false })
}
