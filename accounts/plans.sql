-- Plans and what a merchant uses of its plan (accounts/plans.py). Tables: plans (0042),
-- merchants, stores, memberships, invitations.

-- name: plans
SELECT plan, max_stores, max_routers, max_seats FROM plans ORDER BY rank

-- name: plan_of
SELECT p.plan, p.max_stores, p.max_routers, p.max_seats
FROM merchants m JOIN plans p USING (plan)
WHERE m.merchant_id = $1

-- name: lock_plan
-- The merchant's row, locked to the end of the caller's transaction: every creation that a
-- plan caps takes this lock before it counts, so two at once cannot both see room for one.
-- NO KEY UPDATE, not UPDATE: rows of other tables that reference the merchant (logins, audit
-- entries, …) take KEY SHARE on it, and must not wait for a store or router being added.
SELECT p.plan, p.max_stores, p.max_routers, p.max_seats
FROM merchants m JOIN plans p USING (plan)
WHERE m.merchant_id = $1
FOR NO KEY UPDATE OF m

-- name: count_stores
SELECT count(*) FROM stores WHERE merchant_id = $1

-- name: count_members
SELECT count(*) FROM memberships WHERE merchant_id = $1

-- name: count_seats
-- Members and live invitations; $2, an address invited again, is left out: its new
-- invitation replaces the pending one (accounts/invitations.sql replace_invitation).
SELECT (SELECT count(*) FROM memberships WHERE merchant_id = $1)
     + (SELECT count(*) FROM invitations
        WHERE merchant_id = $1 AND expires_at > now() AND email IS DISTINCT FROM $2::text)

-- name: merchant_usages
-- Every merchant's plan, stores and seats (as count_seats counts them): how many merchants
-- each plan has over its limits (merchants_by_plan), with the routers the controller counts.
SELECT m.merchant_id, m.plan,
       (SELECT count(*) FROM stores s WHERE s.merchant_id = m.merchant_id) AS stores,
       (SELECT count(*) FROM memberships ms WHERE ms.merchant_id = m.merchant_id)
     + (SELECT count(*) FROM invitations i
        WHERE i.merchant_id = m.merchant_id AND i.expires_at > now()) AS seats
FROM merchants m
