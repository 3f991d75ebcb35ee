-- The booker's additions to the core schema.

-- Which seats a hold took, kept after the hold ends so its history (and the
-- invariant checks) can still name them; seats.hold_id forgets released ones.
ALTER TABLE holds ADD COLUMN seat_nos integer[] NOT NULL DEFAULT '{}';

-- Tickets a fan has in live holds and orders per event. Holds add to it
-- under the row lock of an upsert whose WHERE keeps it within the event's
-- limit, so concurrent holds by one fan cannot together pass the limit;
-- releases, expiries and cancellations subtract.
CREATE TABLE fan_tickets (
    event_id bigint NOT NULL REFERENCES events (id),
    user_id  bigint NOT NULL REFERENCES users (id),
    tickets  integer NOT NULL CHECK (tickets >= 0),
    PRIMARY KEY (event_id, user_id)
);

-- Idempotency records of one scope (one event's holds) are reloaded into
-- Redis after Redis lost them.
CREATE INDEX idempotency_keys_scope ON idempotency_keys (scope, created_at);
