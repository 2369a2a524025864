-- PostgreSQL only, version 4: leases so that several worker processes share the work (bot/workers.py).
-- A feed is claimed by one fetch worker at a time, a chat's outbox by one sender at a time, with
-- SELECT ... FOR UPDATE SKIP LOCKED; a lease that is not released (its worker died) expires at
-- lease_until and the work is claimed again by another worker.

ALTER TABLE feeds ADD COLUMN lease_owner TEXT;
ALTER TABLE feeds ADD COLUMN lease_until TIMESTAMPTZ;
CREATE INDEX feeds_due ON feeds(next_poll_at);

-- One row per chat that ever had an alert: the chat's outbox is sent by one worker at a time, so its
-- alerts keep their order. Kept apart from `chats`, whose rows mean "this chat has settings".
CREATE TABLE outbox_leases (
    chat        TEXT PRIMARY KEY,
    lease_owner TEXT,
    lease_until TIMESTAMPTZ
);
