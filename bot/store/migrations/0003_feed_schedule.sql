-- Veille schema, version 3: self-healing feeds. Each feed's adaptive schedule and health survive a restart.

-- Where the feed came from: 'config' (config.yaml), 'chat:<platform:id>' (/addfeed) or 'opml' (import).
-- Feeds from the config are polled only while they are in it; the others until /removefeed.
ALTER TABLE feeds ADD COLUMN origin TEXT NOT NULL DEFAULT 'config';
ALTER TABLE feeds ADD COLUMN next_poll_at TEXT;             -- when the dispatcher polls it next
ALTER TABLE feeds ADD COLUMN current_interval_s INTEGER;    -- the adapted interval (NULL: the configured one)
ALTER TABLE feeds ADD COLUMN failing_since TEXT;            -- first failure of the current failing streak
ALTER TABLE feeds ADD COLUMN backoff_until TEXT;            -- no poll before this after a failure
ALTER TABLE feeds ADD COLUMN failure_notified_at TEXT;      -- the one "feed failing" notice went out then

-- One row per failed poll, for "/stats: errors in the last 24h"; pruned by the maintenance job.
CREATE TABLE feed_errors (
    id      INTEGER PRIMARY KEY,
    feed_id INTEGER NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,
    at      TEXT NOT NULL,
    reason  TEXT NOT NULL
);
CREATE INDEX feed_errors_at ON feed_errors(at);
CREATE INDEX articles_stored_at ON articles(stored_at);

-- Bumped when a feed is added or removed, so the running scheduler picks the change up without a restart.
INSERT INTO meta (key, value) VALUES ('feeds_version', 0);
CREATE TRIGGER feeds_bump_insert AFTER INSERT ON feeds BEGIN
    UPDATE meta SET value = value + 1 WHERE key = 'feeds_version';
END;
CREATE TRIGGER feeds_bump_delete AFTER DELETE ON feeds BEGIN
    UPDATE meta SET value = value + 1 WHERE key = 'feeds_version';
END;
