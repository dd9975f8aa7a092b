-- Handler jobs: one per (notification, handler), run one at a time per lane (handler, entity).

-- 0 until a worker has matched the notification against its router and created its jobs.
ALTER TABLE notifications ADD COLUMN planned INTEGER NOT NULL DEFAULT 0;
CREATE INDEX notifications_unplanned ON notifications (id) WHERE planned = 0 AND status = 'pending';

CREATE TABLE jobs (
    id              INTEGER PRIMARY KEY,
    notification_id INTEGER NOT NULL REFERENCES notifications (id),
    handler         TEXT    NOT NULL,
    entity          TEXT    NOT NULL,
    status          TEXT    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    run_at          TEXT    NOT NULL,
    locked_by       TEXT,
    locked_until    TEXT,
    created_at      TEXT    NOT NULL,
    finished_at     TEXT,
    error           TEXT,
    traceback       TEXT,
    UNIQUE (notification_id, handler)
);
-- The lane check looks up earlier and running jobs of (handler, entity).
CREATE INDEX jobs_lane ON jobs (handler, entity, notification_id);
-- Claims walk the queued jobs in notification order and stop at their limit.
CREATE INDEX jobs_queued ON jobs (notification_id, id) WHERE status = 'queued';
CREATE INDEX jobs_leased ON jobs (locked_until) WHERE status = 'running';
CREATE INDEX jobs_by_worker ON jobs (locked_by) WHERE status = 'running';

-- Every attempt of every job, for `inbox show`: who ran it, how it ended, the traceback.
CREATE TABLE job_attempts (
    id          INTEGER PRIMARY KEY,
    job_id      INTEGER NOT NULL REFERENCES jobs (id),
    attempt     INTEGER NOT NULL,
    worker      TEXT    NOT NULL,
    started_at  TEXT    NOT NULL,
    finished_at TEXT,
    outcome     TEXT,
    error       TEXT,
    traceback   TEXT
);
CREATE INDEX job_attempts_by_job ON job_attempts (job_id, id);
