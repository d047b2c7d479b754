-- Version 3: the web admin's accounts and their server-side sessions.

-- password_hash is a PHC string (argon2id).
CREATE TABLE admins (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    email          TEXT    NOT NULL UNIQUE,
    password_hash  TEXT    NOT NULL,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);

-- Only the SHA-256 of a session id is stored: a copy of the database does
-- not let anyone log in. The CSRF token is bound to the session.
CREATE TABLE admin_sessions (
    id_hash       BLOB    PRIMARY KEY,
    admin_id      INTEGER NOT NULL REFERENCES admins(id) ON DELETE CASCADE,
    csrf_token    TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    last_seen_at  INTEGER NOT NULL
) WITHOUT ROWID;

CREATE INDEX admin_sessions_by_admin ON admin_sessions(admin_id);
