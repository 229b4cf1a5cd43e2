-- Routers' MQTT passwords are kept in Mosquitto's own PBKDF2-SHA512 format ("$7$…"), which the
-- controller writes into the broker's password file (controller/broker_auth.py). The argon2
-- hashes stored until now could not be used by any broker and nothing read them: they are
-- cleared, and such a router gets a new password by redeeming a new install code. NULL means
-- no password yet: the router has not been installed, and the broker does not know it.
ALTER TABLE routers ALTER COLUMN mqtt_password_hash DROP NOT NULL;
UPDATE routers SET mqtt_password_hash = NULL WHERE mqtt_password_hash NOT LIKE '$7$%';
ALTER TABLE routers ADD CONSTRAINT routers_mqtt_password_hash_check
    CHECK (mqtt_password_hash ~ '^\$7\$[0-9]+\$[A-Za-z0-9+/]+=*\$[A-Za-z0-9+/]+=*$');

-- A revoked router is out of service: the broker refuses it (its account is gone from the
-- password file, and connected sessions are cut), the portal and controller ignore it. The row
-- stays for its history (commands, sessions); its id cannot be used again.
ALTER TABLE routers ADD COLUMN revoked_at timestamptz;
