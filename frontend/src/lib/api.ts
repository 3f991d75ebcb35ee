// The typed client of the TicketVelo HTTP API (docs/API.md). Every call goes
// through request(), which turns the API's {"error":{code,message,...}} body
// into an ApiError and a dropped connection into a NetworkError, so pages
// branch on codes and never parse bodies themselves.

export type Role = 'fan' | 'ops'

export interface User {
  id: number
  email: string
  name: string
  role: Role
}

export interface AuthResponse {
  user: User
  access_token: string
  token_type: 'Bearer'
  expires_at: string
}

export interface Venue {
  id: number
  name: string
  city: string
  timezone: string
}

export interface AdminVenue {
  id: number
  name: string
  city: string
  capacity: number
}

export type SaleState = 'upcoming' | 'open' | 'sold_out'

export interface SectionSummary {
  name: string
  tier: string
  capacity: number
  seats_left: number
  min_price_cents: number
  max_price_cents: number
}

/**
 * WaitingRoomState is the room as event pages and ops stats show it:
 * prequeue until the draw placed the early fans, then open, paused (by ops)
 * or sold_out (every seat held or sold: admission waits for one to come back).
 */
export type WaitingRoomState = 'prequeue' | 'open' | 'paused' | 'sold_out'

export interface WaitingRoom {
  state: WaitingRoomState
  queue_length: number
  draw_seed?: string
}

export interface Event {
  id: number
  slug: string
  name: string
  venue: Venue
  starts_at: string
  sale_opens_at: string
  max_tickets_per_fan: number
  currency: string
  capacity: number
  seats_left: number
  sale_state: SaleState
  /** Only on GET /events/{id}. */
  sections?: SectionSummary[]
  /** Only on GET /events/{id}. */
  waiting_room?: WaitingRoom
}

export type QueueState = 'prequeue' | 'waiting' | 'admitted' | 'expired'

/** ExpiredReason is why a place in the queue ended (state expired). */
export type ExpiredReason = 'timeout' | 'done' | 'abandoned'

export interface QueueStatus {
  state: QueueState
  event_id: number
  /** Absent in prequeue: the draw has not happened. */
  position?: number
  ahead?: number
  /** Absent while admission is paused or the event sold out. */
  eta_seconds?: number
  /** Waiting fans only: ops paused admission. */
  paused?: boolean
  /**
   * Waiting fans only: every seat is held or sold, so nobody is admitted;
   * the fan keeps their place and admission resumes when a seat comes back.
   */
  sold_out?: boolean
  poll_after_ms: number
  sale_opens_at: string
  admission_token?: string
  admission_expires_at?: string
  /** Expired only. */
  reason?: ExpiredReason
  /** Only in the 201 of the join that made the place: kept for the event and sent with every poll. */
  place_receipt?: string
}

/**
 * placeReceipts keeps each event's place receipt in localStorage, so a reload
 * or a new tab still has it: it is what brings the fan's place back should
 * the waiting room lose it.
 */
const placeReceipts = {
  key: (eventId: number) => `tv.placeReceipt.${eventId}`,
  get(eventId: number): string | undefined {
    try {
      return globalThis.localStorage?.getItem(this.key(eventId)) ?? undefined
    } catch {
      return undefined
    }
  },
  set(eventId: number, receipt: string) {
    try {
      globalThis.localStorage?.setItem(this.key(eventId), receipt)
    } catch {
      // Private mode or a full store: the fan just goes without.
    }
  },
  delete(eventId: number) {
    try {
      globalThis.localStorage?.removeItem(this.key(eventId))
    } catch {
      // as above
    }
  },
}

/**
 * AdmissionEndReason is why an admission token's admission ended, as a hold's
 * 410 admission_expired names it in details.reason.
 */
export type AdmissionEndReason = 'timeout' | 'done' | 'left' | 'abandoned' | 'replaced'

const admissionEndReasons: ReadonlySet<string> = new Set<AdmissionEndReason>(['timeout', 'done', 'left', 'abandoned', 'replaced'])

export interface AdmissionSettings {
  rate_per_second: number
  max_active: number
  paused: boolean
  auto: boolean
}

export interface AdmissionStats {
  state: WaitingRoomState
  queue_length: number
  prequeue_length: number
  admitted_total: number
  active: number
  rate_per_second: number
  measured_rate_per_second: number
  max_active: number
  paused: boolean
  sold_out: boolean
  auto: boolean
  abandoned: number
  /** null while paused or sold out. */
  eta_back_seconds: number | null
  /** "" before the draw. */
  draw_seed: string
}

