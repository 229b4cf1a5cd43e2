-- Sightings travel in batches (marketing/intake.py `record_events`, docs/marketing.md "The live
-- stream"): one inbox row per store's batch of sightings (a router's report, thinned), its
-- devices, moments and event ids as parallel arrays, so the engine takes, and the retention
-- deletes, one row where it took hundreds. A row of the earlier form ('sighting', one device)
-- is still read.
ALTER TABLE marketing_inbox
    DROP CONSTRAINT marketing_inbox_kind_check,
    ADD CONSTRAINT marketing_inbox_kind_check
        CHECK (kind IN ('sighting', 'sightings', 'login', 'claim', 'redemption', 'consent')),
    ADD COLUMN devices text[],
    ADD COLUMN seen_at timestamptz[],
    ADD COLUMN sighting_ids uuid[],
    ADD CONSTRAINT marketing_inbox_sightings_arrays CHECK (
        (kind = 'sightings') = (devices IS NOT NULL)
        AND (devices IS NULL OR cardinality(devices) BETWEEN 1 AND 1000
             AND cardinality(seen_at) = cardinality(devices)
             AND cardinality(sighting_ids) = cardinality(devices)));

-- What the trigger engine keeps in memory of a merchant (marketing/engine.py, "Profiles kept in
-- memory") holds while this number is the one its last batch wrote: every batch of an engine
-- adds one, and so does any other writer of what it keeps (an erasure, a contact the
-- dispatcher suppressed, a trigger deleted with its contacts), so the engine reads a
-- merchant's profiles, links and contacts again after anyone else changed them.
CREATE TABLE marketing_engine_epochs (
    merchant_id uuid PRIMARY KEY,
    epoch bigint NOT NULL
);
