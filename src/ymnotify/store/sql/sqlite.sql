-- Queries of the SQLite store, one named block each (loaded by ymnotify.store.queries).

-- name: insert_notification
INSERT INTO notifications (
    dedup_key, notification_type, status, entity, event_time, received_at, last_received_at,
    source, headers, body, error
) VALUES (
    :dedup_key, :notification_type, :status, :entity, :event_time, :received_at, :received_at,
    :source, :headers, :body, :error
)
ON CONFLICT (dedup_key) DO UPDATE SET
    duplicates = duplicates + 1,
    last_received_at = excluded.last_received_at
RETURNING id, duplicates;

-- name: get_entity_state_slot
SELECT event_time FROM entity_state WHERE entity = :entity AND slot = :slot;

-- name: put_entity_state_slot
INSERT INTO entity_state (entity, slot, value, event_time, notification_id)
VALUES (:entity, :slot, :value, :event_time, :notification_id)
ON CONFLICT (entity, slot) DO UPDATE SET
    value = excluded.value,
    event_time = excluded.event_time,
    notification_id = excluded.notification_id;

-- name: mark_stale
UPDATE notifications SET stale = 1 WHERE id = :id;

-- name: record_ping
-- The later receive time wins, as in PostgreSQL (where PINGs commit in any order).
INSERT INTO last_ping (id, received_at, source, count) VALUES (1, :received_at, :source, 1)
ON CONFLICT (id) DO UPDATE SET
    received_at = max(received_at, excluded.received_at),
    source = CASE WHEN excluded.received_at >= received_at THEN excluded.source ELSE source END,
    count = count + 1;

-- name: get_notification
SELECT * FROM notifications WHERE id = :id;

-- name: entity_states
SELECT * FROM entity_state WHERE entity = :entity ORDER BY slot;

-- name: count_by_status
SELECT status, count(*) AS n FROM notifications GROUP BY status;

-- name: count_by_type
SELECT coalesce(notification_type, '') AS notification_type, count(*) AS n
FROM notifications GROUP BY notification_type;

-- name: totals
SELECT count(*) AS total, coalesce(sum(duplicates), 0) AS duplicates,
       coalesce(sum(stale), 0) AS stale, max(last_received_at) AS last_received_at
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
-- Whole seconds cut from the text: SQLite's date functions would round .9995 s up.
SELECT (unixepoch(substr(received_at, 1, 19)) - :since_epoch) / :bucket AS bucket,
       coalesce(notification_type, '') AS notification_type, count(*) AS n
FROM notifications
WHERE received_at >= :since AND received_at < :until
GROUP BY bucket, notification_type
ORDER BY bucket, notification_type;
