-- Precision marketing (issue 14; marketing/, docs/marketing.md): shopper profiles and their
-- tags, segments, triggers that act within seconds of a visit, one contact budget across every
-- channel, and the closed loop measured against holdouts.
--
-- Every table is the merchant's: a profile is one pseudonymous shopper at one merchant, keyed
-- by their login identity where one exists ('i:' + the identity's keyed hash, portal
-- shopper_identities) and by the device's pseudonym otherwise ('d:' + device_hash, the stable
-- merchant-keyed hash analytics and the portal use). No raw MAC and no phone number is kept.

-- The merchant's contact budget (docs/marketing.md, "One contact budget"): at most so many
-- contacts per shopper per day and per week over every channel, none in quiet hours (store-local
-- time), and the smallest audience an advertiser may see counted.
CREATE TABLE marketing_settings (
    merchant_id uuid PRIMARY KEY,
    max_per_day smallint NOT NULL DEFAULT 1 CHECK (max_per_day BETWEEN 0 AND 50),
    max_per_week smallint NOT NULL DEFAULT 3 CHECK (max_per_week BETWEEN 0 AND 200),
    quiet_from time NOT NULL DEFAULT '21:00',
    quiet_until time NOT NULL DEFAULT '09:00',
    k_threshold smallint NOT NULL DEFAULT 50 CHECK (k_threshold >= 10),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- One shopper at one merchant: what their visits, coupons and logins say (kept in marketing's
-- own words, folded from the live stream by marketing/engine.py), their consent, and the tags
-- their facts earn ({tag_id: definition version}).
CREATE TABLE marketing_profiles (
    merchant_id uuid NOT NULL,
    profile_key text NOT NULL CHECK (profile_key ~ '^[id]:[0-9a-f]{16,64}$'),
    created_at timestamptz NOT NULL,
    -- the current (or last) visit: its store, first and latest sighting
    visit_store uuid,
    visit_started_at timestamptz,
    last_seen_at timestamptz,
    visits_total integer NOT NULL DEFAULT 0,
    recent_visits timestamptz[] NOT NULL DEFAULT '{}',  -- visit starts of the last 60 days
    previous_visit_at timestamptz,                      -- the visit before the current one
    dwell_seconds bigint NOT NULL DEFAULT 0,            -- every finished visit's length
    longest_dwell_seconds integer NOT NULL DEFAULT 0,
    stores uuid[] NOT NULL DEFAULT '{}',
    claims integer NOT NULL DEFAULT 0,
    redemptions integer NOT NULL DEFAULT 0,
    login_methods text[] NOT NULL DEFAULT '{}',
    consent_sms boolean NOT NULL DEFAULT false,
    consent_email boolean NOT NULL DEFAULT false,
    opted_out_at timestamptz,                           -- every channel, at once
    tags jsonb NOT NULL DEFAULT '{}',
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (merchant_id, profile_key)
) WITH (fillfactor = 70);  -- rewritten at nearly every event: room on the page for HOT updates

-- Which profile a device belongs to once it logged in under an identity (the device's own
-- profile was merged into the identity's then).
CREATE TABLE marketing_profile_devices (
    merchant_id uuid NOT NULL,
    device_hash text NOT NULL,
    profile_key text NOT NULL,
    linked_at timestamptz NOT NULL,
    PRIMARY KEY (merchant_id, device_hash),
    FOREIGN KEY (merchant_id, profile_key) REFERENCES marketing_profiles ON DELETE CASCADE
);

-- A tag: a rule over a profile's facts that a merchant reads and edits without code
-- (marketing/rules.py). Each edit is a new version, kept, so a tagged profile says which
-- definition tagged it.
CREATE TABLE marketing_tags (
    merchant_id uuid NOT NULL,
    tag_id text NOT NULL CHECK (tag_id ~ '^[a-z][a-z0-9_]{0,39}$'),
    name_zh text NOT NULL CHECK (length(name_zh) BETWEEN 1 AND 40),
    name_en text NOT NULL CHECK (length(name_en) BETWEEN 1 AND 40),
    rule jsonb NOT NULL,
    version integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    enabled boolean NOT NULL DEFAULT true,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (merchant_id, tag_id)
);
CREATE TABLE marketing_tag_versions (
    merchant_id uuid NOT NULL,
    tag_id text NOT NULL,
    version integer NOT NULL,
    rule jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (merchant_id, tag_id, version),
    FOREIGN KEY (merchant_id, tag_id) REFERENCES marketing_tags ON DELETE CASCADE
);

-- A saved combination of tags and facts (the same rule language), with its live size.
CREATE TABLE marketing_segments (
    merchant_id uuid NOT NULL,
    segment_id uuid NOT NULL,
    name_zh text NOT NULL CHECK (length(name_zh) BETWEEN 1 AND 60),
    name_en text NOT NULL CHECK (length(name_en) BETWEEN 1 AND 60),
    rule jsonb NOT NULL,
    shared_with_advertisers boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (merchant_id, segment_id)
);

-- Where a merchant's signed webhooks go; the signing secret sealed (kernel.privacy.seal).
CREATE TABLE marketing_webhooks (
    merchant_id uuid NOT NULL,
    webhook_id uuid NOT NULL,
    url text NOT NULL CHECK (url ~ '^https?://' AND length(url) <= 2000),
    sealed_secret bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (merchant_id, webhook_id)
);

-- Scene marketing: on an event (arrival, dwell, login, redemption) whose profile matches the
-- condition, the action: an offer on the portal, an SMS, a signed webhook or a WeChat template
-- message. `offer_key` names the offer: one shopper gets one offer at most once, on any channel.
-- An always-on holdout (`holdout_share`, stable per shopper) gets nothing and is compared.
CREATE TABLE marketing_triggers (
    merchant_id uuid NOT NULL,
    trigger_id uuid NOT NULL,
    name_zh text NOT NULL CHECK (length(name_zh) BETWEEN 1 AND 60),
    name_en text NOT NULL CHECK (length(name_en) BETWEEN 1 AND 60),
    event text NOT NULL CHECK (event IN ('arrival', 'dwell', 'login', 'redemption')),
    dwell_minutes smallint CHECK (dwell_minutes BETWEEN 1 AND 720),
    store_id uuid,                                   -- NULL: at every store
    rule jsonb NOT NULL,                             -- over the profile, as a tag's
    channel text NOT NULL CHECK (channel IN ('portal', 'sms', 'webhook', 'wechat')),
    offer_key text NOT NULL CHECK (offer_key ~ '^[A-Za-z0-9._:-]{1,80}$'),
    message_zh text NOT NULL DEFAULT '' CHECK (length(message_zh) <= 300),
    message_en text NOT NULL DEFAULT '' CHECK (length(message_en) <= 300),
    coupon_id uuid,                                  -- the ads coupon it offers, if any
    webhook_id uuid,
    holdout_share real NOT NULL DEFAULT 0.1 CHECK (holdout_share >= 0 AND holdout_share < 1),
    window_days smallint NOT NULL DEFAULT 14 CHECK (window_days BETWEEN 1 AND 90),
    enabled boolean NOT NULL DEFAULT true,
    version integer NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((event = 'dwell') = (dwell_minutes IS NOT NULL)),
    CHECK ((channel = 'webhook') = (webhook_id IS NOT NULL)),
    PRIMARY KEY (merchant_id, trigger_id),
    FOREIGN KEY (merchant_id, webhook_id) REFERENCES marketing_webhooks
);

-- The live stream into the trigger engine: station sightings, logins, claims, redemptions and
-- consent changes, each under its own deterministic id, so a redelivered message is one event.
-- Done rows stay a day (a late duplicate is still recognised), then retention deletes them.
CREATE TABLE marketing_inbox (
    merchant_id uuid NOT NULL,
    event_id uuid NOT NULL,
    kind text NOT NULL CHECK (kind IN ('sighting', 'login', 'claim', 'redemption', 'consent')),
    device_hash text NOT NULL,
    store_id uuid,
    occurred_at timestamptz NOT NULL,
    payload jsonb NOT NULL DEFAULT '{}',
    received_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    done_at timestamptz,
    PRIMARY KEY (merchant_id, event_id)
);
CREATE INDEX marketing_inbox_waiting ON marketing_inbox (received_at) WHERE done_at IS NULL;
CREATE INDEX marketing_inbox_done ON marketing_inbox (done_at) WHERE done_at IS NOT NULL;

-- Every contact a trigger decided on, sent or not: 'pending' (to dispatch), 'sent', 'delivered'
-- (the channel confirmed), 'failed' (gave up), 'holdout' (the shopper is in the trigger's
-- holdout: nothing sent, compared), 'suppressed' (with its reason). `contact_id` is the
-- delivery id every channel carries, so a re-sent contact is recognised by its receiver.
CREATE TABLE marketing_contacts (
    merchant_id uuid NOT NULL,
    contact_id uuid NOT NULL,
    profile_key text NOT NULL,
    trigger_id uuid NOT NULL,
    trigger_version integer NOT NULL,
    offer_key text NOT NULL,
    channel text NOT NULL,
    store_id uuid,
    event_id uuid NOT NULL,
    event_at timestamptz NOT NULL,                   -- the event that set it off
    decided_at timestamptz NOT NULL,
    -- the closed loop's arm of an eligible shopper (ITT: a treated contact the budget held
    -- back stays in its arm); NULL for one who could not be contacted at all (no consent)
    arm text CHECK (arm IN ('treatment', 'holdout')),
    status text NOT NULL CHECK (status IN
        ('pending', 'sent', 'delivered', 'failed', 'holdout', 'suppressed')),
    reason text CHECK (reason IN ('budget_day', 'budget_week', 'quiet_hours', 'no_consent',
                                  'opted_out', 'duplicate_offer', 'no_channel')),
    attempts smallint NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    sent_at timestamptz,
    last_error text,
    converted_at timestamptz,                        -- a redemption or return visit in the window
    conversion text CHECK (conversion IN ('redemption', 'return_visit')),
    CHECK ((status = 'suppressed') = (reason IS NOT NULL)),
    CHECK ((status = 'holdout') = (arm IS NOT DISTINCT FROM 'holdout')),
    PRIMARY KEY (merchant_id, contact_id),
    FOREIGN KEY (merchant_id, trigger_id) REFERENCES marketing_triggers ON DELETE CASCADE
);
-- One offer once per shopper, on every channel and in the holdout alike.
CREATE UNIQUE INDEX marketing_contacts_one_offer ON marketing_contacts
    (merchant_id, profile_key, offer_key) WHERE status <> 'suppressed';
-- The budget: a shopper's contacts of the last week.
CREATE INDEX marketing_contacts_by_profile ON marketing_contacts
    (merchant_id, profile_key, decided_at);
CREATE INDEX marketing_contacts_to_send ON marketing_contacts (next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX marketing_contacts_by_trigger ON marketing_contacts
    (merchant_id, trigger_id, decided_at);
