-- Who sent each router command (issue 6: an audit log of who sent what): `portal` (a
-- shopper's login or logout), `controller` (restores after an openNDS restart, telemetry
-- resends, desired configuration), `cli`, or `user:<user_id>` (a console user's action: reboot,
-- apply the configuration again). Commands sent before this column existed say `unknown`.
ALTER TABLE router_commands ADD COLUMN sent_by text NOT NULL DEFAULT 'unknown'
    CHECK (sent_by ~ '^(portal|controller|cli|console|unknown|user:[0-9a-f-]{36})$');
ALTER TABLE router_commands ALTER COLUMN sent_by DROP DEFAULT;
CREATE INDEX router_commands_by_router_time ON router_commands (merchant_id, router_id, created_at);
