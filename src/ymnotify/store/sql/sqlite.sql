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

-- name: put_entity_state_slot
-- Market: the later event time wins. No row returned = the slot holds a later event (stale).
INSERT INTO entity_state (entity, slot, value, event_time, notification_id)
VALUES (:entity, :slot, :value, :event_time, :notification_id)
ON CONFLICT (entity, slot) DO UPDATE SET
    value = excluded.value,
    event_time = excluded.event_time,
    notification_id = excluded.notification_id
WHERE excluded.event_time >= entity_state.event_time
RETURNING 1;

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

-- Jobs ------------------------------------------------------------------------------------------

-- name: unplanned
SELECT * FROM notifications INDEXED BY notifications_unplanned
WHERE planned = 0 AND status = 'pending' ORDER BY id LIMIT :limit;

-- name: mark_planned
UPDATE notifications SET planned = 1
WHERE id = :id AND planned = 0 AND status = 'pending'
RETURNING entity;

-- name: quarantine_unparseable
UPDATE notifications SET status = 'quarantined', planned = 1, error = :reason
WHERE id = :id AND planned = 0 AND status = 'pending';

-- name: plan_job
INSERT INTO jobs (notification_id, handler, entity, status, attempts, run_at, created_at)
VALUES (:notification_id, :handler, :entity, 'queued', 0, :now, :now)
ON CONFLICT (notification_id, handler) DO UPDATE SET
    status = 'queued', attempts = 0, run_at = excluded.run_at, locked_by = NULL,
    locked_until = NULL, finished_at = NULL, error = NULL, traceback = NULL
WHERE jobs.status IN ('done', 'unhandled', 'dead');

-- name: job_statuses_of_notification
SELECT j.status, j.error IS NOT NULL AS failed, n.planned
FROM notifications n LEFT JOIN jobs j ON j.notification_id = n.id
WHERE n.id = :id;

-- name: set_notification_status
UPDATE notifications SET status = :status WHERE id = :id;

-- name: expired_leases
SELECT id, notification_id, attempts, locked_by FROM jobs
WHERE status = 'running' AND locked_until <= :now;

-- An expired lease: its worker is gone. The attempt counts; the job is queued again.
-- name: expire_lease
UPDATE jobs SET status = 'queued', locked_by = NULL, locked_until = NULL, error = :error
WHERE id = :id;

-- name: lose_attempt
UPDATE job_attempts
SET finished_at = :now, outcome = 'lost',
    error = 'lease expired: worker ' || :worker || ' stopped renewing it (killed or cut off)'
WHERE job_id = :job_id AND outcome IS NULL;

-- A queued job is claimable when it is due, when no earlier job of its lane is unfinished, when
-- no other job of its lane is running, and when no earlier notification of its entity still
-- waits to be planned (it may bring an earlier job into the lane).
-- name: claimable_jobs
SELECT j.id
FROM jobs j INDEXED BY jobs_queued
WHERE j.status = 'queued'
  AND j.run_at <= :now
  AND j.handler IN (SELECT value FROM json_each(:handlers))
  AND NOT EXISTS (
      SELECT 1 FROM jobs k
      WHERE k.handler = j.handler AND k.entity = j.entity AND k.id != j.id
        AND ((k.notification_id < j.notification_id AND k.status = 'queued')
             OR k.status = 'running'))
  AND NOT EXISTS (
      SELECT 1 FROM notifications n
      WHERE n.entity = j.entity AND n.id < j.notification_id
        AND n.planned = 0 AND n.status = 'pending')
ORDER BY j.notification_id, j.id
LIMIT :limit;

-- name: lease_job
UPDATE jobs
SET status = 'running', attempts = attempts + 1, locked_by = :worker, locked_until = :until
WHERE id = :id
RETURNING id, handler, attempts, notification_id;

-- name: start_attempt
INSERT INTO job_attempts (job_id, attempt, worker, started_at)
VALUES (:job_id, :attempt, :worker, :now);

-- name: finish_job
UPDATE jobs
SET status = :status, locked_by = NULL, locked_until = NULL, finished_at = :now,
    error = NULL, traceback = NULL
WHERE id = :id AND status = 'running' AND locked_by = :worker
RETURNING notification_id;

-- name: fail_job
UPDATE jobs
SET status = :status, locked_by = NULL, locked_until = NULL, run_at = coalesce(:retry_at, run_at),
    finished_at = :finished_at, error = :error, traceback = :traceback
