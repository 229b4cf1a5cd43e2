-- Issue 9's ad delivery (docs/ad-decision.md): the events a venue's pages report (impressions,
-- clicks), the ghost impressions of the holdout, the refusals, and the delivery counters pacing
-- and budgets read. Events are kept at the venue (merchant_id first: the shopper identity is a
-- per-merchant pseudonym); delivery counters with the advertiser (advertiser_id first).

-- One row per event id: an event reported twice is stored, and counted, once. (No foreign
-- key, as the `events` of analytics: written at tens of thousands of rows a second, from
-- tokens whose signature named the merchant.)
CREATE TABLE ad_events (
    merchant_id uuid NOT NULL,
    event_id uuid NOT NULL,
    kind text NOT NULL CHECK (kind IN ('impression', 'ghost', 'click', 'action')),
    identity text NOT NULL CHECK (length(identity) BETWEEN 1 AND 200),
    store_id uuid,
    advertiser_id uuid NOT NULL,
    campaign_id uuid NOT NULL,
    line_item_id uuid NOT NULL,
    creative_id uuid NOT NULL,
    occurred_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (merchant_id, event_id)
);
-- The caps count an identity's impressions (at the decision, and again at the impression).
CREATE INDEX ad_events_by_identity ON ad_events (merchant_id, identity, occurred_at)
    WHERE kind = 'impression';

-- Reports the tracking refused (unsigned, expired, bot, too fast, duplicate, capped, goal
-- reached), per day: counted, never stored one by one.
CREATE TABLE ad_event_refusals (
    merchant_id uuid NOT NULL REFERENCES merchants,
    day date NOT NULL,
    reason text NOT NULL CHECK (reason IN ('unsigned', 'expired', 'bot', 'too_fast', 'duplicate',
                                           'capped', 'goal_reached', 'unknown')),
    count bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (merchant_id, day, reason)
);

-- A line item's delivery per 5-minute interval (pacing reads the last ones; reports sum them).
CREATE TABLE ad_delivery (
    advertiser_id uuid NOT NULL,
    line_item_id uuid NOT NULL,
    interval_start timestamptz NOT NULL,
    impressions bigint NOT NULL DEFAULT 0,
    ghosts bigint NOT NULL DEFAULT 0,
    clicks bigint NOT NULL DEFAULT 0,
    actions bigint NOT NULL DEFAULT 0,
    spend_millifen bigint NOT NULL DEFAULT 0,  -- 1/1000 fen: a CPM impression costs bid_fen
    PRIMARY KEY (advertiser_id, line_item_id, interval_start)
);

-- A line item's totals: what its goal and budget are checked against at each impression (the
-- row is locked while an impression is counted, so a goal is never overshot).
CREATE TABLE ad_line_item_totals (
    advertiser_id uuid NOT NULL,
    line_item_id uuid NOT NULL,
    impressions bigint NOT NULL DEFAULT 0,
    ghosts bigint NOT NULL DEFAULT 0,
    clicks bigint NOT NULL DEFAULT 0,
    actions bigint NOT NULL DEFAULT 0,
    spend_millifen bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (advertiser_id, line_item_id)
);

-- Count a batch of events in one call, atomically (ads/delivery.py record_events). The events
-- come as parallel arrays (one element per event): id, kind, merchant, identity, store,
-- advertiser, campaign, line item, creative, when, the store's time zone (daily caps count its
-- local day), price in millifen (a CPM impression costs its bid, a CPC click its bid × 1000),
-- the line item's goal in impressions and budget in millifen (or null). The caps come as
-- parallel arrays too, one element per cap of a line item in the batch: line item, scope,
-- scope id, max count, period, window seconds.
-- Returns each event's outcome, in the batch's order: counted, duplicate, capped or
-- goal_reached.
--
-- Locks first, always in this order so that two batches never wait on each other in a cycle:
-- the line items' totals rows (sorted), then the identities (transaction advisory locks,
-- sorted); the refusal counters are written last (sorted). An event id belongs to one
-- identity, so two batches holding the same event are counted one after the other; a line
-- item's interval counters are written only under its totals row's lock.
--
-- Then one statement counts the whole batch. Under the identity's lock its caps are counted
-- from its stored impressions plus those before it in the batch (those refused too, so within
-- a batch a refusal can only err towards refusing: a cap is never exceeded); under the line
-- item's lock its goal and budget from its totals plus the batch's events before it.
CREATE FUNCTION ad_record_events(
    p_ids uuid[], p_kinds text[], p_merchants uuid[], p_identities text[], p_stores uuid[],
    p_advertisers uuid[], p_campaigns uuid[], p_line_items uuid[], p_creatives uuid[],
    p_at timestamptz[], p_zones text[], p_prices bigint[], p_goals bigint[], p_budgets bigint[],
    p_cap_line_items uuid[], p_cap_scopes text[], p_cap_scope_ids uuid[], p_cap_max integer[],
    p_cap_periods text[], p_cap_windows integer[]
) RETURNS TABLE (event_id uuid, outcome text)
LANGUAGE plpgsql AS $$
DECLARE
    k bigint;
