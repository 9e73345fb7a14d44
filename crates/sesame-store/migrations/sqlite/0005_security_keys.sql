-- Security keys and passkeys (WebAuthn) beside the authenticator apps. A key's row seals its
-- credential (public key, counter, flags) like an app's secret; credential_id, the
-- authenticator's own identifier, is unique across accounts so that one key never answers for
-- two. SQLite cannot alter a CHECK constraint: the table is rebuilt, rows kept.
CREATE TABLE second_factors_new (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id      INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    kind            TEXT    NOT NULL CHECK (kind IN ('totp', 'webauthn')),
    name            TEXT    NOT NULL,
    sealed          BLOB    NOT NULL,
    sealed_key      TEXT    NOT NULL,
    last_step       INTEGER,
    created_at      INTEGER NOT NULL,
    confirmed_at    INTEGER,
    last_used_at    INTEGER,
    credential_id   BLOB    UNIQUE
);
INSERT INTO second_factors_new (id, account_id, kind, name, sealed, sealed_key, last_step, created_at, confirmed_at, last_used_at)
    SELECT id, account_id, kind, name, sealed, sealed_key, last_step, created_at, confirmed_at, last_used_at FROM second_factors;
DROP TABLE second_factors;
ALTER TABLE second_factors_new RENAME TO second_factors;
CREATE INDEX second_factors_account ON second_factors (account_id);

-- The live challenge of a key's ceremony (a sign-in's second step, or proving a key before a
-- removal): the crate's state (the random challenge and the public keys allowed: nothing
-- secret), one per account (a new one replaces it), used once.
CREATE TABLE key_challenges (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id      INTEGER NOT NULL UNIQUE REFERENCES accounts (id) ON DELETE CASCADE,
    state           TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL
);
