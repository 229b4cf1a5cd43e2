-- How a router's gateway meets the portal. `gateway`: 'opennds' (openNDS with our agent over
-- MQTT) or 'wifidog' (a WiFiDog gateway asking the portal's auth-server protocol; no agent).
-- `fas_level`: openNDS's FAS security level (fas_secure_enabled) 1, 2 or 3; only openNDS has one.
ALTER TABLE routers
    ADD COLUMN gateway text NOT NULL DEFAULT 'opennds' CHECK (gateway IN ('opennds', 'wifidog')),
    ADD COLUMN fas_level smallint NOT NULL DEFAULT 1 CHECK (fas_level BETWEEN 1 AND 3);
