-- Version 8: groups that govern. Policies (which models and characters a
-- scope may use, and how much), API keys scoped to chat, and refused
-- requests counted in the usage rollups.

-- An API key opens everything (`admin`, as every key did before) or only
-- the chat routes (`chat`).
ALTER TABLE api_keys ADD COLUMN scope TEXT NOT NULL DEFAULT 'admin' CHECK (scope IN ('admin', 'chat'));

-- One policy per scope: 'everyone', 'tag:NAME', 'user:ID' or 'key:ID'.
-- `models` and `characters` are JSON arrays of what the scope opens, NULL
-- when it restricts nothing; `limits` a JSON array of
-- {metric, window, max, per}; `requires_user` applies to key scopes.
CREATE TABLE policies (
    scope          TEXT    PRIMARY KEY,
    models         TEXT,
    characters     TEXT,
    limits         TEXT    NOT NULL DEFAULT '[]',
    requires_user  INTEGER NOT NULL DEFAULT 0 CHECK (requires_user IN (0, 1)),
    updated_at     INTEGER NOT NULL
) WITHOUT ROWID;

-- A user's policy goes with them.
CREATE TRIGGER policies_of_deleted_users AFTER DELETE ON users BEGIN
    DELETE FROM policies WHERE scope = 'user:' || old.id;
END;

-- Requests refused by a policy (a model not open, a limit reached): never
-- sent upstream, counted apart from `requests`.
ALTER TABLE usage_rollups ADD COLUMN refused INTEGER NOT NULL DEFAULT 0;

-- Usage per user and API key (0: none) in short slots: a minute's (span 1)
-- kept an hour, a quarter of an hour's (span 15) kept a month, `slot` its
-- start in minutes since the Unix epoch. Limits' counters of the windows
-- that start within a day (a minute, an hour, a day at a local midnight
-- other than UTC's) are rebuilt from them at start, however the chats were
-- recorded (a continued chat is one chat log, and chat logs may be purged or
-- not kept).
CREATE TABLE usage_slots (
    span         INTEGER NOT NULL CHECK (span IN (1, 15)),
    slot         INTEGER NOT NULL,
    user_id      INTEGER NOT NULL,
    api_key_id   INTEGER NOT NULL,
    requests     INTEGER NOT NULL,
    tokens       INTEGER NOT NULL,
    cost_micros  INTEGER NOT NULL,
    PRIMARY KEY (span, slot, user_id, api_key_id)
) WITHOUT ROWID;
