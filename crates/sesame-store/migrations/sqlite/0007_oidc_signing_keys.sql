-- The OpenID Connect provider's token-signing keys. The private key (PKCS#8) is sealed under the
-- key ring, bound to its kid (the RFC 7638 thumbprint of the public key), like every secret that
-- is read back. A key is published in the JWK Set from created_at and signs from active_from,
-- until a newer key of its algorithm does; it is then kept until the tokens it signed expired.
CREATE TABLE oidc_signing_keys (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    kid         TEXT    NOT NULL UNIQUE,
    alg         TEXT    NOT NULL CHECK (alg IN ('ES256', 'RS256')),
    sealed      BLOB    NOT NULL,
    sealed_key  TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    active_from INTEGER NOT NULL
);
