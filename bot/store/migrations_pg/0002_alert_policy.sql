-- Veille schema on PostgreSQL, version 2 (as migrations/0002_alert_policy.sql): quiet hours, caps, digests.

ALTER TABLE chats ADD COLUMN timezone TEXT;
ALTER TABLE chats ADD COLUMN quiet_hours TEXT;
ALTER TABLE chats ADD COLUMN max_per_hour INTEGER;
ALTER TABLE chats ADD COLUMN digest TEXT;
ALTER TABLE chats ADD COLUMN last_digest_at TIMESTAMPTZ;

ALTER TABLE alerts ADD COLUMN held_reason TEXT;
ALTER TABLE alerts ADD COLUMN held_at TIMESTAMPTZ;
ALTER TABLE alerts ADD COLUMN held_until TIMESTAMPTZ;
ALTER TABLE alerts ADD COLUMN digested_at TIMESTAMPTZ;
CREATE INDEX alerts_chat_state ON alerts(chat, state);
CREATE INDEX alerts_chat_sent ON alerts(chat, sent_at);

ALTER TABLE feeds ADD COLUMN primed_max_article BIGINT;

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO meta (key, value) VALUES ('subscriptions_version', 0);
CREATE FUNCTION subscriptions_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE meta SET value = value + 1 WHERE key = 'subscriptions_version';
    RETURN NULL;
END $$;
CREATE TRIGGER subscriptions_bump AFTER INSERT OR UPDATE OR DELETE ON subscriptions
    FOR EACH ROW EXECUTE FUNCTION subscriptions_bump();
