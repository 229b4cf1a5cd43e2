-- Router telemetry (issue 6): what the agent reports on ap/v1/<id>/tele, one row per event,
-- written by the controller (controller/telemetry.py) in batches before the MQTT message is
-- acked. An event is named by the router, the router's boot and a sequence number the agent
-- counts within that boot, so a redelivered or replayed event (the agent's spool sends again
-- what it is not sure was received) is stored once: ON CONFLICT DO NOTHING on the key.
--
-- type: heartbeat (uptime, load, memory, clients, versions), station (a WiFi station joined
-- or left, with its signal), usage (an openNDS client's session counters). Station and usage
-- events name a device only by its keyed hash (kernel/privacy.py device_hash with the
-- merchant's key, PRODUCT.md §5): the raw MAC is never stored. `randomized`: the MAC had the
-- locally administered bit (a phone's per-network random address).
CREATE TABLE router_telemetry (
    merchant_id uuid NOT NULL,
    router_id text NOT NULL,
    boot_id text NOT NULL CHECK (boot_id ~ '^[0-9a-f]{1,32}$'),
    seq bigint NOT NULL CHECK (seq > 0),
    type text NOT NULL CHECK (type IN ('heartbeat', 'station', 'usage')),
    occurred_at timestamptz NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    device_hash text,
    randomized boolean,
    rssi smallint CHECK (rssi BETWEEN -127 AND 0),
    data jsonb NOT NULL,
    PRIMARY KEY (merchant_id, router_id, boot_id, seq),
    FOREIGN KEY (merchant_id, router_id) REFERENCES routers (merchant_id, router_id),
    CHECK ((type = 'heartbeat') = (device_hash IS NULL))
);
CREATE INDEX router_telemetry_by_type_time ON router_telemetry (merchant_id, type, occurred_at);
