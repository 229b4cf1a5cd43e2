-- Issue 9's ads model (docs/ads-model.md): advertisers are the second tenant kind, keyed by
-- `advertiser_id` first; what a venue decides (approvals, block lists, coupon codes) stays keyed
-- by `merchant_id`. The per-merchant `campaigns`/`creatives` of migration 0001 move here.
--
-- What the move does with existing rows:
-- * Each merchant that has campaigns gets an advertiser of its own (`advertisers.merchant_id`),
--   named after the merchant. The old free-text `campaigns.advertiser` label has no column of
--   its own any more: it is kept as the start of the campaign's name ("label: name") unless it
--   was already the merchant's name.
-- * Each campaign keeps its id (so its coupons still point at it), its name and flight; it is
--   `active` if it was approved, else `draft`. It gets one line item with the old tier, CPM
--   pricing at bid 0, no budget, even pacing, the campaign's flight and the own merchant as its
--   only target; and an `approved` approval row at its merchant (own campaigns are approved by
--   construction).
-- * Each creative keeps its id and texts but NOT its image: the old images were stored as
--   uploaded and never checked by content (SQL cannot check or re-encode them, and SVG is
--   refused by the product). The creative is `paused` without a file until its advertiser
--   uploads one in the console (ads/creative_files.py checks and re-encodes it).
-- * Staff members keep every store their merchant has today (from now on staff see only the
--   stores they are given; owners see all).

-- Venue side: what targeting matches on ------------------------------------------------------
ALTER TABLE merchants ADD COLUMN category text NOT NULL DEFAULT 'other'
    CHECK (category IN ('food', 'fashion', 'beauty', 'electronics', 'grocery', 'services',
                        'entertainment', 'other'));
ALTER TABLE stores ADD COLUMN city text CHECK (city IS NULL OR length(city) BETWEEN 1 AND 80);

-- Store-scoped staff: which stores a staff member may act for (the till, store dashboards).
CREATE TABLE membership_stores (
    merchant_id uuid NOT NULL,
    user_id uuid NOT NULL,
    store_id uuid NOT NULL,
    PRIMARY KEY (merchant_id, user_id, store_id),
    FOREIGN KEY (merchant_id, user_id) REFERENCES memberships ON DELETE CASCADE,
    FOREIGN KEY (merchant_id, store_id) REFERENCES stores ON DELETE CASCADE
);
INSERT INTO membership_stores (merchant_id, user_id, store_id)
SELECT m.merchant_id, m.user_id, s.store_id
FROM memberships m JOIN stores s ON s.merchant_id = m.merchant_id
WHERE m.role = 'staff';

-- Advertiser side (advertiser_id first) --------------------------------------------------------
CREATE TABLE advertisers (
    advertiser_id uuid PRIMARY KEY,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 120),
    category text NOT NULL DEFAULT 'other'
        CHECK (category IN ('food', 'fashion', 'beauty', 'electronics', 'grocery', 'services',
                            'entertainment', 'other')),
    merchant_id uuid UNIQUE REFERENCES merchants,  -- a merchant advertising in its own venues
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE advertiser_members (
    advertiser_id uuid NOT NULL REFERENCES advertisers,
    user_id uuid NOT NULL REFERENCES user_accounts,
    role text NOT NULL CHECK (role IN ('admin', 'viewer')),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (advertiser_id, user_id)
);
CREATE INDEX advertiser_members_by_user ON advertiser_members (user_id);

CREATE TABLE ad_campaigns (
    advertiser_id uuid NOT NULL REFERENCES advertisers,
    campaign_id uuid NOT NULL,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    category text NOT NULL DEFAULT 'other'
        CHECK (category IN ('food', 'fashion', 'beauty', 'electronics', 'grocery', 'services',
                            'entertainment', 'other')),
    starts_at timestamptz NOT NULL,
    ends_at timestamptz NOT NULL,
    status text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'active', 'paused', 'ended')),
    -- The share of identities that never see the campaign (a ghost impression instead).
    holdout_share numeric(4, 3) NOT NULL DEFAULT 0.1 CHECK (holdout_share BETWEEN 0 AND 0.5),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (advertiser_id, campaign_id),
    CHECK (ends_at > starts_at)
);

