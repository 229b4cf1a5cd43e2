-- The merchants that approved an advertiser's campaigns (ads/advertiser_segments.sql
-- related_merchants, the advertiser's Segments page): looked up by advertiser, which no index
-- of ad_approvals led with (every approval at every merchant was read).
CREATE INDEX ad_approvals_by_advertiser ON ad_approvals (advertiser_id, merchant_id)
WHERE status = 'approved';
