-- Claims take each setting's oldest due deliveries in turn (a setting with a backlog must not
-- take every place in flight): this index finds them, setting by setting, without reading the
-- deliveries of the others or the ones due later.
CREATE INDEX deliveries_due_by_subscription ON deliveries (subscription_id, run_at, id)
    WHERE state = 'pending';
