-- Tags (marketing/tags.py, migration 0045).

-- name: insert_default_tags
-- The default tags ($2 ids, $3 and $4 names, $5 rules, parallel) and their first versions,
-- but those the merchant ($1) has a tag of that id for already: one round trip.
WITH made AS (
    INSERT INTO marketing_tags (merchant_id, tag_id, name_zh, name_en, rule)
    SELECT $1, d.tag_id, d.name_zh, d.name_en, d.rule
    FROM unnest($2::text[], $3::text[], $4::text[], $5::jsonb[]) AS d (tag_id, name_zh, name_en, rule)
    ON CONFLICT (merchant_id, tag_id) DO NOTHING
    RETURNING merchant_id, tag_id, version, rule
)
INSERT INTO marketing_tag_versions (merchant_id, tag_id, version, rule)
SELECT merchant_id, tag_id, version, rule FROM made

-- name: list_tags
SELECT tag_id, name_zh, name_en, rule, version, enabled
FROM marketing_tags WHERE merchant_id = $1 ORDER BY tag_id

-- name: lock_tags
-- One tag edit of a merchant at a time (the circle check reads all of them).
SELECT pg_advisory_xact_lock(hashtextextended('marketing_tags:' || $1::uuid::text, 0))

-- name: upsert_tag
-- A new tag (version 1), or a new version of the tag when its rule changed.
INSERT INTO marketing_tags (merchant_id, tag_id, name_zh, name_en, rule, enabled)
VALUES ($1, $2, $3, $4, $5::jsonb, $6)
ON CONFLICT (merchant_id, tag_id) DO UPDATE
SET name_zh = EXCLUDED.name_zh, name_en = EXCLUDED.name_en, rule = EXCLUDED.rule,
    enabled = EXCLUDED.enabled, updated_at = now(),
    version = marketing_tags.version
              + CASE WHEN marketing_tags.rule = EXCLUDED.rule THEN 0 ELSE 1 END
RETURNING tag_id, name_zh, name_en, rule, version, enabled

-- name: insert_tag_version
INSERT INTO marketing_tag_versions (merchant_id, tag_id, version, rule)
VALUES ($1, $2, $3, $4::jsonb)
ON CONFLICT (merchant_id, tag_id, version) DO NOTHING
