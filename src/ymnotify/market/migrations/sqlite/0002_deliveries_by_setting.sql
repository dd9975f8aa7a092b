-- Claims take each setting's oldest due deliveries in turn (a setting with a backlog must not
-- take every place in flight): this index finds them, setting by setting, without reading the
-- deliveries of the others or the ones due later.
CREATE INDEX deliveries_due_by_subscription ON deliveries (subscription_id, run_at, id)
    WHERE state = 'pending';

-- When each setting next has something due: never later than its earliest pending delivery, and
-- maybe earlier (a delivery done or cancelled leaves it behind; the next claim that finds nothing
-- due moves it on). A claim visits only the settings whose time has come: a failing endpoint
-- keeps retries pending for 14 days, and thousands of such settings read on every claim made
-- claims slow. The triggers only ever move it earlier, which costs nothing on the usual path
-- (a delivery done, or one more behind an earlier one).
ALTER TABLE subscriptions ADD COLUMN next_run_at TEXT;
UPDATE subscriptions SET next_run_at = (
    SELECT min(run_at) FROM deliveries
    WHERE state = 'pending' AND subscription_id = subscriptions.id
);
CREATE INDEX subscriptions_by_next_run ON subscriptions (next_run_at)
    WHERE next_run_at IS NOT NULL;

CREATE TRIGGER next_run_after_insert AFTER INSERT ON deliveries WHEN NEW.state = 'pending'
BEGIN
    UPDATE subscriptions SET next_run_at = NEW.run_at
    WHERE id = NEW.subscription_id AND (next_run_at IS NULL OR next_run_at > NEW.run_at);
END;

CREATE TRIGGER next_run_after_retry AFTER UPDATE OF run_at ON deliveries
WHEN NEW.state = 'pending'
BEGIN
    UPDATE subscriptions SET next_run_at = NEW.run_at
    WHERE id = NEW.subscription_id AND (next_run_at IS NULL OR next_run_at > NEW.run_at);
END;
