-- Accepting a notification in one call (ymnotify_accept) instead of four round trips (BEGIN,
-- the insert, each state slot, COMMIT): what the receiver's process spent on PostgreSQL was
-- mostly those round trips (bench/analysis.md, thirteenth pass).

-- The state a new notification reports: each slot is kept only if no later event time is
-- recorded for it (Market: the later time wins), decided and written by one statement, so
-- concurrent accepts of one entity cannot both win; a slot not kept makes the notification
-- stale. Returns whether it is. Used by ymnotify_accept and by a replayed quarantined body.
CREATE FUNCTION ymnotify_put_state(
    of_entity TEXT,
    of_notification BIGINT,
    slots TEXT[],
    slot_values TEXT[],
    slot_times TIMESTAMPTZ[]
) RETURNS BOOLEAN LANGUAGE plpgsql AS $$
DECLARE
    outdated BOOLEAN := FALSE;
BEGIN
    IF of_entity IS NULL THEN
        RETURN FALSE;
    END IF;
    FOR i IN 1 .. coalesce(array_length(slots, 1), 0) LOOP
        INSERT INTO entity_state AS es (entity, slot, value, event_time, notification_id)
        VALUES (of_entity, slots[i], slot_values[i], slot_times[i], of_notification)
        ON CONFLICT (entity, slot) DO UPDATE SET
            value = excluded.value,
            event_time = excluded.event_time,
            notification_id = excluded.notification_id
        WHERE es.event_time <= excluded.event_time;
        IF NOT FOUND THEN
            outdated := TRUE;  -- a later event time is already recorded; it wins
        END IF;
    END LOOP;
    IF outdated THEN
        UPDATE notifications SET stale = TRUE WHERE notifications.id = of_notification;
    END IF;
    RETURN outdated;
END
$$;

-- Accept, in this order:
--   1. the entity's lock, before the id is drawn, so accepts of one entity commit in id order;
--   2. the notification, or one more duplicate of it (then nothing else changes);
--   3. its state (ymnotify_put_state), read after the lock.
CREATE FUNCTION ymnotify_accept(
    new_dedup_key TEXT,
    new_type TEXT,
    new_status TEXT,
    new_entity TEXT,
    new_event_time TIMESTAMPTZ,
    new_received_at TIMESTAMPTZ,
    new_source TEXT,
    new_headers TEXT,
    new_body BYTEA,
    new_error TEXT,
    slots TEXT[],
    slot_values TEXT[],
    slot_times TIMESTAMPTZ[]
) RETURNS TABLE (id BIGINT, duplicate BOOLEAN, stale BOOLEAN) LANGUAGE plpgsql AS $$
DECLARE
    stored_id BIGINT;
    stored_duplicates INTEGER;
    stored_stale BOOLEAN;
BEGIN
    IF new_entity IS NOT NULL THEN
        PERFORM pg_advisory_xact_lock(7276, hashtext(new_entity));
    END IF;
    INSERT INTO notifications AS n (
        dedup_key, notification_type, status, entity, event_time, received_at, last_received_at,
        source, headers, body, error
    )
    VALUES (
        new_dedup_key, new_type, new_status, new_entity, new_event_time, new_received_at,
        new_received_at, new_source, new_headers, new_body, new_error
    )
    ON CONFLICT (dedup_key) DO UPDATE SET
        duplicates = n.duplicates + 1,
        last_received_at = excluded.last_received_at
    RETURNING n.id, n.duplicates, n.stale INTO stored_id, stored_duplicates, stored_stale;
    IF stored_duplicates > 0 THEN
        RETURN QUERY SELECT stored_id, TRUE, stored_stale;
        RETURN;
    END IF;
    RETURN QUERY SELECT
        stored_id,
        FALSE,
        ymnotify_put_state(new_entity, stored_id, slots, slot_values, slot_times);
END
$$;
