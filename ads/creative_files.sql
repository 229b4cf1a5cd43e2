-- Advertisers' uploaded files (ads/creative_files.py; table of migration 0026).

-- name: insert_file
INSERT INTO creative_files (
    advertiser_id, file_id, kind, content_type, data, byte_size, width, height, duration_ms,
    sha256, source_file_id
)
VALUES ($1, $2, $3, $4, $5::bytea, length($5::bytea), $6, $7, $8, $9, $10)

-- name: same_upload
-- An original this advertiser stored from the same uploaded bytes ($2: their sha256), with
-- its thumbnail: an upload sent twice is stored once.
SELECT f.file_id, f.kind, f.content_type, f.width, f.height, f.duration_ms,
       t.file_id AS thumbnail_file_id
FROM creative_files f
LEFT JOIN creative_files t
    ON t.advertiser_id = f.advertiser_id AND t.source_file_id = f.file_id AND t.kind = 'thumbnail'
WHERE f.advertiser_id = $1 AND f.sha256 = $2 AND f.kind IN ('image', 'video')
ORDER BY f.created_at, f.file_id
LIMIT 1

-- name: file_head
-- What a response needs to know before the bytes: their type and length.
SELECT content_type, byte_size
FROM creative_files
WHERE advertiser_id = $1 AND file_id = $2

-- name: file_whole
SELECT content_type, data
FROM creative_files
WHERE advertiser_id = $1 AND file_id = $2

-- name: file_slice
-- Bytes $3 (0-based) to $4 (inclusive) of a file: only those are read from storage (a video's
-- bytes are stored uncompressed out of line, so PostgreSQL fetches just the chunks needed).
SELECT substring(data FROM $3::integer + 1 FOR $4::integer - $3::integer + 1) AS data
FROM creative_files
WHERE advertiser_id = $1 AND file_id = $2
