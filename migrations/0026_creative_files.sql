-- Advertisers' uploaded files (issue 9; docs/ads-model.md): creatives' images and videos, and
-- the thumbnails made from them. Keyed by advertiser (the advertisers' tenant kind). What is
-- stored has been checked by content and, for images, re-encoded: `data` is what is served,
-- always with `content_type` and `nosniff` (ads/creative_files.py).
CREATE TABLE creative_files (
    advertiser_id uuid NOT NULL,
    file_id uuid NOT NULL,
    kind text NOT NULL CHECK (kind IN ('image', 'video', 'thumbnail')),
    content_type text NOT NULL
        CHECK (content_type IN ('image/jpeg', 'image/png', 'image/webp', 'video/mp4')),
    data bytea NOT NULL,
    byte_size integer NOT NULL CHECK (byte_size = length(data)),
    width integer NOT NULL CHECK (width > 0),
    height integer NOT NULL CHECK (height > 0),
    duration_ms integer CHECK (duration_ms > 0),  -- videos only
    sha256 bytea NOT NULL,
    source_file_id uuid,  -- a thumbnail's original
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (advertiser_id, file_id),
    CHECK ((kind = 'video') = (duration_ms IS NOT NULL))
);
