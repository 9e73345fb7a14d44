-- OpenID Connect Back-Channel Logout: when a browser session ends, each service with a
-- back-channel logout URI that was given tokens in it is owed a logout token. The notice is
-- queued in the transaction that ends the session (so none is lost, and none is sent for a
-- session that did not end), then delivered by a worker like the outbox: claimed with a lease,
-- retried with backoff until the service accepts it. One per service and session.
-- The logout token itself is signed when it is sent, not stored: only which session ended.
-- No foreign key to the account: a notice outlives the account it was about.
CREATE TABLE oidc_logout_notices (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    client_id       TEXT    NOT NULL REFERENCES oidc_clients (client_id) ON DELETE CASCADE,
    account_id      INTEGER NOT NULL,
    session_id      INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    claimed_until   INTEGER,
    attempts        INTEGER NOT NULL DEFAULT 0,
    delivered_at    INTEGER,
    last_error      TEXT,
    UNIQUE (client_id, session_id)
);
CREATE INDEX oidc_logout_notices_due ON oidc_logout_notices (next_attempt_at) WHERE delivered_at IS NULL;