CREATE TABLE ad_line_items (
    advertiser_id uuid NOT NULL,
    line_item_id uuid NOT NULL,
    campaign_id uuid NOT NULL,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    tier text NOT NULL CHECK (tier IN ('sponsorship', 'guaranteed', 'performance', 'house')),
    pricing text NOT NULL CHECK (pricing IN ('cpm', 'cpc', 'cpa')),
    bid_fen bigint NOT NULL DEFAULT 0 CHECK (bid_fen >= 0),  -- per 1,000 impressions / click / action
    budget_fen bigint CHECK (budget_fen > 0),  -- null: no money limit
    goal_impressions bigint CHECK (goal_impressions > 0),  -- null: no impression limit
    pacing text NOT NULL DEFAULT 'even' CHECK (pacing IN ('even', 'asap')),
    starts_at timestamptz NOT NULL,  -- inside the campaign's flight (checked by ads/console.py)
    ends_at timestamptz NOT NULL,
    -- Hours of the week in the venue's local time, Monday 0 h = 0; empty: always.
    dayparts smallint[] NOT NULL DEFAULT '{}'
        CHECK (0 <= ALL (dayparts) AND 167 >= ALL (dayparts) AND array_position(dayparts, NULL) IS NULL),
    weight integer NOT NULL DEFAULT 1 CHECK (weight BETWEEN 1 AND 1000),
    status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused')),
    target_merchants uuid[] NOT NULL DEFAULT '{}',  -- every target: empty means any
    target_stores uuid[] NOT NULL DEFAULT '{}',
    target_categories text[] NOT NULL DEFAULT '{}'
        CHECK (target_categories <@ ARRAY['food', 'fashion', 'beauty', 'electronics', 'grocery',
                                          'services', 'entertainment', 'other']),
    target_cities text[] NOT NULL DEFAULT '{}',
    target_languages text[] NOT NULL DEFAULT '{}' CHECK (target_languages <@ ARRAY['zh-CN', 'en']),
    target_segments text[] NOT NULL DEFAULT '{}',
    target_audience text NOT NULL DEFAULT 'all' CHECK (target_audience IN ('all', 'new', 'returning')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (advertiser_id, line_item_id),
    FOREIGN KEY (advertiser_id, campaign_id) REFERENCES ad_campaigns ON DELETE CASCADE,
    CHECK (ends_at > starts_at)
);
CREATE INDEX ad_line_items_by_campaign ON ad_line_items (advertiser_id, campaign_id);

-- Counted per shopper identity (verified phone or email, else the device pseudonym).
CREATE TABLE ad_frequency_caps (
    advertiser_id uuid NOT NULL REFERENCES advertisers,
    cap_id uuid NOT NULL,
    scope text NOT NULL CHECK (scope IN ('creative', 'line_item', 'campaign', 'advertiser')),
    scope_id uuid NOT NULL,  -- the creative's, line item's, campaign's or advertiser's id
    max_count integer NOT NULL CHECK (max_count BETWEEN 1 AND 1000000),
    period text NOT NULL CHECK (period IN ('lifetime', 'day', 'window')),
    window_seconds integer CHECK (window_seconds BETWEEN 60 AND 31536000),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (advertiser_id, cap_id),
    CHECK ((period = 'window') = (window_seconds IS NOT NULL)),
    CHECK (scope <> 'advertiser' OR scope_id = advertiser_id)
);
CREATE INDEX ad_frequency_caps_by_scope ON ad_frequency_caps (advertiser_id, scope, scope_id);

CREATE TABLE ad_creatives (
    advertiser_id uuid NOT NULL,
    creative_id uuid NOT NULL,
    campaign_id uuid NOT NULL,
    kind text NOT NULL CHECK (kind IN ('image', 'video')),
    headline_zh text NOT NULL CHECK (length(headline_zh) BETWEEN 1 AND 120),
    headline_en text NOT NULL CHECK (length(headline_en) BETWEEN 1 AND 120),
    body_zh text NOT NULL DEFAULT '' CHECK (length(body_zh) <= 500),
    body_en text NOT NULL DEFAULT '' CHECK (length(body_en) <= 500),
    landing_url text CHECK (landing_url ~ '^https?://\S+$' AND length(landing_url) <= 2000),
    file_id uuid,  -- creative_files (ads/creative_files.py): checked, re-encoded, served
    thumbnail_file_id uuid,
    countdown_seconds smallint CHECK (countdown_seconds BETWEEN 1 AND 60),  -- videos only
    status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (advertiser_id, creative_id),
    FOREIGN KEY (advertiser_id, campaign_id) REFERENCES ad_campaigns ON DELETE CASCADE,
    FOREIGN KEY (advertiser_id, file_id) REFERENCES creative_files,
    FOREIGN KEY (advertiser_id, thumbnail_file_id) REFERENCES creative_files,
    CHECK (status = 'paused' OR file_id IS NOT NULL),  -- nothing is shown without a checked file
    CHECK ((kind = 'video') = (countdown_seconds IS NOT NULL))
);
CREATE INDEX ad_creatives_by_campaign ON ad_creatives (advertiser_id, campaign_id);

-- Venue side: approvals and block lists (merchant_id first) -----------------------------------
-- One row per campaign asking to appear in the merchant's venues. No foreign key to
-- ad_campaigns: the two tenant kinds are distributed apart (docs/ads-model.md).
CREATE TABLE ad_approvals (
    merchant_id uuid NOT NULL REFERENCES merchants,
    campaign_id uuid NOT NULL,
    advertiser_id uuid NOT NULL,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected')),
    requested_at timestamptz NOT NULL DEFAULT now(),
    decided_by uuid REFERENCES user_accounts,  -- null: approved by construction (own campaigns)
    decided_at timestamptz,
    reason text CHECK (length(reason) <= 500),
    PRIMARY KEY (merchant_id, campaign_id),
    CHECK ((status = 'pending') = (decided_at IS NULL)),
    CHECK (status <> 'rejected' OR coalesce(length(reason), 0) > 0)
);
CREATE INDEX ad_approvals_by_status ON ad_approvals (merchant_id, status, requested_at);

-- A blocked advertiser or category is never shown at the merchant and never asks again.
CREATE TABLE ad_blocks (
    merchant_id uuid NOT NULL REFERENCES merchants,
    block_id uuid NOT NULL,
    advertiser_id uuid,
    category text CHECK (category IN ('food', 'fashion', 'beauty', 'electronics', 'grocery',
                                      'services', 'entertainment', 'other')),
    created_by uuid REFERENCES user_accounts,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (merchant_id, block_id),
    CHECK (num_nonnulls(advertiser_id, category) = 1)
);
CREATE UNIQUE INDEX ad_blocks_advertiser ON ad_blocks (merchant_id, advertiser_id)
    WHERE advertiser_id IS NOT NULL;
CREATE UNIQUE INDEX ad_blocks_category ON ad_blocks (merchant_id, category)
    WHERE category IS NOT NULL;

-- Moving the old rows ----------------------------------------------------------------------------
INSERT INTO advertisers (advertiser_id, name, merchant_id)
SELECT gen_random_uuid(), left(m.name, 120), m.merchant_id
FROM merchants m
WHERE EXISTS (SELECT 1 FROM campaigns c WHERE c.merchant_id = m.merchant_id);

INSERT INTO ad_campaigns (advertiser_id, campaign_id, name, starts_at, ends_at, status,
                          created_at, updated_at)
SELECT a.advertiser_id, c.campaign_id,
       left(CASE WHEN c.advertiser IN ('', a.name) THEN c.name
                 ELSE c.advertiser || ': ' || c.name END, 200),
       c.starts_at, c.ends_at, CASE WHEN c.approved THEN 'active' ELSE 'draft' END,
       c.created_at, c.created_at
FROM campaigns c JOIN advertisers a ON a.merchant_id = c.merchant_id;

INSERT INTO ad_line_items (advertiser_id, line_item_id, campaign_id, name, tier, pricing,
                           starts_at, ends_at, target_merchants)
SELECT a.advertiser_id, gen_random_uuid(), c.campaign_id, left(c.name, 200), c.tier, 'cpm',
       c.starts_at, c.ends_at, ARRAY[c.merchant_id]
FROM campaigns c JOIN advertisers a ON a.merchant_id = c.merchant_id;

INSERT INTO ad_approvals (merchant_id, campaign_id, advertiser_id, status, requested_at,
                          decided_at)
SELECT c.merchant_id, c.campaign_id, a.advertiser_id, 'approved', c.created_at, c.created_at
FROM campaigns c JOIN advertisers a ON a.merchant_id = c.merchant_id;

INSERT INTO ad_creatives (advertiser_id, creative_id, campaign_id, kind, headline_zh,
                          headline_en, body_zh, body_en, status)
SELECT a.advertiser_id, cr.creative_id, cr.campaign_id, 'image',
       left(coalesce(nullif(cr.headline_zh, ''), nullif(cr.headline_en, ''), '-'), 120),
       left(coalesce(nullif(cr.headline_en, ''), nullif(cr.headline_zh, ''), '-'), 120),
       left(cr.body_zh, 500), left(cr.body_en, 500), 'paused'
FROM creatives cr JOIN advertisers a ON a.merchant_id = cr.merchant_id;

-- Coupons stay with the venue (their codes are redeemed there) and name the campaign they
-- belong to by (advertiser_id, campaign_id); no foreign key across the two tenant kinds.
ALTER TABLE coupons ADD COLUMN advertiser_id uuid;
UPDATE coupons cp SET advertiser_id = a.advertiser_id
FROM advertisers a WHERE a.merchant_id = cp.merchant_id;
ALTER TABLE coupons
    ALTER COLUMN advertiser_id SET NOT NULL,
    DROP CONSTRAINT coupons_merchant_id_campaign_id_fkey;
CREATE INDEX coupons_by_campaign ON coupons (merchant_id, advertiser_id, campaign_id);

DROP TABLE creatives;
DROP TABLE campaigns;
