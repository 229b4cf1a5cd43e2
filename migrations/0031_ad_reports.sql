-- The ad reports (ads/reports.py, docs/ad-reports.md) read one campaign's events over a range
-- of days: without this index every report would read every venue's events.
CREATE INDEX ad_events_by_campaign ON ad_events (advertiser_id, campaign_id, occurred_at)
    INCLUDE (kind, merchant_id, identity);