WHERE id = :id AND status = 'running' AND locked_by = :worker
RETURNING notification_id;

-- name: finish_attempt
UPDATE job_attempts
SET finished_at = :now, outcome = :outcome, error = :error, traceback = :traceback
WHERE job_id = :job_id AND outcome IS NULL;

-- name: renew_lease
UPDATE jobs SET locked_until = :until
WHERE id = :id AND status = 'running' AND locked_by = :worker
RETURNING id;

-- name: release_job
UPDATE jobs
SET status = 'queued', attempts = attempts - 1, locked_by = NULL, locked_until = NULL,
    run_at = :now
WHERE id = :id AND status = 'running' AND locked_by = :worker
RETURNING notification_id;

-- name: jobs_leased_by
SELECT id FROM jobs WHERE status = 'running' AND locked_by = :worker;

-- name: jobs_for
SELECT * FROM jobs WHERE notification_id = :id ORDER BY id;

-- name: attempts_for
SELECT a.* FROM job_attempts a JOIN jobs j ON j.id = a.job_id
WHERE j.notification_id = :id ORDER BY a.id;

-- name: requeue_dead
UPDATE jobs
SET status = 'queued', attempts = 0, run_at = :now, finished_at = NULL, error = NULL,
    traceback = NULL
WHERE notification_id = :id AND status = 'dead';

-- name: replan
UPDATE notifications SET planned = 0, status = 'pending'
WHERE id = :id AND status IN ('done', 'dead', 'unhandled');

-- name: requalify
UPDATE notifications
SET notification_type = :notification_type, entity = :entity, event_time = :event_time,
    status = 'pending', planned = 0, error = NULL
WHERE id = :id AND status = 'quarantined';

-- name: requarantine
UPDATE notifications SET error = :reason WHERE id = :id AND status = 'quarantined';
-- name: count_pending
SELECT count(*) AS n FROM notifications WHERE status = 'pending';

-- name: oldest_pending
SELECT received_at FROM notifications WHERE status = 'pending' ORDER BY id LIMIT 1;

-- name: count_quarantined
SELECT count(*) AS n FROM notifications WHERE status = 'quarantined';

-- name: job_counts
SELECT status, count(*) AS n FROM jobs GROUP BY status;

-- name: unfinished_jobs_by_handler
SELECT handler, count(*) AS n FROM jobs WHERE status IN ('queued', 'running') GROUP BY handler;

-- name: counts_over_time
-- Whole seconds cut from the text: SQLite's date functions would round .9995 s up.
SELECT (unixepoch(substr(received_at, 1, 19)) - :since_epoch) / :bucket AS bucket,
       coalesce(notification_type, '') AS notification_type, count(*) AS n
FROM notifications
WHERE received_at >= :since AND received_at < :until
GROUP BY bucket, notification_type
ORDER BY bucket, notification_type;

-- Retention -------------------------------------------------------------------------------------

-- The newest notification is never pruned: SQLite numbers a new row max(id) + 1, and a reused
-- id would name two notifications to handlers that key on it (kept on every backend alike).

-- name: count_prunable
SELECT status, count(*) AS n FROM notifications n
WHERE received_at < :before AND last_received_at < :before
  AND status IN (SELECT value FROM json_each(:statuses))
  AND n.id < (SELECT max(id) FROM notifications)
  AND NOT EXISTS (SELECT 1 FROM jobs j
                  WHERE j.notification_id = n.id AND j.status IN ('queued', 'running'))
GROUP BY status;

-- name: select_prunable
SELECT id, status FROM notifications n
WHERE received_at < :before AND last_received_at < :before
  AND status IN (SELECT value FROM json_each(:statuses))
  AND n.id < (SELECT max(id) FROM notifications)
  AND NOT EXISTS (SELECT 1 FROM jobs j
                  WHERE j.notification_id = n.id AND j.status IN ('queued', 'running'))
ORDER BY received_at, id
LIMIT :limit;

-- name: prune_attempts
DELETE FROM job_attempts
WHERE job_id IN (SELECT id FROM jobs
                 WHERE notification_id IN (SELECT value FROM json_each(:ids)));

-- name: prune_jobs
DELETE FROM jobs WHERE notification_id IN (SELECT value FROM json_each(:ids));

-- name: prune_notifications
DELETE FROM notifications WHERE id IN (SELECT value FROM json_each(:ids));
