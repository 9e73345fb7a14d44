-- Second factors: authenticator apps (TOTP). The secret is sealed with the key ring (AEAD, key
-- outside the database), bound to the account; last_step is the last accepted TOTP step, so
-- that a code is accepted once. An enrolment waits unconfirmed until its first code.
CREATE TABLE second_factors (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id      INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    kind            TEXT    NOT NULL CHECK (kind IN ('totp')),
    name            TEXT    NOT NULL,
    sealed          BLOB    NOT NULL,
    sealed_key      TEXT    NOT NULL,
    last_step       INTEGER,
    created_at      INTEGER NOT NULL,
    confirmed_at    INTEGER,
    last_used_at    INTEGER
);
CREATE INDEX second_factors_account ON second_factors (account_id);

-- Ten single-use codes per batch, stored as digests; a new batch deletes the old one.
CREATE TABLE recovery_codes (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id      INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    code_hash       BLOB    NOT NULL,
    created_at      INTEGER NOT NULL,
    used_at         INTEGER
);
CREATE INDEX recovery_codes_account ON recovery_codes (account_id);

-- A sign-in between its correct password and its second step (browser cookie or API ticket).
CREATE TABLE second_factor_tickets (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash      BLOB    NOT NULL UNIQUE,
    account_id      INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    channel         TEXT    NOT NULL CHECK (channel IN ('browser', 'api')),
    client_name     TEXT,
    ip              TEXT,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    used_at         INTEGER
);
CREATE INDEX second_factor_tickets_account ON second_factor_tickets (account_id);
