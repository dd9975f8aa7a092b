-- Queries of the Market sandbox's SQLite file, one named block each (ymnotify.store.queries).

-- name: insert_business
INSERT INTO businesses (id, name, created_at) VALUES (:id, :name, :created_at);

-- name: insert_campaign
INSERT INTO campaigns (id, business_id) VALUES (:id, :business_id);

-- name: insert_user
INSERT INTO users (business_id, login, role, position)
VALUES (:business_id, :login, :role, :position);

-- name: list_businesses
SELECT * FROM businesses ORDER BY id;

-- name: get_business
SELECT * FROM businesses WHERE id = :id;

-- name: campaigns_of
SELECT id FROM campaigns WHERE business_id = :business_id ORDER BY id;

-- name: users_of
SELECT login, role FROM users WHERE business_id = :business_id ORDER BY position;

-- name: business_of_campaign
SELECT business_id FROM campaigns WHERE id = :id;

-- name: insert_subscription
INSERT INTO subscriptions (
    business_id, campaign_id, name, enabled, types, url,
    previous_enabled, previous_types, previous_url, activates_at,
    disabled_by_market_at, failing_since, created_at, updated_at
) VALUES (
    :business_id, :campaign_id, :name, :enabled, :types, :url,
    :previous_enabled, :previous_types, :previous_url, :activates_at,
    :disabled_by_market_at, NULL, :created_at, :created_at
)
RETURNING id;

-- name: get_subscription
SELECT * FROM subscriptions WHERE id = :id AND removed_at IS NULL;

-- name: subscriptions_by_ids
SELECT * FROM subscriptions WHERE id IN (SELECT value FROM json_each(:ids)) AND removed_at IS NULL;

-- name: list_subscriptions
SELECT * FROM subscriptions WHERE removed_at IS NULL ORDER BY id;

-- name: subscriptions_of_business
SELECT * FROM subscriptions WHERE business_id = :business_id AND removed_at IS NULL ORDER BY id;

-- name: delivery_counts
SELECT subscription_id, state, count(*) AS n FROM deliveries GROUP BY subscription_id, state;

-- name: delivery_counts_of
SELECT state, count(*) AS n FROM deliveries WHERE subscription_id = :id GROUP BY state;

-- name: update_settings
UPDATE subscriptions SET
    name = :name, enabled = :enabled, types = :types, url = :url,
    previous_enabled = :previous_enabled, previous_types = :previous_types,
    previous_url = :previous_url, activates_at = :activates_at,
    disabled_by_market_at = :disabled_by_market_at,
    failing_since = CASE WHEN :reset_failing THEN NULL ELSE failing_since END,
    updated_at = :updated_at
WHERE id = :id AND removed_at IS NULL;

-- name: remove_subscription
UPDATE subscriptions SET removed_at = :at, updated_at = :at, failing_since = NULL
WHERE id = :id AND removed_at IS NULL;

-- name: cancel_pending_of
UPDATE deliveries
SET state = 'cancelled', cancel_reason = :reason, finished_at = :at,
    lease_owner = NULL, lease_expires = NULL
WHERE subscription_id = :subscription_id AND state = 'pending';

-- name: insert_event
INSERT INTO events (notification_type, body, published_at)
VALUES (:notification_type, :body, :published_at)
RETURNING id;

-- name: insert_delivery
INSERT INTO deliveries (event_id, subscription_id, state, run_at, created_at)
VALUES (:event_id, :subscription_id, 'pending', :run_at, :run_at)
RETURNING id;

-- The settings whose next_run_at has come, each with its oldest delivery due or not that is not
-- leased (NULL: none), the longest waiting first. Materialized: else the probe runs twice.
-- name: settings_with_due
WITH waiting AS MATERIALIZED (
    SELECT s.id AS id,
           (SELECT d.run_at FROM deliveries AS d
            WHERE d.state = 'pending' AND d.subscription_id = s.id
              AND (d.lease_expires IS NULL OR d.lease_expires < :wall)
            ORDER BY d.run_at, d.id LIMIT 1) AS oldest
    FROM subscriptions AS s INDEXED BY subscriptions_by_next_run
    WHERE s.next_run_at <= :now
)
SELECT id, oldest FROM waiting ORDER BY oldest, id;

