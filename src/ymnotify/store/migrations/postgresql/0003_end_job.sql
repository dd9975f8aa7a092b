-- Ending a job in one call (ymnotify_end_job) instead of five statements in a transaction:
-- each round trip cost the worker's event loop more CPU than the database's work
-- (bench/analysis.md, thirteenth pass).

-- store.base.derive_status in SQL, from the jobs' statuses and whether each one's last attempt
-- failed (a test compares the two on every combination): dead wins, then a pending retry (an
-- unfinished job whose last attempt failed), then work still to do, then done; unhandled when
-- every job declined, or there is none.
CREATE FUNCTION ymnotify_status_of(job_statuses TEXT[], failed BOOLEAN[])
RETURNS TEXT LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN coalesce(bool_or(job.status = 'dead'), FALSE) THEN 'dead'
        WHEN coalesce(bool_or(job.status IN ('queued', 'running') AND job.failed), FALSE)
            THEN 'retrying'
        WHEN coalesce(bool_or(job.status IN ('queued', 'running')), FALSE) THEN 'pending'
        WHEN coalesce(bool_or(job.status = 'done'), FALSE) THEN 'done'
        ELSE 'unhandled'
    END
    FROM unnest(job_statuses, failed) AS job (status, failed)
$$;

-- Finish, decline or fail a job, in order, each step seeing what the one before wrote:
--   1. the job, only if still running under this worker's lease (else nothing, and FALSE):
--      its new status, retry time, and the failure's error and traceback (NULL: none);
--   2. its open attempt: how it ended, with the same failure;
--   3. the notification's row lock, then, if it is planned, its status derived from all of its
--      jobs, read after the lock so that two workers ending jobs of one notification at once
--      cannot both miss the other's.
CREATE FUNCTION ymnotify_end_job(
    job_id BIGINT,
    worker TEXT,
    ended_at TIMESTAMPTZ,
    new_status TEXT,
    retry_at TIMESTAMPTZ,
    finished_at TIMESTAMPTZ,
    failure TEXT,
    failure_traceback TEXT,
    outcome TEXT
) RETURNS BOOLEAN LANGUAGE plpgsql AS $$
DECLARE
    ended_notification BIGINT;
    is_planned BOOLEAN;
BEGIN
    UPDATE jobs
    SET status = new_status, locked_by = NULL, locked_until = NULL,
        run_at = coalesce(ymnotify_end_job.retry_at, jobs.run_at),
        finished_at = ymnotify_end_job.finished_at, error = failure,
        traceback = failure_traceback
    WHERE jobs.id = ymnotify_end_job.job_id AND jobs.status = 'running'
        AND jobs.locked_by = ymnotify_end_job.worker
    RETURNING jobs.notification_id INTO ended_notification;
    IF NOT FOUND THEN
        RETURN FALSE;
    END IF;
    UPDATE job_attempts
    SET finished_at = ended_at, outcome = ymnotify_end_job.outcome, error = failure,
        traceback = failure_traceback
    WHERE job_attempts.job_id = ymnotify_end_job.job_id AND job_attempts.outcome IS NULL;
    SELECT notifications.planned INTO is_planned FROM notifications
    WHERE notifications.id = ended_notification FOR UPDATE;
    IF is_planned THEN
        UPDATE notifications SET status = (
            SELECT ymnotify_status_of(array_agg(jobs.status), array_agg(jobs.error IS NOT NULL))
            FROM jobs WHERE jobs.notification_id = ended_notification
        )
        WHERE notifications.id = ended_notification;
    END IF;
    RETURN TRUE;
END
$$;
