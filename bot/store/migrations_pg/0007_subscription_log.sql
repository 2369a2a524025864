-- PostgreSQL, as migrations/0004_subscription_log.sql: a log of subscription changes for the matchers.
-- The version is bumped by an UPDATE of one meta row, whose lock is held to the end of the transaction:
-- concurrent changes (several workers) get their versions in commit order, so a reader that has seen
-- version V and finds V+1 in the log has every change up to the newest logged version.

CREATE TABLE subscription_log (
    version         BIGINT PRIMARY KEY,
    subscription_id BIGINT NOT NULL
);

CREATE OR REPLACE FUNCTION subscriptions_bump() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bumped BIGINT;
BEGIN
    UPDATE meta SET value = value + 1 WHERE key = 'subscriptions_version' RETURNING value INTO bumped;
    IF TG_OP = 'DELETE' THEN
        INSERT INTO subscription_log (version, subscription_id) VALUES (bumped, OLD.id);
    ELSE
        INSERT INTO subscription_log (version, subscription_id) VALUES (bumped, NEW.id);
    END IF;
    RETURN NULL;
END $$;
