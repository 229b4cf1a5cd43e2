-- A grant authmon took but never acked may still have been done (authmon's ack lost): openNDS
-- then reports the session's end (`deauthed`, binauth_log.sh -> send_to_fas_deauthed) with the
-- client's token, and the portal records the session after all (portal/authmon.py). So such a
-- grant is kept until its session could have ended, without its raw MAC once it expired (the
-- MAC is needed only to hand the grant over).
ALTER TABLE authmon_grants ALTER COLUMN client_mac DROP NOT NULL;
CREATE INDEX authmon_grants_to_scrub ON authmon_grants (expires_at) WHERE client_mac IS NOT NULL;
