-- Issue 9's ad delivery (docs/ad-decision.md): the events a venue's pages report (impressions,
-- clicks), the ghost impressions of the holdout, the refusals, and the delivery counters pacing
-- and budgets read. Events are kept at the venue (merchant_id first: the shopper identity is a
-- per-merchant pseudonym); delivery counters with the advertiser (advertiser_id first).

-- One row per event id: an event reported twice is stored, and counted, once.
CREATE TABLE ad_events (
    merchant_id uuid NOT NULL REFERENCES merchants,
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

-- Count a batch of events in one call, atomically (ads/delivery.py record_events). Each event
-- is a JSON object: event_id, kind, merchant_id, identity, store_id, advertiser_id,
-- campaign_id, line_item_id, creative_id, occurred_at, price_millifen (what it costs: a CPM
-- impression its bid, a CPC click its bid × 1000), goal (impressions, or null), budget_millifen
-- (or null), caps ([{scope, scope_id, max_count, since}], since null for lifetime).
-- Returns each event's outcome: counted, duplicate, capped or goal_reached.
--
-- Locks, always in this order so that two batches never wait on each other in a cycle: the
-- line items' totals rows (sorted), then the identities (transaction advisory locks, sorted).
-- Under the identity's lock the caps are counted from the identity's stored impressions, so
-- concurrent reports for one identity are counted one after the other and a cap is never
-- exceeded; under the line item's lock its goal and budget likewise.
CREATE FUNCTION ad_record_events(p_events jsonb) RETURNS TABLE (event_id uuid, outcome text)
LANGUAGE plpgsql AS $$
DECLARE
    e jsonb;
    c jsonb;
    v_kind text;
    v_merchant uuid;
    v_identity text;
    v_event uuid;
    v_adv uuid;
    v_li uuid;
    v_at timestamptz;
    v_price bigint;
    v_outcome text;
    v_seen integer;
    v_scope_id uuid;
    v_totals ad_line_item_totals%ROWTYPE;
    k bigint;
BEGIN
    INSERT INTO ad_line_item_totals (advertiser_id, line_item_id)
    SELECT DISTINCT (x ->> 'advertiser_id')::uuid, (x ->> 'line_item_id')::uuid
    FROM jsonb_array_elements(p_events) x
    ON CONFLICT DO NOTHING;
    PERFORM 1 FROM ad_line_item_totals t
    WHERE (t.advertiser_id, t.line_item_id) IN (
        SELECT (x ->> 'advertiser_id')::uuid, (x ->> 'line_item_id')::uuid
        FROM jsonb_array_elements(p_events) x)
    ORDER BY t.advertiser_id, t.line_item_id
    FOR UPDATE;
    FOR k IN
        SELECT DISTINCT hashtextextended((x ->> 'merchant_id') || '|' || (x ->> 'identity'), 9)
        FROM jsonb_array_elements(p_events) x ORDER BY 1
    LOOP
        PERFORM pg_advisory_xact_lock(k);
    END LOOP;

    FOR e IN SELECT x FROM jsonb_array_elements(p_events) x LOOP
        v_kind := e ->> 'kind';
        v_merchant := (e ->> 'merchant_id')::uuid;
        v_identity := e ->> 'identity';
        v_event := (e ->> 'event_id')::uuid;
        v_adv := (e ->> 'advertiser_id')::uuid;
        v_li := (e ->> 'line_item_id')::uuid;
        v_at := (e ->> 'occurred_at')::timestamptz;
        v_price := coalesce((e ->> 'price_millifen')::bigint, 0);
        v_outcome := 'counted';

        IF EXISTS (SELECT 1 FROM ad_events ev
                   WHERE ev.merchant_id = v_merchant AND ev.event_id = v_event) THEN
            v_outcome := 'duplicate';
        ELSIF v_kind = 'impression' THEN
            SELECT * INTO v_totals FROM ad_line_item_totals t
            WHERE t.advertiser_id = v_adv AND t.line_item_id = v_li;
            IF (e ->> 'goal') IS NOT NULL AND v_totals.impressions >= (e ->> 'goal')::bigint
               OR (e ->> 'budget_millifen') IS NOT NULL
                  AND v_totals.spend_millifen + v_price > (e ->> 'budget_millifen')::bigint THEN
                v_outcome := 'goal_reached';
            ELSE
                FOR c IN SELECT y FROM jsonb_array_elements(coalesce(e -> 'caps', '[]')) y LOOP
                    v_scope_id := (c ->> 'scope_id')::uuid;
                    SELECT count(*) INTO v_seen FROM ad_events ev
                    WHERE ev.merchant_id = v_merchant AND ev.identity = v_identity
                          AND ev.kind = 'impression'
                          AND ev.occurred_at >= coalesce((c ->> 'since')::timestamptz, '-infinity')
                          AND CASE c ->> 'scope'
                                  WHEN 'creative' THEN ev.creative_id
                                  WHEN 'line_item' THEN ev.line_item_id
                                  WHEN 'campaign' THEN ev.campaign_id
                                  ELSE ev.advertiser_id END = v_scope_id;
                    IF v_seen >= (c ->> 'max_count')::integer THEN
                        v_outcome := 'capped';
                        EXIT;
                    END IF;
                END LOOP;
            END IF;
        ELSIF v_kind = 'click' OR v_kind = 'action' THEN
            -- what is left of the budget is charged, never more
            SELECT * INTO v_totals FROM ad_line_item_totals t
            WHERE t.advertiser_id = v_adv AND t.line_item_id = v_li;
            IF (e ->> 'budget_millifen') IS NOT NULL THEN
                v_price := greatest(0, least(v_price, (e ->> 'budget_millifen')::bigint
                                                      - v_totals.spend_millifen));
            END IF;
        END IF;

        IF v_outcome = 'counted' THEN
            INSERT INTO ad_events (merchant_id, event_id, kind, identity, store_id, advertiser_id,
                                   campaign_id, line_item_id, creative_id, occurred_at)
            VALUES (v_merchant, v_event, v_kind, v_identity, (e ->> 'store_id')::uuid, v_adv,
                    (e ->> 'campaign_id')::uuid, v_li, (e ->> 'creative_id')::uuid, v_at);
            IF v_kind = 'ghost' THEN
                v_price := 0;
            END IF;
            INSERT INTO ad_delivery AS d (advertiser_id, line_item_id, interval_start, impressions,
                                          ghosts, clicks, actions, spend_millifen)
            VALUES (v_adv, v_li,
                    to_timestamp(floor(extract(epoch FROM v_at) / 300) * 300),
                    (v_kind = 'impression')::int, (v_kind = 'ghost')::int,
                    (v_kind = 'click')::int, (v_kind = 'action')::int, v_price)
            ON CONFLICT (advertiser_id, line_item_id, interval_start) DO UPDATE
            SET impressions = d.impressions + excluded.impressions,
                ghosts = d.ghosts + excluded.ghosts,
                clicks = d.clicks + excluded.clicks,
                actions = d.actions + excluded.actions,
                spend_millifen = d.spend_millifen + excluded.spend_millifen;
            UPDATE ad_line_item_totals t
            SET impressions = t.impressions + (v_kind = 'impression')::int,
                ghosts = t.ghosts + (v_kind = 'ghost')::int,
                clicks = t.clicks + (v_kind = 'click')::int,
                actions = t.actions + (v_kind = 'action')::int,
                spend_millifen = t.spend_millifen + v_price,
                updated_at = now()
            WHERE t.advertiser_id = v_adv AND t.line_item_id = v_li;
        ELSE
            INSERT INTO ad_event_refusals AS r (merchant_id, day, reason, count)
            VALUES (v_merchant, v_at::date, v_outcome, 1)
            ON CONFLICT (merchant_id, day, reason) DO UPDATE SET count = r.count + 1;
        END IF;
        event_id := v_event;
        outcome := v_outcome;
        RETURN NEXT;
    END LOOP;
END
$$;
