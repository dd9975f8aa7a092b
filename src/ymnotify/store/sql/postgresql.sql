-- Queries of the PostgreSQL store, one named block each, named as in sqlite.sql.

-- An accept with an entity first takes the entity's lock, held until it commits, and only then
-- draws its id: the lock is a one-time filter (an init plan) of the row the INSERT makes, which
-- the executor checks before it computes that row, the id's nextval included. The two-key form
-- (a fixed class, the entity's 32-bit hash) never meets the one-key advisory locks; a hash
-- collision only makes two entities take turns.
-- name: accept
-- One call, its own transaction: see migration 0004.
SELECT id, duplicate, stale FROM ymnotify_accept(
    %(dedup_key)s, %(notification_type)s, %(status)s, %(entity)s, %(event_time)s,
    %(received_at)s, %(source)s, %(headers)s, %(body)s, %(error)s,
    %(slots)s::text[], %(values)s::text[], %(times)s::timestamptz[]
);

-- name: put_state
-- A replayed quarantined body's state: see migration 0004.
SELECT ymnotify_put_state(
    %(entity)s, %(id)s, %(slots)s::text[], %(values)s::text[], %(times)s::timestamptz[]
) AS stale;

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

-- name: job_counts
SELECT status, count(*) AS n FROM jobs GROUP BY status;

-- name: unfinished_jobs_by_handler
SELECT handler, count(*) AS n FROM jobs WHERE status IN ('queued', 'running') GROUP BY handler;

-- name: counts_over_time
SELECT floor(extract(epoch FROM received_at - %(since)s) / %(bucket)s)::bigint AS bucket,
       coalesce(notification_type, '') AS notification_type, count(*) AS n
FROM notifications
WHERE received_at >= %(since)s AND received_at < %(until)s
GROUP BY bucket, notification_type
ORDER BY bucket, notification_type;

-- Jobs ------------------------------------------------------------------------------------------

-- name: unplanned
SELECT * FROM notifications WHERE NOT planned AND status = 'pending' ORDER BY id LIMIT %(limit)s;

-- Job rows before notification rows, in every transaction that takes both: a claim holds its
-- job row and then locks the notification (refreshing its status), so a planner that locked the
-- notification first and then a job (the ON CONFLICT of plan_job locks the existing row) could
-- deadlock with it. Claims skip locked jobs, so taking them first never makes a claim wait.
-- name: lock_jobs_of_notifications
SELECT id FROM jobs WHERE notification_id = ANY(%(ids)s) ORDER BY id FOR UPDATE;

-- name: mark_planned
UPDATE notifications SET planned = TRUE
WHERE id = ANY(%(ids)s) AND NOT planned AND status = 'pending'
RETURNING id, entity;

-- name: quarantine_unparseable
UPDATE notifications SET status = 'quarantined', planned = TRUE, error = %(reason)s
WHERE id = %(id)s AND NOT planned AND status = 'pending';

-- Job ids follow the order given (notification, then handler): claims take jobs in id order.
-- name: plan_jobs
INSERT INTO jobs (notification_id, handler, entity, status, attempts, run_at, created_at)
SELECT notification_id, handler, entity, 'queued', 0, %(now)s, %(now)s
FROM unnest(%(notification_ids)s::bigint[], %(handlers)s::text[], %(entities)s::text[])
     WITH ORDINALITY AS planned (notification_id, handler, entity, position)
ORDER BY position
ON CONFLICT (notification_id, handler) DO UPDATE SET
    status = 'queued', attempts = 0, run_at = excluded.run_at, locked_by = NULL,
    locked_until = NULL, finished_at = NULL, error = NULL, traceback = NULL
WHERE jobs.status IN ('done', 'unhandled', 'dead');

-- Concurrent transactions finishing jobs of one notification take turns here, so each derives
-- the status from the others' committed changes. In id order, so that two transactions locking
-- several notifications cannot deadlock.
-- name: lock_notifications
SELECT id, planned FROM notifications WHERE id = ANY(%(ids)s) ORDER BY id FOR UPDATE;

-- name: refresh_statuses
-- After lock_notifications: each planned one's status from its jobs (migration 0003).
UPDATE notifications SET status = (
    SELECT ymnotify_status_of(array_agg(jobs.status), array_agg(jobs.error IS NOT NULL))
    FROM jobs WHERE jobs.notification_id = notifications.id
)
WHERE id = ANY(%(ids)s) AND planned;

-- For the rest of a transaction that takes the first rows of a queue (claims, planning): walk
-- the queue's index in order and stop at the limit, whatever the statistics say. Right after a
-- burst they still describe a table with few queued rows, and the planner then fetches every
-- queued row and sorts them: 80 ms per claim over 20,000 never-analysed queued jobs against
-- 0.18 ms walking jobs_queued; 18 ms against 0.05 ms for 100 of 50,000 unplanned notifications.
-- name: walk_queues_in_order
SELECT set_config('enable_sort', 'off', true), set_config('enable_bitmapscan', 'off', true);

-- name: expired_leases
SELECT id, notification_id, attempts, locked_by FROM jobs
WHERE status = 'running' AND locked_until <= %(now)s
FOR UPDATE SKIP LOCKED;

-- An expired lease: its worker is gone. The attempt counts; the job is queued again.
-- name: expire_lease
UPDATE jobs SET status = 'queued', locked_by = NULL, locked_until = NULL, error = %(error)s
WHERE id = %(id)s;

-- name: lose_attempt
UPDATE job_attempts
SET finished_at = %(now)s, outcome = 'lost',
    error = 'lease expired: worker ' || %(worker)s || ' stopped renewing it (killed or cut off)'
WHERE job_id = %(job_id)s AND outcome IS NULL;

-- A queued job is claimable when it is due, when no earlier job of its lane is unfinished, when
-- no other job of its lane is running, and when no earlier notification of its entity still
-- waits to be planned. Rows another worker is claiming right now are skipped, not waited for;
-- while that claim is uncommitted its job still counts as queued, so the lane stays closed.
-- name: claim_jobs
-- Takes the claimable jobs, leases them, starts an attempt of each and returns them with their
-- notifications, in one statement (three round trips were most of a claim's cost). The caller
-- puts them in notification order, then job id: sorting here would add a sort to the plan that
-- the queue walk avoids.
WITH claimable AS (
    SELECT j.id
    FROM jobs j
    WHERE j.status = 'queued'
      AND j.run_at <= %(now)s
      AND j.handler = ANY(%(handlers)s)
      AND NOT EXISTS (
          SELECT 1 FROM jobs k
          WHERE k.handler = j.handler AND k.entity = j.entity AND k.id <> j.id
            AND ((k.notification_id < j.notification_id AND k.status = 'queued')
                 OR k.status = 'running'))
      AND NOT EXISTS (
          SELECT 1 FROM (
              -- OFFSET 0 keeps the outer conditions out of this scan, so it walks the entity's
              -- earlier notifications (notifications_by_entity) instead of AND-ing in the partial
              -- index of unplanned ones. Without statistics (a jobs table that grew in a burst) the
              -- planner chose that index for every queued job, and after planning it is full of
              -- dead entries: 255 ms per claim over 3,000 queued jobs, 11 ms with this fence.
              SELECT planned, status FROM notifications
              WHERE entity = j.entity AND id < j.notification_id
              OFFSET 0) n
          WHERE NOT n.planned AND n.status = 'pending')
    ORDER BY j.notification_id, j.id
    LIMIT %(limit)s
    FOR UPDATE OF j SKIP LOCKED
), leased AS (
    UPDATE jobs
    SET status = 'running', attempts = attempts + 1, locked_by = %(worker)s,
        locked_until = %(until)s
    WHERE id IN (SELECT id FROM claimable)
    RETURNING id, handler, attempts, notification_id
), started AS (
    INSERT INTO job_attempts (job_id, attempt, worker, started_at)
    SELECT id, attempts, %(worker)s, %(now)s FROM leased
)
SELECT leased.id AS job_id, leased.handler, leased.attempts, n.*
FROM leased JOIN notifications n ON n.id = leased.notification_id;

-- name: end_job
-- Finish, decline or fail a job its worker holds: see migration 0003.
SELECT ymnotify_end_job(
    %(id)s, %(worker)s, %(now)s, %(status)s, %(retry_at)s, %(finished_at)s, %(error)s,
    %(traceback)s, %(outcome)s
) AS ended;

-- name: finish_attempt
UPDATE job_attempts
SET finished_at = %(now)s, outcome = %(outcome)s, error = %(error)s, traceback = %(traceback)s
WHERE job_id = %(job_id)s AND outcome IS NULL;

-- name: renew_leases
UPDATE jobs SET locked_until = %(until)s
WHERE id = ANY(%(ids)s) AND status = 'running' AND locked_by = %(worker)s
RETURNING id;

-- name: release_job
UPDATE jobs
SET status = 'queued', attempts = attempts - 1, locked_by = NULL, locked_until = NULL,
    run_at = %(now)s
WHERE id = %(id)s AND status = 'running' AND locked_by = %(worker)s
RETURNING notification_id;

-- name: jobs_leased_by
SELECT id FROM jobs WHERE status = 'running' AND locked_by = %(worker)s;

-- name: jobs_for
SELECT * FROM jobs WHERE notification_id = %(id)s ORDER BY id;

-- name: attempts_for
SELECT a.* FROM job_attempts a JOIN jobs j ON j.id = a.job_id
WHERE j.notification_id = %(id)s ORDER BY a.id;

-- name: requeue_dead
UPDATE jobs
SET status = 'queued', attempts = 0, run_at = %(now)s, finished_at = NULL, error = NULL,
    traceback = NULL
WHERE notification_id = %(id)s AND status = 'dead';

-- name: replan
UPDATE notifications SET planned = FALSE, status = 'pending'
WHERE id = %(id)s AND status IN ('done', 'dead', 'unhandled');

-- name: requalify
UPDATE notifications
SET notification_type = %(notification_type)s, entity = %(entity)s, event_time = %(event_time)s,
    status = 'pending', planned = FALSE, error = NULL
WHERE id = %(id)s AND status = 'quarantined';

-- name: requarantine
UPDATE notifications SET error = %(reason)s WHERE id = %(id)s AND status = 'quarantined';

-- Retention -------------------------------------------------------------------------------------

-- The newest notification is never pruned: SQLite numbers a new row max(id) + 1, and a reused
-- id would name two notifications to handlers that key on it (kept on every backend alike).

-- name: count_prunable
SELECT status, count(*) AS n FROM notifications n
WHERE received_at < %(before)s AND last_received_at < %(before)s
  AND status = ANY(%(statuses)s)
  AND n.id < (SELECT max(id) FROM notifications)
  AND NOT EXISTS (SELECT 1 FROM jobs j
                  WHERE j.notification_id = n.id AND j.status IN ('queued', 'running'))
GROUP BY status;

-- One batch: the rows stay locked until deleted, so a replay cannot revive one half-deleted;
-- rows someone else holds are left for the next run.
-- name: lock_prunable
SELECT id, status FROM notifications n
WHERE received_at < %(before)s AND last_received_at < %(before)s
  AND status = ANY(%(statuses)s)
  AND n.id < (SELECT max(id) FROM notifications)
  AND NOT EXISTS (SELECT 1 FROM jobs j
                  WHERE j.notification_id = n.id AND j.status IN ('queued', 'running'))
ORDER BY received_at, id
LIMIT %(limit)s
FOR UPDATE SKIP LOCKED;

-- name: prune_attempts
DELETE FROM job_attempts
WHERE job_id IN (SELECT id FROM jobs WHERE notification_id = ANY(%(ids)s));

-- name: prune_jobs
DELETE FROM jobs WHERE notification_id = ANY(%(ids)s);

-- name: prune_notifications
DELETE FROM notifications WHERE id = ANY(%(ids)s);
