-- A store's details (accounts/stores.py). Table: stores (migrations 0001, 0029, 0034).

-- name: store_details
SELECT store_id, name, address, city, category, timezone, opening_hours
FROM stores
WHERE merchant_id = $1 AND ($2::uuid IS NULL OR store_id = $2)
ORDER BY name, store_id

-- name: lock_store_details
SELECT store_id, name, address, city, category, timezone, opening_hours
FROM stores
WHERE merchant_id = $1 AND store_id = $2
FOR UPDATE

-- name: insert_store_details
INSERT INTO stores (merchant_id, store_id, name, address, city, category, timezone,
                    opening_hours)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)

-- name: update_store_details
UPDATE stores
SET name = $3, address = $4, city = $5, category = $6, timezone = $7, opening_hours = $8
WHERE merchant_id = $1 AND store_id = $2
