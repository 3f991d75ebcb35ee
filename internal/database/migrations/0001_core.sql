-- The core schema of the design: Postgres is the source of truth for who
-- owns which seat. Redis only keeps copies that cut load.

CREATE TABLE users (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email         text NOT NULL UNIQUE CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 254),
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    password_hash text NOT NULL,
    role          text NOT NULL DEFAULT 'fan' CHECK (role IN ('fan', 'ops')),
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- A venue's layout is the list of its sections, rows and seats; an event
-- copies it into its own seat inventory when it is created.
CREATE TABLE venues (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug       text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9-]{1,64}$'),
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    city       text NOT NULL DEFAULT '',
    timezone   text NOT NULL DEFAULT 'UTC',
    layout     jsonb NOT NULL,
    capacity   integer NOT NULL CHECK (capacity > 0),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE events (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    venue_id            bigint NOT NULL REFERENCES venues (id),
    slug                text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9-]{1,64}$'),
    name                text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    starts_at           timestamptz NOT NULL,
    sale_opens_at       timestamptz NOT NULL,
    max_tickets_per_fan integer NOT NULL DEFAULT 6 CHECK (max_tickets_per_fan BETWEEN 1 AND 50),
    currency            text NOT NULL DEFAULT 'GBP' CHECK (currency ~ '^[A-Z]{3}$'),
    capacity            integer NOT NULL CHECK (capacity > 0),
    created_at          timestamptz NOT NULL DEFAULT now(),
    CHECK (sale_opens_at <= starts_at)
);
CREATE INDEX events_starts_at ON events (starts_at);

CREATE TABLE holds (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    event_id    bigint NOT NULL REFERENCES events (id),
    user_id     bigint NOT NULL REFERENCES users (id),
    status      text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'confirmed', 'released', 'expired')),
    seat_count  integer NOT NULL CHECK (seat_count > 0),
    total_cents bigint NOT NULL CHECK (total_cents >= 0),
    expires_at  timestamptz NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
-- The sweeper looks only at live holds in expiry order.
CREATE INDEX holds_active_expiry ON holds (expires_at) WHERE status = 'active';
CREATE INDEX holds_event_user ON holds (event_id, user_id) WHERE status = 'active';

-- One row per seat of an event. seat_no numbers the seats of an event from 0,
-- which is also the seat's offset in the Redis bitmap of taken seats.
-- version grows on every change: writers update only the version they read.
-- Labels (section, row, number) are unique by construction: the layout is
-- validated before its seats are copied. A unique index on them would double
-- the cost of seeding a 100,000-seat event (measured in docs/BENCHMARKS.md).
CREATE TABLE seats (
    event_id    bigint NOT NULL REFERENCES events (id),
    seat_no     integer NOT NULL CHECK (seat_no >= 0),
    section     text NOT NULL,
    row_label   text NOT NULL,
    number      integer NOT NULL CHECK (number > 0),
    price_cents integer NOT NULL CHECK (price_cents >= 0),
    tier        text NOT NULL DEFAULT '',
    accessible  boolean NOT NULL DEFAULT false,
    status      text NOT NULL DEFAULT 'available' CHECK (status IN ('available', 'held', 'sold')),
    version     bigint NOT NULL DEFAULT 0,
    hold_id     uuid REFERENCES holds (id),
    PRIMARY KEY (event_id, seat_no),
    -- A seat is held exactly when it belongs to a hold; sold seats keep the
    -- hold that sold them.
    CHECK ((status = 'available') = (hold_id IS NULL))
);
CREATE INDEX seats_hold ON seats (hold_id) WHERE hold_id IS NOT NULL;

CREATE TABLE orders (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    hold_id         uuid NOT NULL UNIQUE REFERENCES holds (id),
    event_id        bigint NOT NULL REFERENCES events (id),
    user_id         bigint NOT NULL REFERENCES users (id),
    idempotency_key text NOT NULL,
    status          text NOT NULL DEFAULT 'confirmed' CHECK (status IN ('confirmed', 'canceled')),
    total_cents     bigint NOT NULL CHECK (total_cents >= 0),
    payment_ref     text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now(),
    canceled_at     timestamptz,
    UNIQUE (user_id, idempotency_key),
    CHECK ((status = 'canceled') = (canceled_at IS NOT NULL))
);
CREATE INDEX orders_user ON orders (user_id, created_at DESC);

CREATE TABLE tickets (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    order_id    uuid NOT NULL REFERENCES orders (id),
    event_id    bigint NOT NULL,
    seat_no     integer NOT NULL,
    price_cents integer NOT NULL CHECK (price_cents >= 0),
    canceled_at timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (event_id, seat_no) REFERENCES seats (event_id, seat_no)
);
-- The last line of defence: whatever the locks and versions got wrong, a
-- seat has at most one valid ticket.
CREATE UNIQUE INDEX tickets_one_per_seat ON tickets (event_id, seat_no) WHERE canceled_at IS NULL;
CREATE INDEX tickets_order ON tickets (order_id);

-- Mutating API calls replay their first answer for the same key.
CREATE TABLE idempotency_keys (
    user_id      bigint NOT NULL REFERENCES users (id),
    key          text NOT NULL CHECK (length(key) BETWEEN 1 AND 200),
    scope        text NOT NULL,
    request_hash text NOT NULL,
    status_code  integer,
    response     bytea,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, scope, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- Booking events written in the same transaction as the change they report;
-- the relay publishes them to Kafka and stamps published_at.
CREATE TABLE outbox (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    topic        text NOT NULL,
    key          text NOT NULL,
    type         text NOT NULL,
    payload      jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz,
    attempts     integer NOT NULL DEFAULT 0
);
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;

-- One row per mail the notifier owes: the claim is taken before sending, so a
-- redelivered event finds it and sends nothing twice. No foreign key: the
-- notifier knows orders only from the events it consumes.
CREATE TABLE notifications (
    order_id   uuid NOT NULL,
    kind       text NOT NULL CHECK (kind IN ('booking.confirmed', 'booking.canceled')),
    status     text NOT NULL DEFAULT 'claimed' CHECK (status IN ('claimed', 'sent', 'dead')),
    recipient  text NOT NULL,
    attempts   integer NOT NULL DEFAULT 0,
    last_error text NOT NULL DEFAULT '',
    message_id text NOT NULL DEFAULT '',
    claimed_at timestamptz NOT NULL DEFAULT now(),
    sent_at    timestamptz,
    PRIMARY KEY (order_id, kind)
);
