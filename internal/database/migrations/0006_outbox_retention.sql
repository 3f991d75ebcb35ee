-- The relay deletes published rows once they are older than the retention
-- (TICKETVELO_OUTBOX_RETENTION). Rows arrive in created_at order, so a BRIN
-- index finds the old ones for a few pages of index, and costs the confirm
-- transaction that inserts a row next to nothing, unlike a B-tree.
CREATE INDEX outbox_created_brin ON outbox USING brin (created_at);
