-- PostgreSQL only, version 5: what retention deleted, so every worker's own search index forgets it too.
-- Retention runs in one process at a time (an advisory lock), which deletes from the store and from its own
-- index; the other workers read these rows after their watermark (IndexFollower) and delete the same ids.
-- Rows are kept TOMBSTONES_KEPT (bot/store/postgres.py) and pruned by the daily maintenance.

CREATE TABLE deleted_articles (
    seq        BIGSERIAL PRIMARY KEY,
    article_id BIGINT NOT NULL,
    deleted_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX deleted_articles_at ON deleted_articles(deleted_at);