/** OpsSample is one 5 s sample of the ops console's charts; null: nobody reported it. */
export interface OpsSample {
  at: string
  queue_length: number | null
  seats_left: number | null
  admitted_per_second: number | null
  holds_created_per_second: number | null
  holds_conflict_per_second: number | null
  orders_per_second: number | null
  booker_p99_ms: number | null
  booker_error_ratio: number | null
}

export interface OpsHistory {
  interval_seconds: number
  samples: OpsSample[]
}

export type SeatStatus = 'available' | 'held' | 'sold'

export interface Seat {
  id: number
  number: number
  price_cents: number
  status: SeatStatus
  accessible: boolean
}

export interface SeatRow {
  label: string
  seats: Seat[]
}

export interface SeatSection {
  name: string
  tier: string
  rows: SeatRow[]
}

export interface SeatMap {
  event_id: number
  as_of: string
  currency: string
  sections: SeatSection[]
}

/**
 * SeatStatusView is GET /seats/status: the live status of every seat as one
 * letter per seat id, in id order (a available, h held, s sold).
 */
export interface SeatStatusView {
  event_id: number
  as_of: string
  statuses: string
}

export interface HeldSeat {
  id: number
  section: string
  row: string
  number: number
  price_cents: number
}

export type HoldStatus = 'active' | 'confirmed' | 'released' | 'expired'

export interface Hold {
  id: string
  event_id: number
  status: HoldStatus
  seats: HeldSeat[]
  total_cents: number
  currency: string
  expires_at: string
}

export interface Ticket {
  id: string
  seat_id: number
  section: string
  row: string
  number: number
  price_cents: number
}

export interface Order {
  id: string
  event_id: number
  event_name: string
  status: 'confirmed' | 'canceled'
  tickets: Ticket[]
  total_cents: number
  currency: string
  created_at: string
  canceled_at: string | null
}

export type HoldRequest =
  | { seat_ids: number[] }
  | { section: string; quantity: number; together: boolean }

export type PaymentToken = 'tok_visa' | 'tok_declined' | 'tok_timeout'

export interface NewEvent {
  venue_id: number
  name: string
  starts_at: string
  sale_opens_at: string
  max_tickets_per_fan: number
}

/** ApiError is an answer of the API with an error status. */
export class ApiError extends Error {
  readonly status: number
  readonly code: string
  readonly details: Record<string, unknown>
  readonly requestId?: string
  /** Seconds from Retry-After (429 and 503), when the server sent one. */
  readonly retryAfter?: number

  constructor(
    status: number,
    code: string,
    message: string,
    details: Record<string, unknown> = {},
    requestId?: string,
    retryAfter?: number,
  ) {
    super(message)
    this.name = 'ApiError'
    this.status = status
    this.code = code
    this.details = details
    this.requestId = requestId
    this.retryAfter = retryAfter
  }

  /** seatIds are the taken seats a 409 seat_taken names. */
  get seatIds(): number[] {
    const ids = this.details.seat_ids
    return Array.isArray(ids) ? ids.filter((n): n is number => typeof n === 'number') : []
  }
}

/**
 * admissionEnded says whether a hold failed because the admission token is no
 * longer good: its admission ended (410 admission_expired, with the reason
 * when the server named a known one, else 'ended') or the token itself ran
 * out (401 token_expired, a 'timeout'). null for any other failure.
 */
export function admissionEnded(err: unknown): AdmissionEndReason | 'ended' | null {
  if (!(err instanceof ApiError)) return null
  if (err.code === 'token_expired') return 'timeout'
  if (err.code !== 'admission_expired') return null
  const r = err.details.reason
  return typeof r === 'string' && admissionEndReasons.has(r) ? (r as AdmissionEndReason) : 'ended'
}

/** NetworkError is a request that got no HTTP answer at all. */
export class NetworkError extends Error {
  constructor(cause: unknown) {
    super('The connection to TicketVelo was lost. Check your network; we will keep trying.')
    this.name = 'NetworkError'
    this.cause = cause
  }
}

/**
 * outcomeUnknown tells whether a failed call may still have taken effect on
 * the server (no answer, a 5xx, or a duplicate still running): the retry must
 * then reuse the same Idempotency-Key so it cannot act twice.
 */
