-- Raw MACs are kept only while they are needed (issue 7, PRODUCT.md §5): a command's `mac` and
-- `hid` args for 10 minutes (a grant given up on is undone within a minute), a session's
-- `client_mac` until 10 minutes after it expired (an openNDS restart re-grants only active,
-- unexpired sessions). Scrubbed by the roles' retention jobs; these partial indexes hold only
-- the rows still to scrub, so a run reads little however large the tables grow.
CREATE INDEX router_commands_to_scrub ON router_commands (created_at)
    WHERE args ? 'mac' OR args ? 'hid';
CREATE INDEX portal_sessions_to_scrub ON portal_sessions (expires_at)
    WHERE client_mac IS NOT NULL;
CREATE INDEX authmon_grants_by_expiry ON authmon_grants (expires_at);
