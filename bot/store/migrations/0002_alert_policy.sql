-- Veille schema, version 2: quiet hours, caps, digests and what /why needs to explain a decision.

-- Per-chat alert policy; NULL means "the config's default".
ALTER TABLE chats ADD COLUMN timezone TEXT;
ALTER TABLE chats ADD COLUMN quiet_hours TEXT;          -- "22:00-07:00", or "off"
ALTER TABLE chats ADD COLUMN max_per_hour INTEGER;      -- 0 = no cap
ALTER TABLE chats ADD COLUMN digest TEXT;               -- "daily 08:00", "weekly mon 08:00" or "off"
ALTER TABLE chats ADD COLUMN last_digest_at TEXT;

-- An alert held back by quiet hours or the cap waits in state 'held' for the chat's next digest,
-- then becomes 'digested'. held_until: the earliest moment a catch-up digest may carry it.
ALTER TABLE alerts ADD COLUMN held_reason TEXT;         -- quiet | cap
ALTER TABLE alerts ADD COLUMN held_at TEXT;
ALTER TABLE alerts ADD COLUMN held_until TEXT;
ALTER TABLE alerts ADD COLUMN digested_at TEXT;
CREATE INDEX alerts_chat_state ON alerts(chat, state);
CREATE INDEX alerts_chat_sent ON alerts(chat, sent_at);

-- The highest article id when the feed was primed: this feed's articles up to it are its backlog.
ALTER TABLE feeds ADD COLUMN primed_max_article INTEGER;

-- A counter bumped on every change to the subscriptions, so the matcher re-reads them only then.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT INTO meta (key, value) VALUES ('subscriptions_version', 0);
CREATE TRIGGER subscriptions_bump_insert AFTER INSERT ON subscriptions BEGIN
    UPDATE meta SET value = value + 1 WHERE key = 'subscriptions_version';
END;
CREATE TRIGGER subscriptions_bump_delete AFTER DELETE ON subscriptions BEGIN
    UPDATE meta SET value = value + 1 WHERE key = 'subscriptions_version';
END;
CREATE TRIGGER subscriptions_bump_update AFTER UPDATE ON subscriptions BEGIN
    UPDATE meta SET value = value + 1 WHERE key = 'subscriptions_version';
END;
