-- Sésame schema, SQLite. Times are Unix epoch milliseconds (UTC); secrets are SHA-256 digests.
-- The PostgreSQL tree holds the same schema; change both together, append-only.

CREATE TABLE accounts (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    identifier      TEXT    NOT NULL,
    identifier_key  TEXT    NOT NULL CONSTRAINT accounts_identifier_key_key UNIQUE,
    email           TEXT    NOT NULL,
    email_key       TEXT    NOT NULL CONSTRAINT accounts_email_key_key UNIQUE,
    first_name      TEXT    NOT NULL,
    last_name       TEXT    NOT NULL,
    national_id     TEXT             CONSTRAINT accounts_national_id_key UNIQUE, -- idNat_PS form
    status          TEXT    NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);

-- The current password; temporary_until is set while it is a temporary one.
CREATE TABLE password_credentials (
    account_id      INTEGER PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    phc             TEXT    NOT NULL,
    temporary_until INTEGER,
    changed_at      INTEGER NOT NULL,
    compromised     INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE password_history (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id      INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    phc             TEXT    NOT NULL,
    temporary       INTEGER NOT NULL,
    created_at      INTEGER NOT NULL
);
CREATE INDEX password_history_account ON password_history (account_id, id);

-- Browser sessions. auth_method records how the user authenticated (password, certificate).
CREATE TABLE sessions (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash           BLOB    NOT NULL UNIQUE,
    account_id           INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    auth_method          TEXT    NOT NULL,
    must_change_password INTEGER NOT NULL DEFAULT 0,
    csrf_secret          BLOB,
    ip                   TEXT,
    user_agent           TEXT,
    created_at           INTEGER NOT NULL,
    last_seen_at         INTEGER NOT NULL,
    idle_expires_at      INTEGER NOT NULL,
    absolute_expires_at  INTEGER NOT NULL,
    revoked_at           INTEGER
);
CREATE INDEX sessions_account ON sessions (account_id);

-- Tokens of desktop applications: access, refresh (rotating, by family), change tickets.
CREATE TABLE api_tokens (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash      BLOB    NOT NULL UNIQUE,
    account_id      INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    kind            TEXT    NOT NULL CHECK (kind IN ('access', 'refresh', 'change_ticket')),
    family          TEXT    NOT NULL,
    client_name     TEXT,
    auth_method     TEXT    NOT NULL,
    ip              TEXT,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    used_at         INTEGER,
    revoked_at      INTEGER
);
CREATE INDEX api_tokens_account ON api_tokens (account_id);
CREATE INDEX api_tokens_family ON api_tokens (family);

-- "Mot de passe oublié" links.
CREATE TABLE reset_tokens (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash      BLOB    NOT NULL UNIQUE,
    account_id      INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    used_at         INTEGER,
    revoked_at      INTEGER
);
CREATE INDEX reset_tokens_account ON reset_tokens (account_id, created_at);

-- Failed sign-ins per identifier, known or not; shared by pages, API and every node.
CREATE TABLE login_throttle (
    identifier_key       TEXT    PRIMARY KEY,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    window_started_at    INTEGER NOT NULL,
    window_failures      INTEGER NOT NULL DEFAULT 0,
    blocked_until        INTEGER,
    updated_at           INTEGER NOT NULL
);

-- Fixed-window counters (per client address and action, per account and action).
CREATE TABLE rate_limits (
    bucket          TEXT    PRIMARY KEY,
    window_started_at INTEGER NOT NULL,
    hits            INTEGER NOT NULL
);

CREATE TABLE captcha_challenges (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    challenge_hash  BLOB    NOT NULL UNIQUE,
    answer_hash     BLOB    NOT NULL,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    used_at         INTEGER
);

-- Client certificates pinned to an account by fingerprint.
CREATE TABLE certificate_bindings (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id      INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    fingerprint     TEXT    NOT NULL UNIQUE, -- SHA-256 of the DER, hex
    subject         TEXT    NOT NULL,
    created_at      INTEGER NOT NULL
);

-- Transactional outbox: written with the change that causes the e-mail, delivered by a worker.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id      INTEGER  REFERENCES accounts (id) ON DELETE SET NULL,
    kind            TEXT    NOT NULL,
    recipient       TEXT    NOT NULL,
    recipient_name  TEXT    NOT NULL,
    payload         TEXT    NOT NULL, -- JSON; secrets are replaced once sent
    created_at      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    claimed_until   INTEGER,
    last_error      TEXT,
    sent_at         INTEGER
);
CREATE INDEX outbox_due ON outbox (sent_at, next_attempt_at);

CREATE TABLE audit_events (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    occurred_at     INTEGER NOT NULL,
    action          TEXT    NOT NULL,
    outcome         TEXT    NOT NULL,
    actor           TEXT    NOT NULL,
    account_id      INTEGER REFERENCES accounts (id) ON DELETE SET NULL,
    ip              TEXT,
    user_agent      TEXT,
    details         TEXT    NOT NULL DEFAULT 'null' -- JSON
);
CREATE INDEX audit_events_time ON audit_events (occurred_at);
CREATE INDEX audit_events_account ON audit_events (account_id, occurred_at);
