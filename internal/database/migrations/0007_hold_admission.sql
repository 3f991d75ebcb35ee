-- The admission a hold was made under (its expiry, which names it), so
-- the end of the hold or its order ends that admission only: a fan who
-- left and was admitted again keeps the newer one. NULL for holds made
-- before this column, which end whichever admission the fan has.
ALTER TABLE holds ADD COLUMN admission_expires_at timestamptz;
