-- Footfall (issue 7): per-store settings, visits and the hourly/daily rollups the dashboards and
-- the JSON API read (analytics/visits.py, analytics/rollups.py, analytics/metrics.py;
-- docs/footfall-metrics.md). Visits are rebuilt from footfall_observations (migration 0016) and
-- login events; rollups are recomputed (never incremented) from visits.

-- Each store's metric definitions (PRODUCT.md §3); a store without a row has these defaults.
-- Retention is per merchant, in footfall_retention (0016).
CREATE TABLE footfall_settings (
    merchant_id uuid NOT NULL,
    store_id uuid NOT NULL,
    -- Cisco Meraki's location analytics default "visitor" threshold; see the doc for why.
    inside_rssi smallint NOT NULL DEFAULT -70 CHECK (inside_rssi BETWEEN -100 AND 0),
    detected_rssi smallint NOT NULL DEFAULT -85 CHECK (detected_rssi BETWEEN -127 AND 0),
    visitor_min_dwell integer NOT NULL DEFAULT 300 CHECK (visitor_min_dwell BETWEEN 0 AND 86400),
    visit_gap integer NOT NULL DEFAULT 900 CHECK (visit_gap BETWEEN 60 AND 14400),
    visit_cap integer NOT NULL DEFAULT 43200 CHECK (visit_cap BETWEEN 3600 AND 86400),
    bounce integer NOT NULL DEFAULT 180 CHECK (bounce BETWEEN 0 AND 86400),
    engaged integer NOT NULL DEFAULT 900 CHECK (engaged BETWEEN 0 AND 86400),
    -- The store's occupancy calibration (analytics/occupancy.py Calibration: people =
    -- w_random · randomised + w_static · static + intercept); NULL until fitted.
    occupancy_w_random real,
    occupancy_w_static real,
    occupancy_intercept real,
    CHECK ((occupancy_w_random IS NULL) = (occupancy_w_static IS NULL)
           AND (occupancy_w_random IS NULL) = (occupancy_intercept IS NULL)),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (merchant_id, store_id)
);

-- One visit of one device to one store (seconds for durations). Kept for the merchant's
-- visits_days (footfall_retention), then deleted; the rollups stay.
CREATE TABLE footfall_visits (
    merchant_id uuid NOT NULL,
    store_id uuid NOT NULL,
    device_hash text NOT NULL,
    started_at timestamptz NOT NULL,
    ended_at timestamptz NOT NULL,
    zone text NOT NULL,                -- the zone of most of its sightings
    dwell integer NOT NULL CHECK (dwell >= 0),
    max_rssi smallint,
    sightings integer NOT NULL CHECK (sightings > 0),
    entered boolean NOT NULL,          -- a sighting at or above the inside threshold, or connected
    visitor boolean NOT NULL,          -- inside for the visitor minimum, or logged in
    connected boolean NOT NULL,        -- associated to our SSID or logged in
    logged_in boolean NOT NULL,        -- a portal login during the visit (identity-based)
    randomized boolean NOT NULL,
    PRIMARY KEY (merchant_id, store_id, device_hash, started_at),
    CHECK (ended_at >= started_at)
);
CREATE INDEX footfall_visits_by_start ON footfall_visits (merchant_id, store_id, started_at);
CREATE INDEX footfall_visits_by_age ON footfall_visits (started_at);

-- Loyalty reads each store's logins (events, migration 0001) by time: an index-only scan.
CREATE INDEX events_logins_by_store ON events (merchant_id, store_id, occurred_at)
    INCLUDE (device_hash) WHERE kind = 'login';

-- Rollups per store-local hour (bucket_start: the hour's start; local_start: the same in the
-- store's time zone) and per store-local day. zone '' is the whole store.
CREATE TABLE footfall_hourly (
    merchant_id uuid NOT NULL,
    store_id uuid NOT NULL,
    zone text NOT NULL,
    bucket_start timestamptz NOT NULL,
    local_start timestamp NOT NULL,
    detected integer NOT NULL,
    passers_by integer NOT NULL,
    visitors integer NOT NULL,
    connected integer NOT NULL,
    randomized integer NOT NULL,
    visits integer NOT NULL,
    entries integer NOT NULL,
    bounces integer NOT NULL,
    engaged integer NOT NULL,
    dwell_5_20 integer NOT NULL,
    dwell_20_60 integer NOT NULL,
    dwell_60_360 integer NOT NULL,
    dwell_360_plus integer NOT NULL,
    dwell_sum bigint NOT NULL,
    returning_visits integer NOT NULL,
    new_visits integer NOT NULL,
    occupancy_avg real NOT NULL,
    occupancy_peak integer NOT NULL,
    PRIMARY KEY (merchant_id, store_id, zone, bucket_start)
);
CREATE INDEX footfall_hourly_by_local ON footfall_hourly (merchant_id, store_id, zone, local_start);

CREATE TABLE footfall_daily (
    merchant_id uuid NOT NULL,
    store_id uuid NOT NULL,
    zone text NOT NULL,
    day date NOT NULL,
    detected integer NOT NULL,
    passers_by integer NOT NULL,
    visitors integer NOT NULL,
    connected integer NOT NULL,
    randomized integer NOT NULL,
    visits integer NOT NULL,
    entries integer NOT NULL,
    bounces integer NOT NULL,
    engaged integer NOT NULL,
    dwell_5_20 integer NOT NULL,
    dwell_20_60 integer NOT NULL,
    dwell_60_360 integer NOT NULL,
    dwell_360_plus integer NOT NULL,
    dwell_sum bigint NOT NULL,
    returning_visits integer NOT NULL,
    new_visits integer NOT NULL,
    occupancy_avg real NOT NULL,
    occupancy_peak integer NOT NULL,
    -- Visitor visits started that day by dwell: 60 one-minute bins below 1 h, 60 five-minute
    -- bins to 6 h, 12 half-hour bins to 12 h, then one for 12 h (analytics/metrics.py
    -- DWELL_BINS): the median dwell of any range from rollups alone, after visits are gone.
    dwell_hist integer[] NOT NULL CHECK (cardinality(dwell_hist) = 133),
    PRIMARY KEY (merchant_id, store_id, zone, day)
);

-- UTC hours of a store whose observations changed since the rollup job last ran. Append-only
-- (mark_id), so that marking never waits on the job's row locks; the job deletes the marks it
-- claimed (FOR UPDATE SKIP LOCKED) once their hours are recomputed.
CREATE TABLE footfall_dirty (
    merchant_id uuid NOT NULL,
    store_id uuid NOT NULL,
    bucket_start timestamptz NOT NULL,
    mark_id bigint GENERATED ALWAYS AS IDENTITY,
    marked_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (merchant_id, store_id, bucket_start, mark_id)
);
