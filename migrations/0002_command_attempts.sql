-- How many times the router asked openNDS to make a command's change (ndsctl auth/deauth).
-- openNDS refuses a good grant by accident (its binauth race), so the agent retries; the count
-- shows how often that happens per router. NULL for commands that call no ndsctl (ping).
ALTER TABLE router_commands ADD COLUMN attempts integer CHECK (attempts >= 0);
