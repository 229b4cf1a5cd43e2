-- How many times openNDS's authmon was handed each queued grant (portal/authmon.py). A grant
-- handed over and never acked is either refused by openNDS (its binauth race; authmon tries
-- again next poll) or done with the ack lost (openNDS then answers "No" to every later
-- `ndsctl auth` of the already authenticated client). The portal cannot tell which, so after
-- two offers the shopper's "Connecting you…" page says they may well be online already, and
-- an expired grant that was offered says "could not confirm" instead of "could not let you
-- through". Expired grants are kept 10 minutes for that page.
ALTER TABLE authmon_grants ADD COLUMN offered integer NOT NULL DEFAULT 0 CHECK (offered >= 0);
