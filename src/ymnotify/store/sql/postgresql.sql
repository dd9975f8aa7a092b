-- Queries of the PostgreSQL store, one named block each, named as in sqlite.sql.

-- name: insert_notification
INSERT INTO notifications (
    dedup_key, notification_type, status, entity, event_time, received_at, last_received_at,
    source, headers, body, error
) VALUES (
    %(dedup_key)s, %(notification_type)s, %(status)s, %(entity)s, %(event_time)s,
    %(received_at)s, %(received_at)s, %(source)s, %(headers)s, %(body)s, %(error)s
)
ON CONFLICT (dedup_key) DO UPDATE SET
    duplicates = notifications.duplicates + 1,
    last_received_at = excluded.last_received_at
RETURNING id, duplicates, stale;

-- name: put_entity_state_slot
INSERT INTO entity_state (entity, slot, value, event_time, notification_id)
VALUES (%(entity)s, %(slot)s, %(value)s, %(event_time)s, %(notification_id)s)
ON CONFLICT (entity, slot) DO UPDATE SET
    value = excluded.value,
    event_time = excluded.event_time,
    notification_id = excluded.notification_id
WHERE entity_state.event_time <= excluded.event_time
RETURNING notification_id;

-- name: mark_stale
UPDATE notifications SET stale = TRUE WHERE id = %(id)s;

-- name: record_ping
-- PINGs are written by concurrent background tasks: the later receive time wins, whatever
-- order the writes commit in.
INSERT INTO last_ping (id, received_at, source, count) VALUES (1, %(received_at)s, %(source)s, 1)
ON CONFLICT (id) DO UPDATE SET
    received_at = greatest(last_ping.received_at, excluded.received_at),
    source = CASE WHEN excluded.received_at >= last_ping.received_at
                  THEN excluded.source ELSE last_ping.source END,
    count = last_ping.count + 1;

-- name: get_notification
SELECT * FROM notifications WHERE id = %(id)s;

-- name: entity_states
SELECT * FROM entity_state WHERE entity = %(entity)s ORDER BY slot;

-- name: count_by_status
SELECT status, count(*) AS n FROM notifications GROUP BY status;

-- name: count_by_type
SELECT coalesce(notification_type, '') AS notification_type, count(*) AS n
FROM notifications GROUP BY notification_type;

-- name: totals
SELECT count(*) AS total, coalesce(sum(duplicates), 0) AS duplicates,
       count(*) FILTER (WHERE stale) AS stale, max(last_received_at) AS last_received_at
FROM notifications;

-- name: last_ping
SELECT received_at, source, count FROM last_ping WHERE id = 1;

-- name: count_pending
SELECT count(*) AS n FROM notifications WHERE status = 'pending';

-- name: oldest_pending
SELECT received_at FROM notifications WHERE status = 'pending' ORDER BY id LIMIT 1;

-- name: count_quarantined
SELECT count(*) AS n FROM notifications WHERE status = 'quarantined';

-- name: counts_over_time
SELECT floor(extract(epoch FROM received_at - %(since)s) / %(bucket)s)::bigint AS bucket,
       coalesce(notification_type, '') AS notification_type, count(*) AS n
FROM notifications
WHERE received_at >= %(since)s AND received_at < %(until)s
GROUP BY bucket, notification_type
ORDER BY bucket, notification_type;
