"""The marketing inbox as one row per event (tests only): a sightings row (migration 0049)
read as each of its sightings, under its own event id. Use `INBOX_EVENTS` where a query would
name `marketing_inbox`."""

INBOX_EVENTS = """(
    SELECT merchant_id, event_id, kind, device_hash, store_id, occurred_at, payload, received_at,
           done_at
    FROM marketing_inbox WHERE kind <> 'sightings'
    UNION ALL
    SELECT i.merchant_id, s.event_id, 'sighting', s.device_hash, i.store_id, s.at, i.payload,
           i.received_at, i.done_at
    FROM marketing_inbox i,
         unnest(i.devices, i.seen_at, i.sighting_ids) AS s (device_hash, at, event_id)
    WHERE i.kind = 'sightings'
) AS inbox_events"""
