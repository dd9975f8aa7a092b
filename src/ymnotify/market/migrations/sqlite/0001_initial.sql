-- The Market sandbox's own file (default ./ymnotify-market.db). Times are fixed-width UTC text
-- (store.base.utc_text), so they compare as strings; Market times follow the Market clock
-- (real or virtual), lease_expires the wall clock.

-- Cabinets, their stores (campaignIds) and their users.
CREATE TABLE businesses (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL,
    created_at TEXT    NOT NULL
);
CREATE TABLE campaigns (
    id          INTEGER PRIMARY KEY,
    business_id INTEGER NOT NULL REFERENCES businesses (id)
);
CREATE INDEX campaigns_by_business ON campaigns (business_id, id);
CREATE TABLE users (
    business_id INTEGER NOT NULL REFERENCES businesses (id),
    login       TEXT    NOT NULL,
    role        TEXT    NOT NULL,
    position    INTEGER NOT NULL,
    PRIMARY KEY (business_id, login)
);

-- Notification settings. enabled/types/url: as last set (shown at once); previous_*: in effect
-- until activates_at. failing_since: the 14-day clock (NULL while the endpoint answers).
CREATE TABLE subscriptions (
    id                    INTEGER PRIMARY KEY,
    business_id           INTEGER NOT NULL REFERENCES businesses (id),
    campaign_id           INTEGER REFERENCES campaigns (id),
    name                  TEXT    NOT NULL,
    enabled               INTEGER NOT NULL,
    types                 TEXT    NOT NULL,
    url                   TEXT    NOT NULL,
    previous_enabled      INTEGER NOT NULL,
    previous_types        TEXT    NOT NULL,
    previous_url          TEXT    NOT NULL,
    activates_at          TEXT,
    disabled_by_market_at TEXT,
    failing_since         TEXT,
    created_at            TEXT    NOT NULL,
    updated_at            TEXT    NOT NULL,
    removed_at            TEXT
);
CREATE INDEX subscriptions_by_business ON subscriptions (business_id, id);
CREATE INDEX subscriptions_failing ON subscriptions (failing_since)
    WHERE failing_since IS NOT NULL;

-- Published notifications, and one delivery per (event, subscription).
CREATE TABLE events (
    id                INTEGER PRIMARY KEY,
    notification_type TEXT    NOT NULL,
    body              BLOB    NOT NULL,
    published_at      TEXT    NOT NULL
);
CREATE TABLE deliveries (
    id               INTEGER PRIMARY KEY,
    event_id         INTEGER NOT NULL REFERENCES events (id),
    subscription_id  INTEGER NOT NULL REFERENCES subscriptions (id),
    state            TEXT    NOT NULL,
    run_at           TEXT    NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    first_attempt_at TEXT,
    last_attempt_at  TEXT,
    lease_owner      TEXT,
    lease_expires    TEXT,
    created_at       TEXT    NOT NULL,
    finished_at      TEXT,
    cancel_reason    TEXT
);
-- Claims read only pending rows in run_at order: cheap however many future deliveries wait.
CREATE INDEX deliveries_due ON deliveries (run_at, id) WHERE state = 'pending';
CREATE INDEX deliveries_by_subscription ON deliveries (subscription_id, state);

-- Every attempt, as Market's request log shows it (PING included: delivery_id NULL).
CREATE TABLE request_log (
    id                    INTEGER PRIMARY KEY,
    at                    TEXT    NOT NULL,
    subscription_id       INTEGER,
    delivery_id           INTEGER,
    attempt               INTEGER NOT NULL,
    notification_type     TEXT    NOT NULL,
    url                   TEXT    NOT NULL,
    traceparent           TEXT    NOT NULL,
    request_body          BLOB    NOT NULL,
    status                INTEGER,
    response_content_type TEXT,
    response_body         BLOB,
    latency_ms            REAL    NOT NULL,
    outcome               TEXT    NOT NULL,
    error_type            TEXT,
    error_subtype         TEXT,
    detail                TEXT
);
CREATE INDEX request_log_by_time ON request_log (at, id);
CREATE INDEX request_log_by_subscription ON request_log (subscription_id, id);

-- The virtual clock's time, kept across restarts (one row).
CREATE TABLE clock (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    now TEXT    NOT NULL
);
