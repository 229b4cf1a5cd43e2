-- The portal's rate-limit counters skip the write-ahead log (issue 8, the SMS login's benchmark):
-- every SMS code sent upserts four of them, and their WAL was a large part of PostgreSQL's work
-- a login. What that costs: after a crash PostgreSQL empties an unlogged table, and a standby
-- has none of it, so the windows start again from zero then (at most an hour of sends counted
-- anew). Codes, identities and sessions stay logged.
ALTER TABLE portal_rate_limits SET UNLOGGED;
