-- A store's details, set on the console's Stores page (issue 10, "Self-service onboarding";
-- accounts/stores.py, docs/console.md): its street address, its category (the categories of
-- merchants and advertisers, migration 0029) and its opening hours, which analytics and ad
-- targeting read. Existing stores get no address, the category 'other' and no hours (unknown).
--
-- `opening_hours` is an object keyed by weekday (mon … sun); each day open has
-- {"opens": "HH:MM", "closes": "HH:MM"}, a day missing is closed. `closes` before or equal to
-- `opens` runs past midnight ("18:00"–"02:00"); "00:00"–"00:00" is open all day.
ALTER TABLE stores
    ADD COLUMN address text NOT NULL DEFAULT '' CHECK (length(address) <= 300),
    ADD COLUMN category text NOT NULL DEFAULT 'other'
        CHECK (category IN ('food', 'fashion', 'beauty', 'electronics', 'grocery', 'services',
                            'entertainment', 'other')),
    ADD COLUMN opening_hours jsonb NOT NULL DEFAULT '{}'
        CHECK (jsonb_typeof(opening_hours) = 'object');
