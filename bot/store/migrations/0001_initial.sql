-- Veille schema, version 1. Times are ISO 8601 UTC text; booleans are 0/1.

CREATE TABLE feeds (
    id                   INTEGER PRIMARY KEY,
    url                  TEXT NOT NULL UNIQUE,
    name                 TEXT NOT NULL,
    interval_s           INTEGER NOT NULL,
    etag                 TEXT,
    last_modified        TEXT,
    last_success         TEXT,
    last_error           TEXT,
    last_error_at        TEXT,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    primed               INTEGER NOT NULL DEFAULT 0,
    created_at           TEXT NOT NULL
);

CREATE TABLE stories (
    id         INTEGER PRIMARY KEY,
    title      TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen  TEXT NOT NULL
);

CREATE TABLE articles (
    id           INTEGER PRIMARY KEY,
    key          TEXT NOT NULL UNIQUE,
    url          TEXT NOT NULL,
    title        TEXT NOT NULL,
    text         TEXT NOT NULL,
    summary      TEXT NOT NULL DEFAULT '',
    source       TEXT NOT NULL,
    published    TEXT NOT NULL,
    stored_at    TEXT NOT NULL,
    lang         TEXT NOT NULL DEFAULT 'und',
    feed_id      INTEGER REFERENCES feeds(id) ON DELETE SET NULL,
    content_hash TEXT NOT NULL,
    entities     TEXT NOT NULL DEFAULT '',
    story_id     INTEGER REFERENCES stories(id)
);
CREATE INDEX articles_content_hash ON articles(content_hash);
CREATE INDEX articles_url ON articles(url);
CREATE INDEX articles_published ON articles(published);
CREATE INDEX articles_story ON articles(story_id);

CREATE TABLE subscriptions (
    id            INTEGER PRIMARY KEY,
    chat          TEXT NOT NULL,
    query         TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    paused_reason TEXT,
    UNIQUE (chat, query)
);

CREATE TABLE chats (
    chat          TEXT PRIMARY KEY,
    lang          TEXT,
    paused_reason TEXT,
    paused_at     TEXT
);

-- The durable outbox: one row per (chat, story). Written in the transaction that stores the article
-- that caused it, so an alert exists if and only if its article does.
CREATE TABLE alerts (
    id               INTEGER PRIMARY KEY,
    chat             TEXT NOT NULL,
    story_id         INTEGER NOT NULL REFERENCES stories(id),
    article_id       INTEGER NOT NULL REFERENCES articles(id),
    query            TEXT NOT NULL DEFAULT '',
    state            TEXT NOT NULL DEFAULT 'pending',  -- pending | sent
    created_at       TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TEXT NOT NULL,
    last_error       TEXT,
    message_id       TEXT,
    sent_at          TEXT,
    sources_sent     INTEGER NOT NULL DEFAULT 0,
    edit_pending     INTEGER NOT NULL DEFAULT 0,
    UNIQUE (chat, story_id)
);
CREATE INDEX alerts_due ON alerts(state, next_attempt_at);
CREATE INDEX alerts_edit ON alerts(edit_pending) WHERE edit_pending = 1;
