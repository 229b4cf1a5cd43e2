-- A store's portal look (portal/look.py; tables: migrations 0001, 0036).

-- name: look
SELECT brand_name, brand_color, page_color, text_color, welcome_en, welcome_zh, landing_url,
       terms_version, logo_id, background_id, login_methods
FROM portal_settings WHERE merchant_id = $1 AND store_id = $2

-- name: look_for_update
SELECT brand_name, brand_color, page_color, text_color, welcome_en, welcome_zh, landing_url,
       terms_version, logo_id, background_id, login_methods
FROM portal_settings WHERE merchant_id = $1 AND store_id = $2
FOR UPDATE

-- name: save_look
UPDATE portal_settings SET brand_name = $3, brand_color = $4, page_color = $5, text_color = $6,
    welcome_en = $7, welcome_zh = $8, landing_url = $9
WHERE merchant_id = $1 AND store_id = $2

-- name: insert_image
INSERT INTO portal_images (merchant_id, store_id, image_id, kind, content_type, width, height,
                           data)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)

-- name: set_logo
UPDATE portal_settings SET logo_id = $3 WHERE merchant_id = $1 AND store_id = $2

-- name: set_background
UPDATE portal_settings SET background_id = $3 WHERE merchant_id = $1 AND store_id = $2

-- name: image_facts
SELECT kind, content_type, width, height FROM portal_images
WHERE merchant_id = $1 AND store_id = $2 AND image_id = $3

-- name: delete_image
DELETE FROM portal_images WHERE merchant_id = $1 AND store_id = $2 AND image_id = $3

-- name: image
SELECT content_type, data FROM portal_images
WHERE merchant_id = $1 AND store_id = $2 AND image_id = $3
