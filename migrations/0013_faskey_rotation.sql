-- Faskey rotation (issue 6): the controller publishes a desired document with a new faskey and
-- keeps the key here, with that document's version, until the router reports the version
-- applied; then it becomes `faskey`. Until then the portal accepts redirects under either key
-- (the router switches when it applies the document, at a moment the portal cannot know).
ALTER TABLE routers
    ADD COLUMN faskey_next text CHECK (faskey_next ~ '^[0-9a-f]{64}$'),
    ADD COLUMN faskey_next_version bigint CHECK (faskey_next_version > 0),
    ADD CONSTRAINT routers_faskey_next_versioned
        CHECK ((faskey_next IS NULL) = (faskey_next_version IS NULL));
