-- PostgreSQL only, version 6: the registry of live workers (bot/workers.py WorkerRegistry).
-- Every worker process upserts its row every few seconds; the number of rows seen recently is how many
-- workers share the outboxes (each claims its share of the due chats) and the platforms' overall limits
-- (each paces to limit / live workers). A worker removes its row when it stops cleanly; rows of workers that
-- died are ignored once stale and deleted by the daily maintenance.

CREATE TABLE workers (
    name       TEXT PRIMARY KEY,
    started_at TIMESTAMPTZ NOT NULL,
    seen_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX workers_seen ON workers(seen_at);