export function outcomeUnknown(err: unknown): boolean {
  if (err instanceof NetworkError) return true
  if (err instanceof ApiError) {
    // A 429 ticket_limit is a definite no; rate_limited was never processed
    // but retrying it with the same key is harmless and honours Retry-After.
    return err.status >= 500 || err.code === 'request_in_flight' || err.code === 'rate_limited'
  }
  return false
}

/**
 * friendly is what a fan reads for each error code: what happened and what
 * to do, in a sentence. Codes whose server message names the exact rule
 * (a weak password, a bad field) keep that message instead.
 */
const friendly: Record<string, string | ((e: ApiError) => string)> = {
  seat_taken: 'Someone else just took one of those seats. Pick another seat.',
  not_enough_seats: 'There are not enough free seats there right now. Try fewer seats, another section, or seats apart.',
  request_in_flight: 'We are still working on your last try. Wait a moment, then try again.',
  ticket_limit: (e) => {
    const n = /at most (\d+)/.exec(e.message)?.[1]
    return `That would take you over ${n ? `the ${n} tickets` : 'the tickets'} each fan may buy for this event, counting seats you already hold or bought.`
  },
  hold_expired: 'Your hold ran out, so the seats went back on sale. Choose seats again.',
  hold_not_active: 'These seats are already paid for or were released.',
  admission_expired: 'Your turn to buy has ended. Join the queue again for another turn.',
  payment_declined: 'Your card was declined and nothing was charged. Your seats are still held: try another card.',
  payment_timeout: 'The bank did not answer in time. Your seats are still held: try again.',
  unavailable: 'We are very busy right now. Please try again in a few seconds.',
  rate_limited: 'That was a lot of tries in a short time. Wait a moment, then try again.',
  too_many_attempts: 'That was a lot of tries in a short time. Wait a moment, then try again.',
  email_taken: 'There is already an account with this email. Sign in instead.',
  bad_credentials: 'The email or password is wrong.',
  forbidden: 'This is for the operations team only.',
  not_your_hold: 'These seats are held by another account.',
  sale_not_open: 'The sale has not opened yet.',
  not_found: 'We could not find that page or item.',
  event_not_found: 'We could not find this event.',
  hold_not_found: 'We could not find these held seats.',
  order_not_found: 'We could not find this order.',
  not_in_queue: 'You are not in the queue for this event.',
  token_expired: 'Your session has ended. Sign in again.',
}

const capitalized = (s: string) => (s ? s[0].toUpperCase() + s.slice(1) : s)

/** errorMessage is the sentence to show a person for any failure. */
export function errorMessage(err: unknown): string {
  if (err instanceof ApiError) {
    const f = friendly[err.code]
    if (typeof f === 'function') return f(err)
    if (f) return f
    if (err.status === 401) return 'Your session has ended. Sign in again.'
    if (err.status >= 500) return 'Something went wrong on our side. Please try again in a moment.'
    const m = capitalized(err.message)
    return /[.!?]$/.test(m) ? m : `${m}.`
  }
  if (err instanceof NetworkError) return err.message
  if (err instanceof Error) return err.message
  return 'Something went wrong.'
}

interface RequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE'
  token?: string
  body?: unknown
  idempotencyKey?: string
  signal?: AbortSignal
  placeReceipt?: string
}

function retryAfterSeconds(res: Response): number | undefined {
  const v = res.headers.get('Retry-After')
  if (v === null) return undefined
  const n = Number(v)
  if (Number.isFinite(n)) return Math.max(0, n)
  const at = Date.parse(v)
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - Date.now()) / 1000))
}

/** Client talks to one TicketVelo deployment. */
export class Client {
  readonly baseURL: string
  private readonly fetchImpl: typeof fetch

  constructor(baseURL = '', fetchImpl: typeof fetch = (...args) => globalThis.fetch(...args)) {
    this.baseURL = baseURL.replace(/\/$/, '')
    this.fetchImpl = fetchImpl
  }

  async request<T>(path: string, opts: RequestOptions = {}): Promise<T> {
    const headers: Record<string, string> = { Accept: 'application/json' }
    if (opts.body !== undefined) headers['Content-Type'] = 'application/json'
    if (opts.token) headers.Authorization = `Bearer ${opts.token}`
    if (opts.idempotencyKey) headers['Idempotency-Key'] = opts.idempotencyKey
    if (opts.placeReceipt) headers['X-Place-Receipt'] = opts.placeReceipt
    let res: Response
    try {
      res = await this.fetchImpl(this.baseURL + path, {
        method: opts.method ?? 'GET',
        headers,
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
        signal: opts.signal,
        cache: 'no-store',
      })
    } catch (err) {
      if (err instanceof DOMException && err.name === 'AbortError') throw err
      throw new NetworkError(err)
    }
    return this.parse<T>(res)
  }

