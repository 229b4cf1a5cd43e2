-- The advertiser console's Segments page (ads/advertiser_segments.py; migration 0029's tables,
-- ad_approvals_by_advertiser of 0048).

-- name: related_merchants
-- The merchants an advertiser works with: those that approved one of its campaigns (an ended
-- one too) and block neither it, nor its category, nor that campaign's category; and the
-- merchant it is the own advertiser of, if any.
SELECT ap.merchant_id
FROM ad_approvals ap
JOIN ad_campaigns c ON c.advertiser_id = ap.advertiser_id AND c.campaign_id = ap.campaign_id
JOIN advertisers a ON a.advertiser_id = ap.advertiser_id
WHERE ap.advertiser_id = $1 AND ap.status = 'approved'
      AND NOT EXISTS (
          SELECT 1 FROM ad_blocks b
          WHERE b.merchant_id = ap.merchant_id
                AND (b.advertiser_id = a.advertiser_id OR b.category IN (a.category, c.category)))
UNION
SELECT merchant_id FROM advertisers WHERE advertiser_id = $1 AND merchant_id IS NOT NULL
