-- Audience size (marketing/audience.py, migration 0045's marketing_profiles).

-- name: merchant_profiles
-- Every profile of the merchant, for a cursor (the audience size reads them a batch at a time).
SELECT * FROM marketing_profiles WHERE merchant_id = $1