  /** parse reads an answer: its JSON, or the ApiError its status and body say. */
  private async parse<T>(res: Response): Promise<T> {
    if (res.status === 204) return undefined as T
    const text = await res.text().catch(() => '')
    let data: unknown
    try {
      data = text ? JSON.parse(text) : undefined
    } catch {
      data = undefined
    }
    if (!res.ok) {
      const requestId = res.headers.get('X-Request-Id') ?? undefined
      const e = (data as { error?: { code?: unknown; message?: unknown; details?: unknown; request_id?: unknown } } | undefined)?.error
      if (e && typeof e.code === 'string') {
        throw new ApiError(
          res.status,
          e.code,
          typeof e.message === 'string' && e.message ? e.message : e.code,
          e.details && typeof e.details === 'object' ? (e.details as Record<string, unknown>) : {},
          typeof e.request_id === 'string' ? e.request_id : requestId,
          retryAfterSeconds(res),
        )
      }
      // A proxy or a crashed upstream answered without our error shape.
      throw new ApiError(res.status, `http_${res.status}`, `The server answered ${res.status} ${res.statusText || ''}`.trim(), {}, requestId, retryAfterSeconds(res))
    }
    if (data === undefined) {
      throw new ApiError(res.status, 'malformed_response', 'The server sent an answer we could not read.')
    }
    return data as T
  }

  // Accounts

  register(email: string, password: string, name: string): Promise<AuthResponse> {
    return this.request('/api/v1/auth/register', { method: 'POST', body: { email, password, name } })
  }

  login(email: string, password: string): Promise<AuthResponse> {
    return this.request('/api/v1/auth/login', { method: 'POST', body: { email, password } })
  }

  async me(token: string): Promise<User> {
    return (await this.request<{ user: User }>('/api/v1/me', { token })).user
  }

  // Events

  async events(signal?: AbortSignal): Promise<Event[]> {
    return (await this.request<{ events: Event[] }>('/api/v1/events', { signal })).events
  }

  async event(id: number, signal?: AbortSignal): Promise<Event> {
    return (await this.request<{ event: Event }>(`/api/v1/events/${id}`, { signal })).event
  }

  // Waiting room

  async joinQueue(eventId: number, token: string): Promise<QueueStatus> {
    const st = await this.request<QueueStatus>(`/api/v1/events/${eventId}/queue`, { method: 'POST', token })
    if (st.place_receipt) placeReceipts.set(eventId, st.place_receipt)
    return st
  }

  /** queueStatus polls the fan's place, showing the receipt of their join: should the waiting room lose the place in a fault, it comes back. */
  queueStatus(eventId: number, token: string, signal?: AbortSignal): Promise<QueueStatus> {
    return this.request(`/api/v1/events/${eventId}/queue`, { token, signal, placeReceipt: placeReceipts.get(eventId) })
  }

  async leaveQueue(eventId: number, token: string): Promise<void> {
    await this.request<void>(`/api/v1/events/${eventId}/queue`, { method: 'DELETE', token })
    placeReceipts.delete(eventId)
  }

  // Seats, holds, orders

  seats(eventId: number, signal?: AbortSignal): Promise<SeatMap> {
    return this.request(`/api/v1/events/${eventId}/seats`, { signal })
  }

  /**
   * seatsIfChanged asks for the seat map only if it changed since etag: an
   * unchanged arena answers 304 with no body instead of 1.6 MB of JSON to
   * download and parse on every poll of every fan.
   */
  async seatsIfChanged(eventId: number, etag: string | null, signal?: AbortSignal): Promise<{ map: SeatMap; etag: string | null } | null> {
    const got = await this.getIfChanged<SeatMap>(`/api/v1/events/${eventId}/seats`, etag, signal)
    return got && { map: got.body, etag: got.etag }
  }

