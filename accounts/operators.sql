-- Platform operators and the merchants they oversee (accounts/operators.py). Tables:
-- platform_operators (0040), merchants, stores, memberships.

-- name: grant_operator
INSERT INTO platform_operators (user_id) VALUES ($1) ON CONFLICT DO NOTHING

-- name: is_operator
SELECT EXISTS (SELECT 1 FROM platform_operators WHERE user_id = $1)

-- name: merchants
SELECT m.merchant_id, m.name, m.created_at, m.plan, m.suspended_at,
       (SELECT count(*) FROM stores s WHERE s.merchant_id = m.merchant_id) AS stores,
       (SELECT count(*) FROM memberships ms WHERE ms.merchant_id = m.merchant_id) AS members
FROM merchants m
ORDER BY m.created_at DESC, m.merchant_id
LIMIT $1

-- name: merchant_for_update
SELECT name, plan, suspended_at FROM merchants WHERE merchant_id = $1 FOR UPDATE

-- name: set_plan
UPDATE merchants SET plan = $2 WHERE merchant_id = $1

-- name: set_suspended
UPDATE merchants
SET suspended_at = CASE WHEN $2 THEN coalesce(suspended_at, now()) ELSE NULL END
WHERE merchant_id = $1
