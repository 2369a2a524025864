-- Version 4: a log of subscription changes, so a matcher applies only what changed since the version it
-- holds (SubscriptionMatcher.refresh) instead of reading every subscription after each /subscribe.
-- Each change bumps the version (as since version 2) and logs (version, subscription id) in the same
-- trigger: versions have no gaps, so a reader can tell a complete log from a trimmed one.

CREATE TABLE subscription_log (
    version         INTEGER PRIMARY KEY,
    subscription_id INTEGER NOT NULL
);

DROP TRIGGER subscriptions_bump_insert;
DROP TRIGGER subscriptions_bump_delete;
DROP TRIGGER subscriptions_bump_update;

CREATE TRIGGER subscriptions_bump_insert AFTER INSERT ON subscriptions BEGIN
    UPDATE meta SET value = value + 1 WHERE key = 'subscriptions_version';
    INSERT INTO subscription_log (version, subscription_id)
        SELECT value, NEW.id FROM meta WHERE key = 'subscriptions_version';
END;
CREATE TRIGGER subscriptions_bump_delete AFTER DELETE ON subscriptions BEGIN
    UPDATE meta SET value = value + 1 WHERE key = 'subscriptions_version';
    INSERT INTO subscription_log (version, subscription_id)
        SELECT value, OLD.id FROM meta WHERE key = 'subscriptions_version';
END;
CREATE TRIGGER subscriptions_bump_update AFTER UPDATE ON subscriptions BEGIN
    UPDATE meta SET value = value + 1 WHERE key = 'subscriptions_version';
    INSERT INTO subscription_log (version, subscription_id)
        SELECT value, NEW.id FROM meta WHERE key = 'subscriptions_version';
END;
