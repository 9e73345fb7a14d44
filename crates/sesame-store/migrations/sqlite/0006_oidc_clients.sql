-- OpenID Connect clients: the portal's services that sign people in through Sésame. The
-- client_id is random and public; a confidential client's secret is kept as its SHA-256 digest
-- only (a random 256-bit value, shown once). Lists of URIs are JSON arrays, compared exactly.
CREATE TABLE oidc_clients (
    id                          INTEGER PRIMARY KEY AUTOINCREMENT,
    client_id                   TEXT    NOT NULL UNIQUE,
    name                        TEXT    NOT NULL,
    kind                        TEXT    NOT NULL CHECK (kind IN ('confidential', 'public')),
    redirect_uris               TEXT    NOT NULL,
    post_logout_redirect_uris   TEXT    NOT NULL,
    backchannel_logout_uri      TEXT,
    first_party                 INTEGER NOT NULL,
    require_second_factor       INTEGER NOT NULL,
    require_pkce                INTEGER NOT NULL,
    secret_digest               BLOB,
    created_at                  INTEGER NOT NULL,
    secret_rotated_at           INTEGER,
    CHECK ((kind = 'public') = (secret_digest IS NULL))
);
