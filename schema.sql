-- mindgate's schema. Applied as a whole to a new database; later changes
-- go in as ordered migrations in src/db/migrations/ (providers and the model
-- catalog are there), tracked with
-- PRAGMA user_version. Times are milliseconds since the Unix epoch (UTC).

CREATE TABLE users (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    email       TEXT    NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL
);

CREATE TABLE user_tags (
    user_id   INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    position  INTEGER NOT NULL,
    tag       TEXT    NOT NULL,
    PRIMARY KEY (user_id, position),
    UNIQUE (user_id, tag)
) WITHOUT ROWID;

CREATE INDEX user_tags_by_tag ON user_tags(tag, user_id);

CREATE TABLE characters (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    id             TEXT    NOT NULL UNIQUE,
    title          TEXT    NOT NULL,
    description    TEXT    NOT NULL DEFAULT '',
    instruction    TEXT    NOT NULL,
    default_model  TEXT,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);

CREATE TABLE api_keys (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT    NOT NULL,
    prefix        TEXT    NOT NULL,
    key_hash      BLOB    NOT NULL UNIQUE,
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER,
    revoked_at    INTEGER
);

CREATE TABLE chat_logs (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    chat_id            TEXT    NOT NULL UNIQUE,
    chat_title         TEXT    NOT NULL,
    created_at         INTEGER NOT NULL,
    recorded_at        INTEGER NOT NULL,
    conversation_text  TEXT    NOT NULL,
    model              TEXT,
    provider           TEXT,
    character_id       TEXT,
    user_id            INTEGER REFERENCES users(id) ON DELETE SET NULL,
    api_key_id         INTEGER REFERENCES api_keys(id) ON DELETE SET NULL,
    prompt_tokens      INTEGER,
    completion_tokens  INTEGER,
    status             TEXT    NOT NULL DEFAULT 'ok' CHECK (status IN ('ok', 'error', 'cancelled')),
    error_message      TEXT,
    latency_ms         INTEGER,
    ttft_ms            INTEGER
);

CREATE INDEX chat_logs_by_recorded_at ON chat_logs(recorded_at, id);
CREATE INDEX chat_logs_by_user ON chat_logs(user_id, recorded_at);

CREATE TABLE settings (
    key         TEXT PRIMARY KEY,
    value       TEXT NOT NULL,
    updated_at  INTEGER NOT NULL
) WITHOUT ROWID;