BEGIN
    INSERT INTO ad_line_item_totals (advertiser_id, line_item_id)
    SELECT DISTINCT a, l FROM unnest(p_advertisers, p_line_items) AS u (a, l)
    ORDER BY 1, 2
    ON CONFLICT DO NOTHING;
    PERFORM 1 FROM ad_line_item_totals t
    WHERE (t.advertiser_id, t.line_item_id) IN (
        SELECT a, l FROM unnest(p_advertisers, p_line_items) AS u (a, l))
    ORDER BY t.advertiser_id, t.line_item_id
    FOR UPDATE;
    FOR k IN
        SELECT DISTINCT hashtextextended(m::text || '|' || i, 9)
        FROM unnest(p_merchants, p_identities) AS u (m, i) ORDER BY 1
    LOOP
        PERFORM pg_advisory_xact_lock(k);
    END LOOP;

    RETURN QUERY
    WITH ev AS (
        SELECT u.*, CASE WHEN u.kind = 'ghost' THEN 0 ELSE coalesce(u.price0, 0) END AS price
        FROM unnest(p_ids, p_kinds, p_merchants, p_identities, p_stores, p_advertisers,
                    p_campaigns, p_line_items, p_creatives, p_at, p_zones, p_prices, p_goals,
                    p_budgets)
             WITH ORDINALITY AS u (id, kind, merchant_id, identity, store_id, advertiser_id,
                                   campaign_id, line_item_id, creative_id, occurred_at, zone,
                                   price0, goal, budget, n)
    ), caps AS (
        SELECT * FROM unnest(p_cap_line_items, p_cap_scopes, p_cap_scope_ids, p_cap_max,
                             p_cap_periods, p_cap_windows)
                      AS c (line_item_id, scope, scope_id, max_count, period, window_seconds)
    ), first AS (  -- the first report of each event not stored before
        SELECT DISTINCT ON (e.merchant_id, e.id) e.*
        FROM ev e
        LEFT JOIN LATERAL (
            SELECT true AS hit FROM ad_events s
            WHERE s.merchant_id = e.merchant_id AND s.event_id = e.id LIMIT 1
        ) stored ON true
        WHERE stored.hit IS NULL
        ORDER BY e.merchant_id, e.id, e.n
    ), fresh AS (  -- with whether the batch holds more than one event of the identity
        SELECT f.*, count(*) OVER (PARTITION BY f.merchant_id, f.identity) > 1 AS again
        FROM first f
    ), checks AS (  -- each impression with each of its caps, from when that cap counts
        SELECT f.n, f.merchant_id, f.identity, f.again, c.scope, c.scope_id, c.max_count,
               CASE c.period
                   WHEN 'day' THEN date_trunc('day', f.occurred_at AT TIME ZONE f.zone)
                                   AT TIME ZONE f.zone
                   WHEN 'window' THEN f.occurred_at - make_interval(secs => c.window_seconds)
                   ELSE '-infinity' END AS since
        FROM fresh f
        JOIN caps c ON c.line_item_id = f.line_item_id
        WHERE f.kind = 'impression' AND (c.scope <> 'creative' OR c.scope_id = f.creative_id)
    ), capped AS (
        SELECT DISTINCT x.n
        FROM checks x
        WHERE (SELECT count(*) FROM ad_events s
               WHERE s.merchant_id = x.merchant_id AND s.identity = x.identity
                 AND s.kind = 'impression' AND s.occurred_at >= x.since
                 AND CASE x.scope WHEN 'creative' THEN s.creative_id
                                  WHEN 'line_item' THEN s.line_item_id
                                  WHEN 'campaign' THEN s.campaign_id
                                  ELSE s.advertiser_id END = x.scope_id)
            + CASE WHEN NOT x.again THEN 0 ELSE (
                  SELECT count(*) FROM fresh g
                  WHERE g.n < x.n AND g.kind = 'impression' AND g.merchant_id = x.merchant_id
                    AND g.identity = x.identity AND g.occurred_at >= x.since
                    AND CASE x.scope WHEN 'creative' THEN g.creative_id
                                     WHEN 'line_item' THEN g.line_item_id
                                     WHEN 'campaign' THEN g.campaign_id
                                     ELSE g.advertiser_id END = x.scope_id) END
              >= x.max_count
    ), running AS (  -- a limited line item's totals with the batch's events before each one
        SELECT f.*,
               t.impressions + count(*) FILTER (WHERE f.kind = 'impression')
                   OVER (PARTITION BY f.advertiser_id, f.line_item_id ORDER BY f.n) AS shown,
               t.spend_millifen + sum(f.price)
                   OVER (PARTITION BY f.advertiser_id, f.line_item_id ORDER BY f.n) AS spent
        FROM fresh f
        JOIN ad_line_item_totals t
          ON t.advertiser_id = f.advertiser_id AND t.line_item_id = f.line_item_id
        WHERE (f.goal IS NOT NULL OR f.budget IS NOT NULL) AND f.n NOT IN (SELECT n FROM capped)
        UNION ALL
        SELECT f.*, NULL, NULL
        FROM fresh f
        WHERE f.goal IS NULL AND f.budget IS NULL AND f.n NOT IN (SELECT n FROM capped)
    ), counted AS (
        SELECT r.*,
               -- a click or action past the budget is counted, and charged nothing
               CASE WHEN r.budget IS NOT NULL AND r.spent > r.budget THEN 0 ELSE r.price END
                   AS charge
        FROM running r
        WHERE r.kind <> 'impression'
           OR ((r.goal IS NULL OR r.shown <= r.goal)
               AND (r.budget IS NULL OR r.spent <= r.budget))
    ), stored AS (
        INSERT INTO ad_events (merchant_id, event_id, kind, identity, store_id, advertiser_id,
                               campaign_id, line_item_id, creative_id, occurred_at)
        SELECT c.merchant_id, c.id, c.kind, c.identity, c.store_id, c.advertiser_id,
               c.campaign_id, c.line_item_id, c.creative_id, c.occurred_at
        FROM counted c
        ORDER BY c.merchant_id, c.id
    ), per_interval AS (
        INSERT INTO ad_delivery AS d (advertiser_id, line_item_id, interval_start, impressions,
                                      ghosts, clicks, actions, spend_millifen)
        SELECT c.advertiser_id, c.line_item_id,
               to_timestamp(floor(extract(epoch FROM c.occurred_at) / 300) * 300) AS i,
               count(*) FILTER (WHERE c.kind = 'impression'),
               count(*) FILTER (WHERE c.kind = 'ghost'),
               count(*) FILTER (WHERE c.kind = 'click'),
               count(*) FILTER (WHERE c.kind = 'action'), sum(c.charge)
        FROM counted c
        GROUP BY c.advertiser_id, c.line_item_id, i
        ORDER BY c.advertiser_id, c.line_item_id, i
        ON CONFLICT (advertiser_id, line_item_id, interval_start) DO UPDATE
        SET impressions = d.impressions + excluded.impressions,
            ghosts = d.ghosts + excluded.ghosts,
            clicks = d.clicks + excluded.clicks,
            actions = d.actions + excluded.actions,
            spend_millifen = d.spend_millifen + excluded.spend_millifen
    ), totals AS (
        UPDATE ad_line_item_totals t
        SET impressions = t.impressions + a.impressions, ghosts = t.ghosts + a.ghosts,
            clicks = t.clicks + a.clicks, actions = t.actions + a.actions,
            spend_millifen = t.spend_millifen + a.spend, updated_at = now()
        FROM (SELECT c.advertiser_id, c.line_item_id,
                     count(*) FILTER (WHERE c.kind = 'impression') AS impressions,
                     count(*) FILTER (WHERE c.kind = 'ghost') AS ghosts,
                     count(*) FILTER (WHERE c.kind = 'click') AS clicks,
                     count(*) FILTER (WHERE c.kind = 'action') AS actions,
                     sum(c.charge) AS spend
              FROM counted c GROUP BY c.advertiser_id, c.line_item_id) a
        WHERE t.advertiser_id = a.advertiser_id AND t.line_item_id = a.line_item_id
    ), outcomes AS (
        SELECT e.n, e.id, e.merchant_id, e.occurred_at,
               CASE WHEN e.n IN (SELECT c.n FROM counted c) THEN 'counted'
                    WHEN e.n NOT IN (SELECT f.n FROM fresh f) THEN 'duplicate'
                    WHEN e.n IN (SELECT c.n FROM capped c) THEN 'capped'
                    ELSE 'goal_reached' END AS outcome
        FROM ev e
    ), refused AS (
        INSERT INTO ad_event_refusals AS r (merchant_id, day, reason, count)
        SELECT o.merchant_id, o.occurred_at::date AS day, o.outcome, count(*)
        FROM outcomes o
        WHERE o.outcome <> 'counted'
        GROUP BY o.merchant_id, day, o.outcome
        ORDER BY o.merchant_id, day, o.outcome
        ON CONFLICT (merchant_id, day, reason) DO UPDATE SET count = r.count + excluded.count
    )
    -- (the writes above run to completion whether or not they are read)
    SELECT o.id, o.outcome FROM outcomes o ORDER BY o.n;
END
$$;