  /**
   * seatStatusesIfChanged asks for the status view of the seat map only if
   * it changed since etag (its own ETag, not the map's): a page that has the
   * map polls this, a byte a seat, instead of the whole map.
   */
  async seatStatusesIfChanged(eventId: number, etag: string | null, signal?: AbortSignal): Promise<{ view: SeatStatusView; etag: string | null } | null> {
    const got = await this.getIfChanged<SeatStatusView>(`/api/v1/events/${eventId}/seats/status`, etag, signal)
    if (got === null) return null
    if (typeof (got.body as Partial<SeatStatusView> | null)?.statuses !== 'string') {
      throw new ApiError(200, 'malformed_response', 'The server sent an answer we could not read.')
    }
    return { view: got.body, etag: got.etag }
  }

  /** getIfChanged GETs path with If-None-Match: null for a 304. */
  private async getIfChanged<T>(path: string, etag: string | null, signal?: AbortSignal): Promise<{ body: T; etag: string | null } | null> {
    let res: Response
    try {
      res = await this.fetchImpl(this.baseURL + path, {
        headers: etag ? { Accept: 'application/json', 'If-None-Match': etag } : { Accept: 'application/json' },
        signal,
        // The cache would answer the 304 itself; we want to see it.
        cache: 'no-store',
      })
    } catch (err) {
      if (err instanceof DOMException && err.name === 'AbortError') throw err
      throw new NetworkError(err)
    }
    if (res.status === 304) return null
    return { body: await this.parse<T>(res), etag: res.headers.get('ETag') }
  }

  /** hold takes the ADMISSION token, not the access token. */
  async hold(eventId: number, admissionToken: string, idempotencyKey: string, req: HoldRequest): Promise<Hold> {
    return (
      await this.request<{ hold: Hold }>(`/api/v1/events/${eventId}/holds`, {
        method: 'POST',
        token: admissionToken,
        idempotencyKey,
        body: req,
      })
    ).hold
  }

  async getHold(holdId: string, token: string, signal?: AbortSignal): Promise<Hold> {
    return (await this.request<{ hold: Hold }>(`/api/v1/holds/${encodeURIComponent(holdId)}`, { token, signal })).hold
  }

  async confirmHold(holdId: string, token: string, idempotencyKey: string, paymentToken: PaymentToken): Promise<Order> {
    return (
      await this.request<{ order: Order }>(`/api/v1/holds/${encodeURIComponent(holdId)}/confirm`, {
        method: 'POST',
        token,
        idempotencyKey,
        body: { payment_token: paymentToken },
      })
    ).order
  }

  releaseHold(holdId: string, token: string): Promise<void> {
    return this.request(`/api/v1/holds/${encodeURIComponent(holdId)}`, { method: 'DELETE', token })
  }

  async orders(token: string, signal?: AbortSignal): Promise<Order[]> {
    return (await this.request<{ orders: Order[] }>('/api/v1/orders', { token, signal })).orders
  }

  async cancelOrder(orderId: string, token: string, idempotencyKey: string): Promise<Order> {
    return (
      await this.request<{ order: Order }>(`/api/v1/orders/${encodeURIComponent(orderId)}/cancel`, {
        method: 'POST',
        token,
        idempotencyKey,
      })
    ).order
  }

  // Ops

  async venues(token: string): Promise<AdminVenue[]> {
    return (await this.request<{ venues: AdminVenue[] }>('/api/v1/admin/venues', { token })).venues
  }

  async createEvent(token: string, ev: NewEvent): Promise<Event> {
    return (await this.request<{ event: Event }>('/api/v1/admin/events', { method: 'POST', token, body: ev })).event
  }

  admission(eventId: number, token: string): Promise<AdmissionSettings> {
    return this.request(`/api/v1/admin/events/${eventId}/admission`, { token })
  }

  setAdmission(eventId: number, token: string, s: AdmissionSettings): Promise<AdmissionSettings> {
    return this.request(`/api/v1/admin/events/${eventId}/admission`, { method: 'PUT', token, body: s })
  }

  stats(eventId: number, token: string, signal?: AbortSignal): Promise<AdmissionStats> {
    return this.request(`/api/v1/admin/events/${eventId}/stats`, { token, signal })
  }

  /** statsHistory is the event's last 15 minutes, for the console's charts. */
  statsHistory(eventId: number, token: string, signal?: AbortSignal): Promise<OpsHistory> {
    return this.request(`/api/v1/admin/events/${eventId}/stats/history`, { token, signal })
  }
}

/** api is the client of the deployment that served this page. */
export const api = new Client()
