-- Platform operators and the merchants they oversee (accounts/operators.py). Tables:
-- platform_operators (0040), merchants, plans (0042), stores, memberships, invitations.

-- name: grant_operator
INSERT INTO platform_operators (user_id) VALUES ($1) ON CONFLICT DO NOTHING

-- name: is_operator
SELECT EXISTS (SELECT 1 FROM platform_operators WHERE user_id = $1)

-- name: merchants
-- Seats: members and live invitations, as accounts/plans.sql count_seats counts them.
SELECT m.merchant_id, m.name, m.created_at, m.plan, m.suspended_at,
       c.stores, c.members, c.members + c.invited AS seats,
       p.max_stores, p.max_routers, p.max_seats
FROM merchants m
JOIN plans p USING (plan)
CROSS JOIN LATERAL (
    SELECT (SELECT count(*) FROM stores s WHERE s.merchant_id = m.merchant_id) AS stores,
           (SELECT count(*) FROM memberships ms WHERE ms.merchant_id = m.merchant_id) AS members,
           (SELECT count(*) FROM invitations i
            WHERE i.merchant_id = m.merchant_id AND i.expires_at > now()) AS invited
) c
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

-- name: plan_for_update
-- NO KEY UPDATE: what the limits' UPDATE takes anyway; a merchant put on the plan meanwhile
-- (its foreign key's KEY SHARE) goes on.
SELECT max_stores, max_routers, max_seats FROM plans WHERE plan = $1 FOR NO KEY UPDATE

-- name: set_limits
UPDATE plans SET max_stores = $2, max_routers = $3, max_seats = $4 WHERE plan = $1

-- name: merchants_on
SELECT merchant_id FROM merchants WHERE plan = $1
