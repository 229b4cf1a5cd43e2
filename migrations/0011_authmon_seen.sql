-- When openNDS's authmon last polled the portal for a level-3 router (portal/authmon_views.py).
-- Kept apart from `online`/`last_seen`, which say whether our agent is connected over MQTT: the
-- portal grants through authmon exactly when the agent is not (portal.services
-- granted_by_authmon), so a poll must not mark the router online. The console shows a router
-- whose agent is away but whose authmon polls as reachable through openNDS.
ALTER TABLE routers ADD COLUMN authmon_seen_at timestamptz;
