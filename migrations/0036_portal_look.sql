-- A store's portal look, set on the console's Portal settings page (issue 10, "Portal settings
-- per store"; portal/look.py, docs/console.md): the page's background and text colours beside
-- the brand colour (migration 0001), and a logo and a background picture. Existing stores keep
-- the look the splash had: a white page with dark grey text, no pictures.
--
-- A picture is stored re-encoded from its pixels (ads/creative_media.py), never as uploaded,
-- in `portal_images` under a new random id each time (its URL never changes what it shows, so
-- it is cached for good); the store's settings name the one shown. Replacing or removing one
-- deletes the old row in the same transaction.
ALTER TABLE portal_settings
    ADD COLUMN page_color text NOT NULL DEFAULT '#ffffff' CHECK (page_color ~ '^#[0-9a-f]{6}$'),
    ADD COLUMN text_color text NOT NULL DEFAULT '#1f2937' CHECK (text_color ~ '^#[0-9a-f]{6}$'),
    ADD COLUMN logo_id uuid,
    ADD COLUMN background_id uuid;

CREATE TABLE portal_images (
    merchant_id uuid NOT NULL,
    store_id uuid NOT NULL,
    image_id uuid NOT NULL,
    kind text NOT NULL CHECK (kind IN ('logo', 'background')),
    content_type text NOT NULL CHECK (content_type IN ('image/jpeg', 'image/png', 'image/webp')),
    width integer NOT NULL CHECK (width > 0),
    height integer NOT NULL CHECK (height > 0),
    data bytea NOT NULL CHECK (octet_length(data) <= 4194304),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (merchant_id, store_id, image_id),
    FOREIGN KEY (merchant_id, store_id) REFERENCES stores
);
