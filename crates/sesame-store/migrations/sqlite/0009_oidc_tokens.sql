-- The tokens a code is exchanged for: opaque, 256 random bits, stored as their SHA-256 digest.
-- The tokens of one code exchange and of its refreshes form a family, named by the code's id
-- (code_id; codes are numbered and never renumbered): a replayed code or a refresh token
-- presented twice revokes the whole family. Each row repeats what its tokens say (account,
-- browser session, scopes, how and when the person signed in). An `offline` family
-- (offline_access) outlives the browser session; the others end with it.
CREATE TABLE oidc_tokens (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash      BLOB    NOT NULL UNIQUE,
    kind            TEXT    NOT NULL CHECK (kind IN ('access', 'refresh')),
    code_id         INTEGER NOT NULL,
    client_id       TEXT    NOT NULL REFERENCES oidc_clients (client_id) ON DELETE CASCADE,
    account_id      INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    session_id      INTEGER NOT NULL,
    offline         INTEGER NOT NULL,
    scopes          TEXT    NOT NULL,
    auth_time       INTEGER NOT NULL,
    auth_method     TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    used_at         INTEGER,
    revoked_at      INTEGER
);
CREATE INDEX oidc_tokens_family ON oidc_tokens (code_id);
CREATE INDEX oidc_tokens_account ON oidc_tokens (account_id);
CREATE INDEX oidc_tokens_session ON oidc_tokens (session_id);
CREATE INDEX oidc_tokens_expiry ON oidc_tokens (expires_at);
