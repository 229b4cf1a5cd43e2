-- Footfall (issue 7): raw observations of devices near a store's sensors, privacy-first
-- (PRODUCT.md §3, §5; docs/footfall-ingest.md). Written only by analytics/observations.py.
--
-- One row per device, zone (the sensor or access point: its router_id) and second. A device is
-- named only by a keyed hash, never by its MAC: kernel.privacy.device_hash (the merchant's key)
-- for associated devices, kernel.privacy.probe_hash (a key that rotates daily per store) for
-- probe-only ones. `randomized`: the MAC had the locally administered bit.
--
-- Partitioned by UTC day so that retention drops whole days (analytics/retention.py). The day
-- partitions live in their own schema, `footfall_partitions` (named obs_YYYYMMDD), created
-- ahead (today and the next two days) by the retention job and on demand for a late row that
-- is still within retention; there is no default partition: a row of a day without one is
-- refused by PostgreSQL, and analytics/observations.py never sends one outside retention.
CREATE SCHEMA footfall_partitions;

CREATE TABLE footfall_observations (
    merchant_id uuid NOT NULL,
    store_id uuid NOT NULL,
    zone text NOT NULL,
    seen_at timestamptz NOT NULL,
    device_hash text NOT NULL,
    source text NOT NULL CHECK (source IN ('probe', 'assoc')),
    rssi smallint CHECK (rssi BETWEEN -127 AND 0),
    randomized boolean NOT NULL,
    -- Keyed device first: the rollup job reads a device's sightings (analytics/footfall.sql
    -- sightings_of); the index below serves a store's time ranges (occupancy now, the job).
    PRIMARY KEY (merchant_id, store_id, device_hash, seen_at, zone)
) PARTITION BY RANGE (seen_at);
CREATE INDEX footfall_observations_by_time ON footfall_observations (merchant_id, store_id, seen_at);

-- The partition of one UTC day, created if missing; true when it was created now. Concurrent
-- callers (two controllers, the job) wait on an advisory lock instead of failing on the race.
CREATE FUNCTION footfall_ensure_partition(day date) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    part text := 'obs_' || to_char(day, 'YYYYMMDD');
BEGIN
    IF to_regclass('footfall_partitions.' || part) IS NOT NULL THEN
        RETURN false;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('footfall_partition:' || part));
    IF to_regclass('footfall_partitions.' || part) IS NOT NULL THEN
        RETURN false;
    END IF;
    BEGIN
        EXECUTE format(
            'CREATE TABLE footfall_partitions.%I PARTITION OF footfall_observations '
            'FOR VALUES FROM (%L) TO (%L)',
            part, day::timestamp AT TIME ZONE 'UTC', (day + 1)::timestamp AT TIME ZONE 'UTC');
    EXCEPTION WHEN duplicate_table THEN
        -- Another connection created it meanwhile (seen when two writers met a new day: the
        -- re-check above can miss a table created in a transaction that just committed).
        RETURN false;
    END;
    RETURN true;
END $$;

-- Drop every day partition whose whole day ended before `cutoff`; the names of those dropped.
CREATE FUNCTION footfall_drop_partitions(cutoff timestamptz) RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
    part record;
BEGIN
    FOR part IN
        SELECT c.relname FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE i.inhparent = 'footfall_observations'::regclass
            AND n.nspname = 'footfall_partitions' AND c.relname ~ '^obs_[0-9]{8}$'
            AND (to_date(substr(c.relname, 5), 'YYYYMMDD') + 1)::timestamp AT TIME ZONE 'UTC'
                <= cutoff
        ORDER BY c.relname
    LOOP
        EXECUTE format('DROP TABLE footfall_partitions.%I', part.relname);
        RETURN NEXT part.relname;
    END LOOP;
END $$;

SELECT footfall_ensure_partition((now() AT TIME ZONE 'UTC')::date + ahead)
FROM generate_series(-1, 2) AS ahead;

-- Staff and fixed devices of a store (PRODUCT.md §3): their observations are dropped at
-- ingest. device_hash is the stable, merchant-keyed kernel.privacy.device_hash of the MAC.
-- 'listed': the merchant named it; 'detected': seen over 6 h a day on 3 of the last 7 days.
CREATE TABLE footfall_fixed_devices (
    merchant_id uuid NOT NULL,
    store_id uuid NOT NULL,
    device_hash text NOT NULL,
    reason text NOT NULL CHECK (reason IN ('listed', 'detected')),
    since timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (merchant_id, store_id, device_hash)
);

-- A (stable-hashed) device seen over 6 h on one store-local day; kept 7 days, for the
-- 3-of-7-days rule above.
CREATE TABLE footfall_long_stays (
    merchant_id uuid NOT NULL,
    store_id uuid NOT NULL,
    day date NOT NULL,
    device_hash text NOT NULL,
    seconds integer NOT NULL CHECK (seconds >= 0),
    PRIMARY KEY (merchant_id, store_id, device_hash, day)
);
CREATE INDEX footfall_long_stays_by_day ON footfall_long_stays (day);

-- Each merchant's footfall retention; a merchant without a row has the defaults. Raw
-- observations: hours (dropped by whole day partitions once the day is older than the longest
-- of them; a merchant's shorter setting deletes its own rows earlier). Visits: days (helper C's
-- tables, analytics/visits.py, read it through analytics.retention.retention_of).
CREATE TABLE footfall_retention (
    merchant_id uuid NOT NULL REFERENCES merchants,
    raw_hours integer NOT NULL DEFAULT 24 CHECK (raw_hours BETWEEN 1 AND 168),
    visits_days integer NOT NULL DEFAULT 30 CHECK (visits_days BETWEEN 1 AND 3650),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (merchant_id)
);

-- A device's OS family from its DHCP option 55 (analytics/fingerprints.py), by stable hash.
CREATE TABLE footfall_device_os (
    merchant_id uuid NOT NULL,
    device_hash text NOT NULL,
    os_family text NOT NULL CHECK (os_family IN ('ios', 'android', 'windows', 'linux', 'other')),
    seen_at timestamptz NOT NULL,
    PRIMARY KEY (merchant_id, device_hash)
);
