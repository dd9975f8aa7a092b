-- Handler jobs: one per (notification, handler), run one at a time per lane (handler, entity).

-- FALSE until a worker has matched the notification against its router and created its jobs.
ALTER TABLE notifications ADD COLUMN planned BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX notifications_unplanned ON notifications (id) WHERE NOT planned AND status = 'pending';

CREATE TABLE jobs (
    id              BIGSERIAL   PRIMARY KEY,
    notification_id BIGINT      NOT NULL REFERENCES notifications (id),
    handler         TEXT        NOT NULL,
    entity          TEXT        NOT NULL,
    status          TEXT        NOT NULL,
    attempts        INTEGER     NOT NULL DEFAULT 0,
    run_at          TIMESTAMPTZ NOT NULL,
    locked_by       TEXT,
    locked_until    TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL,
    finished_at     TIMESTAMPTZ,
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
    id          BIGSERIAL   PRIMARY KEY,
    job_id      BIGINT      NOT NULL REFERENCES jobs (id),
    attempt     INTEGER     NOT NULL,
    worker      TEXT        NOT NULL,
    started_at  TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ,
    outcome     TEXT,
    error       TEXT,
    traceback   TEXT
);
CREATE INDEX job_attempts_by_job ON job_attempts (job_id, id);
