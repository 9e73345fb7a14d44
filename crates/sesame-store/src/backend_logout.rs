// The back-channel logout queue (`sesame_core::store::LogoutNoticeStore`), included by
// `backend.rs`. Notices are written by the statements below, run by `Tx::revoke_session`,
// `revoke_other_sessions` and `revoke_all_access` before they end the sessions: one per service
// with a back-channel logout URI that holds tokens of a session still open, whatever the state
// of those tokens (the service's own session may outlive them).

use sesame_core::store::{LogoutNotice, LogoutNoticeStore};

/// For one session: binds `$1` now, `$2` the session, `$3` the account.
const NOTICE_SESSION: &str = concat!(
    "INSERT INTO oidc_logout_notices (client_id, account_id, session_id, created_at, next_attempt_at)",
    " SELECT DISTINCT t.client_id, t.account_id, t.session_id, $1, $1 FROM oidc_tokens t",
    " JOIN oidc_clients c ON c.client_id = t.client_id JOIN sessions s ON s.id = t.session_id",
    " WHERE t.session_id = $2 AND t.account_id = $3 AND s.revoked_at IS NULL AND c.backchannel_logout_uri IS NOT NULL",
    " ON CONFLICT (client_id, session_id) DO NOTHING"
);

/// For every session of the account but one: `$1` now, `$2` the account, `$3` the one kept.
const NOTICE_OTHER_SESSIONS: &str = concat!(
    "INSERT INTO oidc_logout_notices (client_id, account_id, session_id, created_at, next_attempt_at)",
    " SELECT DISTINCT t.client_id, t.account_id, t.session_id, $1, $1 FROM oidc_tokens t",
    " JOIN oidc_clients c ON c.client_id = t.client_id JOIN sessions s ON s.id = t.session_id",
    " WHERE t.account_id = $2 AND t.session_id <> $3 AND s.revoked_at IS NULL AND c.backchannel_logout_uri IS NOT NULL",
    " ON CONFLICT (client_id, session_id) DO NOTHING"
);

/// For every session of the account: `$1` now, `$2` the account.
const NOTICE_ALL_SESSIONS: &str = concat!(
    "INSERT INTO oidc_logout_notices (client_id, account_id, session_id, created_at, next_attempt_at)",
    " SELECT DISTINCT t.client_id, t.account_id, t.session_id, $1, $1 FROM oidc_tokens t",
    " JOIN oidc_clients c ON c.client_id = t.client_id JOIN sessions s ON s.id = t.session_id",
    " WHERE t.account_id = $2 AND s.revoked_at IS NULL AND c.backchannel_logout_uri IS NOT NULL",
    " ON CONFLICT (client_id, session_id) DO NOTHING"
);

#[derive(sqlx::FromRow)]
struct LogoutNoticeRow {
    id: i64,
    client_id: String,
    account_id: i64,
    session_id: i64,
    attempts: i64,
    created_at: i64,
}

impl From<LogoutNoticeRow> for LogoutNotice {
    fn from(r: LogoutNoticeRow) -> Self {
        Self {
            id: r.id,
            client_id: r.client_id,
            account: AccountId(r.account_id),
            session: SessionId(r.session_id),
            attempts: u32::try_from(r.attempts).unwrap_or(u32::MAX),
            created_at: sesame_core::clock::from_unix_millis(r.created_at),
        }
    }
}

#[async_trait]
impl LogoutNoticeStore for SqlStore {
    async fn claim_logout_notices(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<LogoutNotice>> {
        let mut rows = sqlx::query_as::<_, LogoutNoticeRow>(CLAIM_LOGOUT)
            .bind(to_unix_millis(lease_until))
            .bind(to_unix_millis(now))
            .bind(i64::from(limit))
            .fetch_all(&mut *self.writer.acquire().await?)
            .await
            .map_err(map_err)?;
        rows.sort_by_key(|r| r.id);
        Ok(rows.into_iter().map(LogoutNotice::from).collect())
    }

    async fn logout_notice_delivered(&self, id: i64, now: OffsetDateTime) -> StoreResult<()> {
        let statement = sqlx::query(
            "UPDATE oidc_logout_notices SET delivered_at = $1, claimed_until = NULL, last_error = NULL WHERE id = $2",
        )
        .bind(to_unix_millis(now))
        .bind(id);
        self.writer.run(move |conn| Box::pin(statement.execute(conn))).await?;
        Ok(())
    }

    async fn reschedule_logout_notice(&self, id: i64, next_attempt_at: OffsetDateTime, error: &str) -> StoreResult<()> {
        let statement = sqlx::query(
            "UPDATE oidc_logout_notices SET next_attempt_at = $1, claimed_until = NULL, last_error = $2 WHERE id = $3",
        )
        .bind(to_unix_millis(next_attempt_at))
        .bind(error.to_owned())
        .bind(id);
        self.writer.run(move |conn| Box::pin(statement.execute(conn))).await?;
        Ok(())
    }

    async fn pending_logout_notices(&self) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM oidc_logout_notices WHERE delivered_at IS NULL")
            .fetch_one(&mut *self.readers.acquire().await?)
            .await
            .map_err(map_err)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}
