-- How a client's ID tokens are signed (OpenID Connect Registration's
-- id_token_signed_response_alg): RS256, which every relying party accepts, unless the client was
-- registered with ES256. Existing clients keep RS256. Only adds a column with a default: nodes of
-- the previous release, which neither read nor write it, can share the database.
ALTER TABLE oidc_clients ADD COLUMN id_token_alg TEXT NOT NULL DEFAULT 'RS256'
    CHECK (id_token_alg IN ('RS256', 'ES256'));
