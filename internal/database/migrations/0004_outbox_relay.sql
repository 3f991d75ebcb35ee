-- The outbox relay publishes a row only when no older row of the same key
-- (order) is still waiting, so one order's events reach Kafka in order even
-- when several bookers relay at once. This index answers that question from
-- the few unpublished rows instead of the whole table.
CREATE INDEX outbox_unpublished_key ON outbox (key, id) WHERE published_at IS NULL;
