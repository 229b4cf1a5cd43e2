-- The closed loop's reports (marketing/reports.py, docs/marketing.md "The closed loop").

-- name: trigger_of_merchant
SELECT name_zh, name_en, offer_key, channel, holdout_share, window_days
FROM marketing_triggers WHERE merchant_id = $1 AND trigger_id = $2

-- name: contacts
-- The trigger's contacts decided in [$3, $4), by store-local day ($5: the time zone), arm,
-- status and reason, with how many of them converted, by the kind of their conversion.
SELECT (decided_at AT TIME ZONE $5)::date AS day, arm, status, reason, count(*) AS contacts,
       count(*) FILTER (WHERE conversion = 'redemption') AS redemption,
       count(*) FILTER (WHERE conversion = 'return_visit') AS return_visit
FROM marketing_contacts
WHERE merchant_id = $1 AND trigger_id = $2 AND decided_at >= $3 AND decided_at < $4
GROUP BY 1, 2, 3, 4

-- name: shoppers
-- The experiment, intent to treat: each shopper (profile) once, in the arm of their first
-- contact of the trigger that had one (ever: a shopper first assigned before the range is not
-- counted again in it), when that contact was decided in [$3, $4); converted when that contact
-- was (its trigger's window from then). By store-local day of the assignment ($5: the zone).
WITH firsts AS (
    SELECT DISTINCT ON (profile_key) arm, decided_at, conversion
    FROM marketing_contacts
    WHERE merchant_id = $1 AND trigger_id = $2 AND arm IS NOT NULL
    ORDER BY profile_key, decided_at, contact_id
)
SELECT (decided_at AT TIME ZONE $5)::date AS day, arm, count(*) AS shoppers,
       count(conversion) AS converted,
       count(*) FILTER (WHERE conversion = 'redemption') AS redemption,
       count(*) FILTER (WHERE conversion = 'return_visit') AS return_visit
FROM firsts
WHERE decided_at >= $3 AND decided_at < $4
GROUP BY 1, 2
