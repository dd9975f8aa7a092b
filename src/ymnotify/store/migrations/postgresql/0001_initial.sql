-- The receiver's inbox: every notification accepted, and every malformed body, exactly once.
CREATE TABLE notifications (
    id                BIGSERIAL   PRIMARY KEY,
    dedup_key         TEXT        NOT NULL UNIQUE,
    notification_type TEXT,
    status            TEXT        NOT NULL,
    entity            TEXT,
    event_time        TIMESTAMPTZ,
    stale             BOOLEAN     NOT NULL DEFAULT FALSE,
    duplicates        INTEGER     NOT NULL DEFAULT 0,
    received_at       TIMESTAMPTZ NOT NULL,
    last_received_at  TIMESTAMPTZ NOT NULL,
    source            TEXT        NOT NULL,
    headers           TEXT        NOT NULL,
    body              BYTEA       NOT NULL,
    error             TEXT
);
CREATE INDEX notifications_by_status ON notifications (status, id);
CREATE INDEX notifications_by_type ON notifications (notification_type, id);
CREATE INDEX notifications_by_entity ON notifications (entity, id);
CREATE INDEX notifications_by_received ON notifications (received_at);

-- Latest known state per entity and slot; the later event time wins.
CREATE TABLE entity_state (
    entity          TEXT        NOT NULL,
    slot            TEXT        NOT NULL,
    value           TEXT        NOT NULL,
    event_time      TIMESTAMPTZ NOT NULL,
    notification_id BIGINT      NOT NULL,
    PRIMARY KEY (entity, slot)
);

-- The last PING seen (one row).
CREATE TABLE last_ping (
    id          INTEGER     PRIMARY KEY CHECK (id = 1),
    received_at TIMESTAMPTZ NOT NULL,
    source      TEXT        NOT NULL,
    count       INTEGER     NOT NULL
);