-- A setting found with nothing due: its next_run_at moves on to its earliest pending delivery.
-- name: refresh_next_run
UPDATE subscriptions SET next_run_at = (
    SELECT min(run_at) FROM deliveries INDEXED BY deliveries_due_by_subscription
    WHERE state = 'pending' AND subscription_id = :id
)
WHERE id = :id;

-- name: due_of_subscription
SELECT id FROM deliveries
WHERE state = 'pending' AND subscription_id = :subscription_id AND run_at <= :now
  AND (lease_expires IS NULL OR lease_expires < :wall)
ORDER BY run_at, id
LIMIT :limit;

-- name: lease
UPDATE deliveries SET lease_owner = :owner, lease_expires = :expires
WHERE id IN (SELECT value FROM json_each(:ids));

-- The deliveries just leased (their ids as a JSON array), oldest due first.
-- name: claimed_details
SELECT d.id, d.subscription_id, d.attempts, d.first_attempt_at, d.run_at,
       e.notification_type, e.body
FROM deliveries AS d JOIN events AS e ON e.id = d.event_id
WHERE d.id IN (SELECT value FROM json_each(:ids))
ORDER BY d.run_at, d.id;

-- name: finish_attempt
UPDATE deliveries SET
    attempts = attempts + 1,
    first_attempt_at = coalesce(first_attempt_at, :at),
    last_attempt_at = :at,
    state = :state,
    run_at = coalesce(:run_at, run_at),
    finished_at = :finished_at,
    cancel_reason = :cancel_reason,
    lease_owner = NULL,
    lease_expires = NULL
WHERE id = :id;

-- name: cancel_delivery
UPDATE deliveries
SET state = 'cancelled', cancel_reason = :reason, finished_at = :at,
    lease_owner = NULL, lease_expires = NULL
WHERE id = :id AND state = 'pending';

-- name: set_failing_since
UPDATE subscriptions SET failing_since = :failing_since WHERE id = :id;

-- name: insert_log
INSERT INTO request_log (
    at, subscription_id, delivery_id, attempt, notification_type, url, traceparent,
    request_body, status, response_content_type, response_body, latency_ms, outcome,
    error_type, error_subtype, detail
) VALUES (
    :at, :subscription_id, :delivery_id, :attempt, :notification_type, :url, :traceparent,
    :request_body, :status, :response_content_type, :response_body, :latency_ms, :outcome,
    :error_type, :error_subtype, :detail
);

-- name: failing_past
SELECT * FROM subscriptions
WHERE failing_since IS NOT NULL AND failing_since <= :cutoff AND removed_at IS NULL
ORDER BY failing_since, id;

-- Both walk deliveries_due in time order from :now or from the start; the leased deliveries they
-- step over are the ones in flight.
-- name: due_now
SELECT 1 FROM deliveries
WHERE state = 'pending' AND lease_owner IS NULL AND run_at <= :now
LIMIT 1;

-- name: next_run_after
SELECT min(run_at) AS at FROM deliveries
WHERE state = 'pending' AND lease_owner IS NULL AND run_at > :now;

-- name: oldest_failing_since
SELECT min(failing_since) AS at FROM subscriptions
WHERE failing_since IS NOT NULL AND removed_at IS NULL;

-- name: release_leases
UPDATE deliveries SET lease_owner = NULL, lease_expires = NULL WHERE lease_owner IS NOT NULL;

-- name: get_clock
SELECT now FROM clock WHERE id = 1;

-- name: put_clock
INSERT INTO clock (id, now) VALUES (1, :now) ON CONFLICT (id) DO UPDATE SET now = excluded.now;

-- name: forget_clock
DELETE FROM clock;

-- Delivery attempts (PINGs have no delivery) by outcome, Market error class, and retry or not.
-- name: attempt_tallies
SELECT outcome, coalesce(error_type, '') AS error_type, attempt > 1 AS retry, count(*) AS n
FROM request_log WHERE delivery_id IS NOT NULL GROUP BY 1, 2, 3;

-- name: disabled_by_market_count
SELECT count(*) AS n FROM subscriptions
WHERE disabled_by_market_at IS NOT NULL AND removed_at IS NULL;

-- name: log_entry_exists
SELECT 1 FROM request_log WHERE id = :id;

-- name: pending_delivery_count
SELECT count(*) AS n FROM deliveries WHERE state = 'pending';
