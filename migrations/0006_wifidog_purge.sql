-- WiFiDog tokens are purged once they can serve nothing (portal/wifidog_store.py,
-- purge_tokens): a token never used an hour after it expired; a used one a day after its
-- session ended or expired. Each purge batch finds its rows through one of these two indexes
-- (a token is in exactly one): unused tokens by expiry, used tokens by expiry (a used token's
-- expires_at is before its login, so it bounds how old the session is).
CREATE INDEX wifidog_tokens_unused_expiry ON wifidog_tokens (expires_at) WHERE used_at IS NULL;
CREATE INDEX wifidog_tokens_used_expiry ON wifidog_tokens (expires_at) WHERE used_at IS NOT NULL;
