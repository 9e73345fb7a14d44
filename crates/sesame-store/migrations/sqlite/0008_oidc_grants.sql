-- What a person let a service have (consent, per client and scopes, revocable from "Mon
-- compte"), and the authorization codes: single use, 60 seconds, stored as the SHA-256 digest of
-- a random 256-bit value. A code keeps what the tokens it is exchanged for will say: who, how
-- and when they signed in (auth_time, auth_method), from which browser session (sid), the
-- scopes, the nonce and the PKCE challenge.
CREATE TABLE oidc_consents (
    account_id      INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    client_id       TEXT    NOT NULL REFERENCES oidc_clients (client_id) ON DELETE CASCADE,
    scopes          TEXT    NOT NULL,
    granted_at      INTEGER NOT NULL,
    PRIMARY KEY (account_id, client_id)
);

CREATE TABLE oidc_codes (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    code_hash       BLOB    NOT NULL UNIQUE,
    client_id       TEXT    NOT NULL REFERENCES oidc_clients (client_id) ON DELETE CASCADE,
    account_id      INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    session_id      INTEGER NOT NULL,
    redirect_uri    TEXT    NOT NULL,
    scopes          TEXT    NOT NULL,
    nonce           TEXT,
    code_challenge  TEXT,
    auth_time       INTEGER NOT NULL,
    auth_method     TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    used_at         INTEGER
);
CREATE INDEX oidc_codes_expiry ON oidc_codes (expires_at);
