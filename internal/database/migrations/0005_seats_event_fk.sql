-- Seeding a 100,000-seat event spent half its time in the per-row check of
-- seats.event_id against events (psql \copy of 100,000 seats: ~930 ms with
-- it, ~460 ms without; docs/BENCHMARKS.md). Seats are written only by
-- catalog.CopySeats, inside the transaction that inserts their event, and
-- events are never deleted, so the check could never fail; holds, orders and
-- tickets keep their foreign keys, so every sale still names a real event
-- and a real seat.
ALTER TABLE seats DROP CONSTRAINT seats_event_id_fkey;
