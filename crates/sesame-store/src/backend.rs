// The Store implementation shared by both backends. Not a module: `sqlite.rs` and `postgres.rs`
// each `include!` it after defining `DB` (the sqlx driver), `NAME`, `BEGIN_WRITE`,
// `ACCOUNT_FOR_UPDATE`, `CLAIM_MAIL`, the `Readers` and the `Writer` that lend out connections,
// and the inherent methods `migrate_impl`, `backup_impl` and `compact_impl`.
// Every statement uses `$n` placeholders, which both drivers accept.

use async_trait::async_trait;
use sesame_core::audit::{AuditEvent, AuditFilter, AuditRecord};
use sesame_core::clock::to_unix_millis;
use sesame_core::keys::{KeyRing, Sealer};
use sesame_core::mail::{MailMessage, OutboxMail, QueuedMail};
use sesame_core::model::{Account, AccountFilter, AccountId, AccountStatus, NewAccount, PasswordCredential};
use sesame_core::session::{ApiToken, NewApiToken, NewSession, Session, SessionId, ThrottleState, TokenKind};
use sesame_core::store::{Purged, Reseal, Resealed, Store, StoreError, StoreResult, Tx};
use std::path::Path;
use time::{Duration, OffsetDateTime};

use crate::rows::{self, AccountRow, ApiTokenRow, AuditRow, CredentialRow, OutboxRow, SessionRow, ThrottleRow};

use crate::{account_select, map_err};

/// The store: [`Readers`] for reads, a [`Writer`] for every write.
///
/// On PostgreSQL both are the one sqlx pool. On SQLite, which admits one writer at a time, the
/// writer is a single connection lent out in turn: writers queue, in order, instead of each
/// taking a connection and then polling for the database lock (SQLite's busy handler sleeps
/// between attempts, which made a write-heavy page spend its time asleep). Readers never wait
/// for it (WAL), and their connections are `query_only`, so a write sent to the wrong place
/// fails in the tests rather than contending in production. Neither is an sqlx pool on SQLite:
/// a pool tests every connection it takes back with a round trip to the connection's thread,
/// which a local file does not need.
#[derive(Debug, Clone)]
pub struct SqlStore {
    readers: Readers,
    writer: Writer,
    /// Seals what must be read back and never rest in clear (see `sesame_core::keys`).
    sealer: Sealer,
}

/// One write transaction on the writer's connection; rolled back when dropped uncommitted.
///
/// It drives the driver's transaction manager itself because the connection is not always a
/// pool's (on SQLite it is the writer's own); `Drop` queues the rollback exactly as
/// `sqlx::Transaction` does, so the next user of the connection finds it clean.
pub struct SqlTx {
    conn: WriterConn,
    open: bool,
    /// Audit events appended so far: logged once they are committed.
    events: Vec<AuditEvent>,
    sealer: Sealer,
}

impl std::fmt::Debug for SqlTx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlTx").field("open", &self.open).finish_non_exhaustive()
    }
}

impl Drop for SqlTx {
    fn drop(&mut self) {
        if self.open {
            <<DB as sqlx::Database>::TransactionManager as sqlx_core::transaction::TransactionManager>::start_rollback(&mut self.conn);
        }
    }
}

impl SqlStore {
    async fn begin_tx(&self) -> StoreResult<SqlTx> {
        let mut conn = self.writer.acquire().await?;
        <<DB as sqlx::Database>::TransactionManager as sqlx_core::transaction::TransactionManager>::begin(
            &mut conn,
            Some(sqlx::SqlSafeStr::into_sql_str(BEGIN_WRITE)),
        )
        .await
        .map_err(map_err)?;
        Ok(SqlTx { conn, open: true, events: Vec::new(), sealer: self.sealer.clone() })
    }
}

impl SqlTx {
    async fn finish(&mut self) -> StoreResult<()> {
        <<DB as sqlx::Database>::TransactionManager as sqlx_core::transaction::TransactionManager>::commit(&mut self.conn)
            .await
            .map_err(map_err)?;
        self.open = false;
        for event in self.events.drain(..) {
            event.log();
        }
        Ok(())
    }
}

fn json(value: &impl serde::Serialize) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Database(format!("cannot encode JSON: {e}")))
}

/// The one statement that records an audit event, in a transaction or on its own.
fn insert_audit(
    e: &AuditEvent,
    now: OffsetDateTime,
) -> StoreResult<sqlx::query::Query<'static, DB, <DB as sqlx::Database>::Arguments>> {
    Ok(sqlx::query(concat!(
        "INSERT INTO audit_events (occurred_at, action, outcome, actor, account_id, ip, user_agent, details, request_id)",
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    ))
    .bind(to_unix_millis(now))
    .bind(e.action.as_str())
    .bind(e.outcome.as_str())
    .bind(e.context.actor.to_string())
    .bind(e.account_id.map(|a| a.0))
    .bind(e.context.ip.clone())
    .bind(e.context.user_agent.clone())
    .bind(json(&e.details)?)
    .bind(e.context.request_id.clone()))
}

#[async_trait]
impl Store for SqlStore {
    async fn begin(&self) -> StoreResult<Box<dyn Tx>> {
        Ok(Box::new(self.begin_tx().await?))
    }

    fn backend(&self) -> &'static str {
        NAME
    }

    async fn migrate(&self) -> StoreResult<()> {
        self.migrate_impl().await?;
        // What an older version queued in clear is sealed as soon as this one can.
        let sealed = self.reseal_secrets(Reseal::ClearOnly).await?;
        if sealed.resealed > 0 {
            tracing::info!(sealed = sealed.resealed, "secrets of queued e-mails sealed");
        }
        Ok(())
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&mut *self.readers.acquire().await?).await.map_err(map_err)?;
        Ok(())
    }

    async fn account_by_id(&self, id: AccountId) -> StoreResult<Option<Account>> {
        let row = sqlx::query_as::<_, AccountRow>(concat!(account_select!(), " WHERE id = $1"))
            .bind(id.0)
            .fetch_optional(&mut *self.readers.acquire().await?)
            .await
            .map_err(map_err)?;
        row.map(Account::try_from).transpose()
    }

    async fn account_by_identifier_key(&self, key: &str) -> StoreResult<Option<Account>> {
        let row = sqlx::query_as::<_, AccountRow>(concat!(account_select!(), " WHERE identifier_key = $1"))
            .bind(key)
            .fetch_optional(&mut *self.readers.acquire().await?)
            .await
            .map_err(map_err)?;
        row.map(Account::try_from).transpose()
    }

    async fn account_by_email_key(&self, key: &str) -> StoreResult<Option<Account>> {
        let row = sqlx::query_as::<_, AccountRow>(concat!(account_select!(), " WHERE email_key = $1"))
            .bind(key)
            .fetch_optional(&mut *self.readers.acquire().await?)
            .await
            .map_err(map_err)?;
        row.map(Account::try_from).transpose()
    }

    async fn list_accounts(&self, filter: &AccountFilter) -> StoreResult<Vec<Account>> {
        let pattern = filter.search.as_ref().map(|s| format!("%{}%", s.trim().to_lowercase()));
        let rows = sqlx::query_as::<_, AccountRow>(concat!(
            account_select!(),
            " WHERE ($1 IS NULL OR status = $1)",
            " AND ($2 IS NULL OR identifier_key LIKE $2 OR email_key LIKE $2",
            "      OR lower(first_name) LIKE $2 OR lower(last_name) LIKE $2)",
            " ORDER BY identifier_key LIMIT $3"
        ))
        .bind(filter.status.map(AccountStatus::as_str))
        .bind(pattern)
        .bind(filter.limit.map_or(i64::MAX, i64::from))
        .fetch_all(&mut *self.readers.acquire().await?)
        .await
        .map_err(map_err)?;
        rows::accounts(rows)
    }

    async fn account_by_national_id(&self, id_nat_ps: &str) -> StoreResult<Option<Account>> {
        let row = sqlx::query_as::<_, AccountRow>(concat!(account_select!(), " WHERE national_id = $1"))
            .bind(id_nat_ps)
            .fetch_optional(&mut *self.readers.acquire().await?)
            .await
            .map_err(map_err)?;
        row.map(Account::try_from).transpose()
    }

    async fn account_by_certificate(&self, fingerprint: &str) -> StoreResult<Option<Account>> {
        let row = sqlx::query_as::<_, AccountRow>(concat!(
            account_select!(),
            " WHERE id = (SELECT account_id FROM certificate_bindings WHERE fingerprint = $1)"
        ))
        .bind(fingerprint)
        .fetch_optional(&mut *self.readers.acquire().await?)
        .await
        .map_err(map_err)?;
        row.map(Account::try_from).transpose()
    }

    async fn certificates_of(&self, account: AccountId) -> StoreResult<Vec<(String, String)>> {
        sqlx::query_as::<_, (String, String)>("SELECT fingerprint, subject FROM certificate_bindings WHERE account_id = $1 ORDER BY id")
            .bind(account.0)
            .fetch_all(&mut *self.readers.acquire().await?)
            .await
            .map_err(map_err)
    }

    async fn password_credential(&self, id: AccountId) -> StoreResult<Option<PasswordCredential>> {
        let row = sqlx::query_as::<_, CredentialRow>(
            "SELECT phc, temporary_until, changed_at FROM password_credentials WHERE account_id = $1",
        )
        .bind(id.0)
        .fetch_optional(&mut *self.readers.acquire().await?)
        .await
        .map_err(map_err)?;
        Ok(row.map(PasswordCredential::from))
    }

    async fn audit_events(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditRecord>> {
        let rows = sqlx::query_as::<_, AuditRow>(concat!(
            "SELECT e.id, e.occurred_at, e.action, e.outcome, e.actor, e.account_id,",
            "       a.identifier AS account_identifier, e.ip, e.user_agent, e.details, e.request_id",
            " FROM audit_events e LEFT JOIN accounts a ON a.id = e.account_id",
            " WHERE ($1 IS NULL OR e.account_id = $1)",
            " AND ($2 IS NULL OR e.occurred_at >= $2) AND ($3 IS NULL OR e.occurred_at < $3)",
            " ORDER BY e.id LIMIT $4"
        ))
        .bind(filter.account_id.map(|a| a.0))
        .bind(filter.since.map(to_unix_millis))
        .bind(filter.until.map(to_unix_millis))
        .bind(filter.limit.map_or(i64::MAX, i64::from))
        .fetch_all(&mut *self.readers.acquire().await?)
        .await
        .map_err(map_err)?;
        Ok(rows.into_iter().map(AuditRecord::from).collect())
    }

    async fn password_history(&self, id: AccountId, limit: u32) -> StoreResult<Vec<String>> {
        sqlx::query_scalar("SELECT phc FROM password_history WHERE account_id = $1 ORDER BY id DESC LIMIT $2")
            .bind(id.0)
            .bind(i64::from(limit))
            .fetch_all(&mut *self.readers.acquire().await?)
            .await
            .map_err(map_err)
    }

    async fn session_by_token_hash(
        &self,
        token_hash: &[u8],
        now: OffsetDateTime,
    ) -> StoreResult<Option<(Session, Account)>> {
        let row = sqlx::query_as::<_, rows::SignedInRow>(concat!(
            "SELECT s.id, s.account_id, s.auth_method, s.must_change_password, s.ip, s.user_agent, s.created_at,",
            " s.last_seen_at, s.idle_expires_at, s.absolute_expires_at, a.identifier, a.email, a.first_name,",
            " a.last_name, a.national_id, a.status, a.created_at AS account_created_at,",
            " a.updated_at AS account_updated_at",
            " FROM sessions s JOIN accounts a ON a.id = s.account_id",
            " WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.idle_expires_at > $2 AND s.absolute_expires_at > $2"
        ))
        .bind(token_hash)
        .bind(to_unix_millis(now))
        .fetch_optional(&mut *self.readers.acquire().await?)
        .await
        .map_err(map_err)?;
        row.map(rows::SignedInRow::split).transpose()
    }

    async fn touch_session(&self, id: SessionId, now: OffsetDateTime, idle_expires_at: OffsetDateTime) -> StoreResult<()> {
        let statement = sqlx::query(concat!(
            "UPDATE sessions SET last_seen_at = $1,",
            " idle_expires_at = CASE WHEN $2 < absolute_expires_at THEN $2 ELSE absolute_expires_at END",
            " WHERE id = $3 AND revoked_at IS NULL"
        ))
        .bind(to_unix_millis(now))
        .bind(to_unix_millis(idle_expires_at))
        .bind(id.0);
        self.writer.run(move |conn| Box::pin(statement.execute(conn))).await?;
        Ok(())
    }

    async fn sessions_of(&self, account: AccountId, now: OffsetDateTime) -> StoreResult<Vec<Session>> {
        let rows = sqlx::query_as::<_, SessionRow>(concat!(
            "SELECT id, account_id, auth_method, must_change_password, ip, user_agent, created_at, last_seen_at,",
            " idle_expires_at, absolute_expires_at FROM sessions",
            " WHERE account_id = $1 AND revoked_at IS NULL AND idle_expires_at > $2 AND absolute_expires_at > $2",
            " ORDER BY id DESC"
        ))
        .bind(account.0)
        .bind(to_unix_millis(now))
        .fetch_all(&mut *self.readers.acquire().await?)
        .await
        .map_err(map_err)?;
        rows.into_iter().map(Session::try_from).collect()
    }

    async fn reset_token_account(&self, token_hash: &[u8], now: OffsetDateTime) -> StoreResult<Option<AccountId>> {
        let id: Option<i64> = sqlx::query_scalar(concat!(
            "SELECT account_id FROM reset_tokens",
            " WHERE token_hash = $1 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $2"
        ))
        .bind(token_hash)
        .bind(to_unix_millis(now))
        .fetch_optional(&mut *self.readers.acquire().await?)
        .await
        .map_err(map_err)?;
        Ok(id.map(AccountId))
    }

    async fn account_and_reset_links_since(
        &self,
        identifier_key: &str,
        since: OffsetDateTime,
    ) -> StoreResult<Option<(Account, u32)>> {
        let row = sqlx::query_as::<_, rows::AccountWithCountRow>(concat!(
            "SELECT ",
            crate::account_columns!(),
            ", (SELECT COUNT(*) FROM reset_tokens r WHERE r.account_id = accounts.id AND r.created_at >= $2) AS count",
            " FROM accounts WHERE identifier_key = $1"
        ))
        .bind(identifier_key)
        .bind(to_unix_millis(since))
        .fetch_optional(&mut *self.readers.acquire().await?)
        .await
        .map_err(map_err)?;
        row.map(rows::AccountWithCountRow::split).transpose()
    }

    async fn api_token(&self, token_hash: &[u8], kind: TokenKind) -> StoreResult<Option<ApiToken>> {
        let row = sqlx::query_as::<_, ApiTokenRow>(concat!(
            "SELECT id, account_id, kind, family, client_name, auth_method, ip, created_at, expires_at, used_at, revoked_at",
            " FROM api_tokens WHERE token_hash = $1 AND kind = $2"
        ))
        .bind(token_hash)
        .bind(kind.as_str())
        .fetch_optional(&mut *self.readers.acquire().await?)
        .await
        .map_err(map_err)?;
        row.map(ApiToken::try_from).transpose()
    }

    async fn api_sessions_of(&self, account: AccountId, now: OffsetDateTime) -> StoreResult<Vec<ApiToken>> {
        let rows = sqlx::query_as::<_, ApiTokenRow>(concat!(
            "SELECT id, account_id, kind, family, client_name, auth_method, ip, created_at, expires_at, used_at, revoked_at",
            " FROM api_tokens WHERE account_id = $1 AND kind = 'refresh'",
            " AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $2 ORDER BY id DESC"
        ))
        .bind(account.0)
        .bind(to_unix_millis(now))
        .fetch_all(&mut *self.readers.acquire().await?)
        .await
        .map_err(map_err)?;
        rows.into_iter().map(ApiToken::try_from).collect()
    }

    async fn throttle_state(&self, key: &str) -> StoreResult<Option<ThrottleState>> {
        let row = sqlx::query_as::<_, ThrottleRow>(
            "SELECT consecutive_failures, window_started_at, window_failures, blocked_until FROM login_throttle WHERE identifier_key = $1",
        )
        .bind(key)
        .fetch_optional(&mut *self.readers.acquire().await?)
        .await
        .map_err(map_err)?;
        Ok(row.map(ThrottleState::from))
    }

    async fn hit_rate_limit(&self, bucket: &str, now: OffsetDateTime, window: Duration) -> StoreResult<u32> {
        let statement = sqlx::query_scalar(concat!(
            "INSERT INTO rate_limits (bucket, window_started_at, hits) VALUES ($1, $2, 1)",
            " ON CONFLICT (bucket) DO UPDATE SET",
            " hits = CASE WHEN rate_limits.window_started_at <= $3 THEN 1 ELSE rate_limits.hits + 1 END,",
            " window_started_at = CASE WHEN rate_limits.window_started_at <= $3 THEN $2 ELSE rate_limits.window_started_at END",
            " RETURNING hits"
        ))
        .bind(bucket.to_owned())
        .bind(to_unix_millis(now))
        .bind(to_unix_millis(now - window));
        let hits: i64 = self.writer.run(move |conn| Box::pin(statement.fetch_one(conn))).await?;
        Ok(u32::try_from(hits).unwrap_or(u32::MAX))
    }

    async fn append_audit(&self, e: &AuditEvent, now: OffsetDateTime) -> StoreResult<()> {
        let statement = insert_audit(e, now)?;
        self.writer.run(move |conn| Box::pin(statement.execute(conn))).await?;
        e.log();
        Ok(())
    }

    async fn claim_due_mail(&self, now: OffsetDateTime, lease_until: OffsetDateTime, limit: u32) -> StoreResult<Vec<QueuedMail>> {
        let mut rows = sqlx::query_as::<_, OutboxRow>(CLAIM_MAIL)
            .bind(to_unix_millis(lease_until))
            .bind(to_unix_millis(now))
            .bind(i64::from(limit))
            .fetch_all(&mut *self.writer.acquire().await?)
            .await
            .map_err(map_err)?;
        rows.sort_by_key(|r| r.id());
        let ring = self.sealer.ring();
        rows.into_iter().map(|row| row.open(&ring)).collect()
    }

    async fn pending_mail_count(&self) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL AND dropped_at IS NULL")
            .fetch_one(&mut *self.readers.acquire().await?)
            .await
            .map_err(map_err)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn sealed_keys(&self) -> StoreResult<Vec<(String, u64)>> {
        let rows: Vec<(Option<String>, i64)> = sqlx::query_as(concat!(
            "SELECT sealed_key, COUNT(*) FROM outbox WHERE sealed IS NOT NULL AND sent_at IS NULL AND dropped_at IS NULL",
            " GROUP BY sealed_key ORDER BY sealed_key"
        ))
        .fetch_all(&mut *self.readers.acquire().await?)
        .await
        .map_err(map_err)?;
        Ok(rows.into_iter().map(|(key, n)| (key.unwrap_or_default(), u64::try_from(n).unwrap_or(0))).collect())
    }

    async fn reseal_secrets(&self, which: Reseal) -> StoreResult<Resealed> {
        let ring = self.sealer.ring();
        let mut tx = self.begin_tx().await?;
        let rows: Vec<(i64, String, String, String, Option<Vec<u8>>)> = sqlx::query_as(
            "SELECT id, kind, recipient, payload, sealed FROM outbox WHERE sent_at IS NULL AND dropped_at IS NULL",
        )
        .fetch_all(&mut *tx.conn)
        .await
        .map_err(map_err)?;
        let mut report = Resealed::default();
        for (id, kind, recipient, payload, sealed) in rows {
            let context = MailMessage::sealing_context(&kind, &recipient);
            let secret = match &sealed {
                Some(sealed) if which == Reseal::ClearOnly || KeyRing::key_id_of(sealed) == Some(ring.primary_id()) => continue,
                Some(sealed) => match ring.open(&context, sealed) {
                    Ok(secret) => secret,
                    Err(_) => {
                        report.unreadable += 1;
                        continue;
                    }
                },
                // Left in clear by a version that did not seal: seal it now.
                None => match serde_json::from_str::<MailMessage>(&payload).ok().and_then(|m| {
                    m.secret().filter(|s| *s != sesame_core::mail::REDACTED).map(|s| s.as_bytes().to_vec())
                }) {
                    Some(secret) => secret,
                    None => continue,
                },
            };
            let redacted = serde_json::from_str::<MailMessage>(&payload).map(|m| m.redacted()).map_err(|e| StoreError::Corrupt(format!("outbox message {id}: {e}")))?;
            sqlx::query("UPDATE outbox SET payload = $1, sealed = $2, sealed_key = $3 WHERE id = $4")
                .bind(json(&redacted)?)
                .bind(ring.seal(&context, &secret))
                .bind(ring.primary_id())
                .bind(id)
                .execute(&mut *tx.conn)
                .await
                .map_err(map_err)?;
            report.resealed += 1;
        }
        tx.finish().await?;
        Ok(report)
    }

    async fn compact(&self) -> StoreResult<()> {
        self.compact_impl().await
    }

    async fn purge_expired(&self, now: OffsetDateTime, sent_before: OffsetDateTime) -> StoreResult<Purged> {
        let now = to_unix_millis(now);
        let mut tx = self.begin_tx().await?;
        let mut run = async |sql: &'static str, at: i64| -> StoreResult<u64> {
            Ok(sqlx::query(sql).bind(at).execute(&mut *tx.conn).await.map_err(map_err)?.rows_affected())
        };
        let sessions = run("DELETE FROM sessions WHERE absolute_expires_at < $1 OR idle_expires_at < $1 OR revoked_at IS NOT NULL", now).await?;
        let tokens = run("DELETE FROM api_tokens WHERE expires_at < $1", now).await?
            + run("DELETE FROM reset_tokens WHERE expires_at < $1", now).await?;
        let captchas = run("DELETE FROM captcha_challenges WHERE expires_at < $1", now).await?;
        run("DELETE FROM rate_limits WHERE window_started_at < $1", now - 86_400_000).await?;
        run("DELETE FROM login_throttle WHERE updated_at < $1 AND (blocked_until IS NULL OR blocked_until < $1) AND consecutive_failures < 100", now - 30 * 86_400_000).await?;
        let sent_mail = run("DELETE FROM outbox WHERE (sent_at IS NOT NULL AND sent_at < $1) OR (dropped_at IS NOT NULL AND dropped_at < $1)", to_unix_millis(sent_before)).await?;
        tx.finish().await?;
        Ok(Purged { sessions, tokens, captchas, sent_mail })
    }

    async fn backup_to(&self, path: &Path) -> StoreResult<()> {
        self.backup_impl(path).await
    }
}

#[async_trait]
impl Tx for SqlTx {
    async fn identifier_taken(&mut self, key: &str) -> StoreResult<bool> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM accounts WHERE identifier_key = $1")
            .bind(key)
            .fetch_one(&mut *self.conn)
            .await
            .map_err(map_err)?;
        Ok(n > 0)
    }

    async fn insert_account(&mut self, a: &NewAccount, now: OffsetDateTime) -> StoreResult<AccountId> {
        let now = to_unix_millis(now);
        let id: i64 = sqlx::query_scalar(concat!(
            "INSERT INTO accounts (identifier, identifier_key, email, email_key, first_name, last_name,",
            " national_id, status, created_at, updated_at)",
            " VALUES ($1, $2, $3, $4, $5, $6, $7, 'active', $8, $8) RETURNING id"
        ))
        .bind(a.identifier.as_str())
        .bind(a.identifier.key())
        .bind(a.email.as_str())
        .bind(a.email.key())
        .bind(a.first_name.as_str())
        .bind(a.last_name.as_str())
        .bind(a.national_id.as_ref().map(sesame_core::types::NationalId::id_nat_ps))
        .bind(now)
        .fetch_one(&mut *self.conn)
        .await
        .map_err(map_err)?;
        Ok(AccountId(id))
    }

    async fn account_for_update(&mut self, id: AccountId) -> StoreResult<Option<Account>> {
        let row = sqlx::query_as::<_, AccountRow>(ACCOUNT_FOR_UPDATE)
            .bind(id.0)
            .fetch_optional(&mut *self.conn)
            .await
            .map_err(map_err)?;
        row.map(Account::try_from).transpose()
    }

    async fn set_account_status(&mut self, id: AccountId, status: AccountStatus, now: OffsetDateTime) -> StoreResult<()> {
        sqlx::query("UPDATE accounts SET status = $1, updated_at = $2 WHERE id = $3")
            .bind(status.as_str())
            .bind(to_unix_millis(now))
            .bind(id.0)
            .execute(&mut *self.conn)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn set_password(&mut self, id: AccountId, c: &PasswordCredential) -> StoreResult<()> {
        let changed_at = to_unix_millis(c.changed_at);
        sqlx::query(concat!(
            "INSERT INTO password_credentials (account_id, phc, temporary_until, changed_at, compromised)",
            " VALUES ($1, $2, $3, $4, FALSE)",
            " ON CONFLICT (account_id) DO UPDATE SET phc = excluded.phc,",
            " temporary_until = excluded.temporary_until, changed_at = excluded.changed_at, compromised = FALSE"
        ))
        .bind(id.0)
        .bind(&c.phc)
        .bind(c.temporary_until.map(to_unix_millis))
        .bind(changed_at)
        .execute(&mut *self.conn)
        .await
        .map_err(map_err)?;
        sqlx::query("INSERT INTO password_history (account_id, phc, temporary, created_at) VALUES ($1, $2, $3, $4)")
            .bind(id.0)
            .bind(&c.phc)
            .bind(c.is_temporary())
            .bind(changed_at)
            .execute(&mut *self.conn)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn revoke_all_access(&mut self, id: AccountId, now: OffsetDateTime) -> StoreResult<u64> {
        let now = to_unix_millis(now);
        let mut total = 0;
        for sql in [
            "UPDATE sessions SET revoked_at = $1 WHERE account_id = $2 AND revoked_at IS NULL",
            "UPDATE api_tokens SET revoked_at = $1 WHERE account_id = $2 AND revoked_at IS NULL",
            "UPDATE reset_tokens SET revoked_at = $1 WHERE account_id = $2 AND revoked_at IS NULL AND used_at IS NULL",
        ] {
            total += sqlx::query(sql).bind(now).bind(id.0).execute(&mut *self.conn).await.map_err(map_err)?.rows_affected();
        }
        Ok(total)
    }

    async fn revoke_tokens_and_links(&mut self, id: AccountId, now: OffsetDateTime) -> StoreResult<u64> {
        let now = to_unix_millis(now);
        let mut total = 0;
        for sql in [
            "UPDATE api_tokens SET revoked_at = $1 WHERE account_id = $2 AND revoked_at IS NULL",
            "UPDATE reset_tokens SET revoked_at = $1 WHERE account_id = $2 AND revoked_at IS NULL AND used_at IS NULL",
        ] {
            total += sqlx::query(sql).bind(now).bind(id.0).execute(&mut *self.conn).await.map_err(map_err)?.rows_affected();
        }
        Ok(total)
    }

    async fn enqueue_mail(&mut self, mail: &OutboxMail, now: OffsetDateTime) -> StoreResult<i64> {
        let now = to_unix_millis(now);
        let kind = mail.message.kind();
        // The secret, if any, is sealed; the payload is the message without it.
        let ring = self.sealer.ring();
        let sealed = mail
            .message
            .secret()
            .map(|secret| ring.seal(&MailMessage::sealing_context(kind, mail.to.as_str()), secret.as_bytes()));
        let sealed_key = sealed.as_ref().map(|_| ring.primary_id().to_owned());
        sqlx::query_scalar(concat!(
            "INSERT INTO outbox (account_id, kind, recipient, recipient_name, payload, sealed, sealed_key,",
            " created_at, next_attempt_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id"
        ))
        .bind(mail.account_id.map(|a| a.0))
        .bind(kind)
        .bind(mail.to.as_str())
        .bind(&mail.to_name)
        .bind(json(&mail.message.redacted())?)
        .bind(sealed)
        .bind(sealed_key)
        .bind(now)
        .fetch_one(&mut *self.conn)
        .await
        .map_err(map_err)
    }

    async fn append_audit(&mut self, e: &AuditEvent, now: OffsetDateTime) -> StoreResult<()> {
        insert_audit(e, now)?.execute(&mut *self.conn).await.map_err(map_err)?;
        self.events.push(e.clone());
        Ok(())
    }

    async fn mark_mail_sent(&mut self, id: i64, now: OffsetDateTime, redacted: &MailMessage) -> StoreResult<()> {
        sqlx::query(concat!(
            "UPDATE outbox SET sent_at = $1, claimed_until = NULL, last_error = NULL, payload = $2,",
            " sealed = NULL, sealed_key = NULL WHERE id = $3"
        ))
            .bind(to_unix_millis(now))
            .bind(json(redacted)?)
            .bind(id)
            .execute(&mut *self.conn)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn drop_mail(&mut self, id: i64, now: OffsetDateTime, reason: &str) -> StoreResult<()> {
        sqlx::query(concat!(
            "UPDATE outbox SET dropped_at = $1, claimed_until = NULL, last_error = $2, sealed = NULL, sealed_key = NULL",
            " WHERE id = $3"
        ))
        .bind(to_unix_millis(now))
        .bind(reason)
        .bind(id)
        .execute(&mut *self.conn)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn reschedule_mail(&mut self, id: i64, next_attempt_at: OffsetDateTime, error: &str) -> StoreResult<()> {
        sqlx::query("UPDATE outbox SET next_attempt_at = $1, claimed_until = NULL, last_error = $2 WHERE id = $3")
            .bind(to_unix_millis(next_attempt_at))
            .bind(error)
            .bind(id)
            .execute(&mut *self.conn)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn insert_session(&mut self, n: &NewSession) -> StoreResult<SessionId> {
        let created = to_unix_millis(n.created_at);
        let id: i64 = sqlx::query_scalar(concat!(
            "INSERT INTO sessions (token_hash, account_id, auth_method, must_change_password, ip, user_agent,",
            " created_at, last_seen_at, idle_expires_at, absolute_expires_at)",
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8, $9) RETURNING id"
        ))
        .bind(&n.token_hash)
        .bind(n.account_id.0)
        .bind(n.auth_method.as_str())
        .bind(n.must_change_password)
        .bind(n.ip.as_deref())
        .bind(n.user_agent.as_deref())
        .bind(created)
        .bind(to_unix_millis(n.idle_expires_at))
        .bind(to_unix_millis(n.absolute_expires_at))
        .fetch_one(&mut *self.conn)
        .await
        .map_err(map_err)?;
        Ok(SessionId(id))
    }

    async fn revoke_session(&mut self, account: AccountId, id: SessionId, now: OffsetDateTime) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND account_id = $3 AND revoked_at IS NULL")
            .bind(to_unix_millis(now))
            .bind(id.0)
            .bind(account.0)
            .execute(&mut *self.conn)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn revoke_other_sessions(&mut self, account: AccountId, keep: SessionId, now: OffsetDateTime) -> StoreResult<u64> {
        let done = sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE account_id = $2 AND id <> $3 AND revoked_at IS NULL")
            .bind(to_unix_millis(now))
            .bind(account.0)
            .bind(keep.0)
            .execute(&mut *self.conn)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected())
    }

    async fn record_login_failure(&mut self, key: &str, now: OffsetDateTime, window: Duration) -> StoreResult<ThrottleState> {
        let row = sqlx::query_as::<_, ThrottleRow>(concat!(
            "INSERT INTO login_throttle (identifier_key, consecutive_failures, window_started_at, window_failures, updated_at)",
            " VALUES ($1, 1, $2, 1, $2)",
            " ON CONFLICT (identifier_key) DO UPDATE SET",
            " consecutive_failures = login_throttle.consecutive_failures + 1,",
            " window_failures = CASE WHEN login_throttle.window_started_at <= $3 THEN 1 ELSE login_throttle.window_failures + 1 END,",
            " window_started_at = CASE WHEN login_throttle.window_started_at <= $3 THEN $2 ELSE login_throttle.window_started_at END,",
            " updated_at = $2",
            " RETURNING consecutive_failures, window_started_at, window_failures, blocked_until"
        ))
        .bind(key)
        .bind(to_unix_millis(now))
        .bind(to_unix_millis(now - window))
        .fetch_one(&mut *self.conn)
        .await
        .map_err(map_err)?;
        Ok(ThrottleState::from(row))
    }

    async fn set_login_block(&mut self, key: &str, until: Option<OffsetDateTime>) -> StoreResult<()> {
        sqlx::query("UPDATE login_throttle SET blocked_until = $1 WHERE identifier_key = $2")
            .bind(until.map(to_unix_millis))
            .bind(key)
            .execute(&mut *self.conn)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn clear_login_failures(&mut self, key: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM login_throttle WHERE identifier_key = $1")
            .bind(key)
            .execute(&mut *self.conn)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn insert_api_token(&mut self, t: &NewApiToken) -> StoreResult<()> {
        sqlx::query(concat!(
            "INSERT INTO api_tokens (token_hash, account_id, kind, family, client_name, auth_method, ip, created_at, expires_at)",
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ))
        .bind(&t.token_hash)
        .bind(t.account_id.0)
        .bind(t.kind.as_str())
        .bind(&t.family)
        .bind(t.client_name.as_deref())
        .bind(t.auth_method.as_str())
        .bind(t.ip.as_deref())
        .bind(to_unix_millis(t.created_at))
        .bind(to_unix_millis(t.expires_at))
        .execute(&mut *self.conn)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn bind_certificate(&mut self, account: AccountId, fingerprint: &str, subject: &str, now: OffsetDateTime) -> StoreResult<()> {
        sqlx::query("INSERT INTO certificate_bindings (account_id, fingerprint, subject, created_at) VALUES ($1, $2, $3, $4)")
            .bind(account.0)
            .bind(fingerprint)
            .bind(subject)
            .bind(to_unix_millis(now))
            .execute(&mut *self.conn)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn unbind_certificate(&mut self, account: AccountId, fingerprint: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM certificate_bindings WHERE account_id = $1 AND fingerprint = $2")
            .bind(account.0)
            .bind(fingerprint)
            .execute(&mut *self.conn)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn use_api_token(&mut self, id: i64, now: OffsetDateTime) -> StoreResult<bool> {
        let done = sqlx::query(concat!(
            "UPDATE api_tokens SET used_at = $1",
            " WHERE id = $2 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $1"
        ))
        .bind(to_unix_millis(now))
        .bind(id)
        .execute(&mut *self.conn)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn revoke_token_family(&mut self, account: AccountId, family: &str, now: OffsetDateTime) -> StoreResult<u64> {
        let done = sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE account_id = $2 AND family = $3 AND revoked_at IS NULL")
            .bind(to_unix_millis(now))
            .bind(account.0)
            .bind(family)
            .execute(&mut *self.conn)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected())
    }

    async fn insert_reset_token(&mut self, account: AccountId, token_hash: &[u8], now: OffsetDateTime, expires_at: OffsetDateTime) -> StoreResult<()> {
        let now = to_unix_millis(now);
        sqlx::query("UPDATE reset_tokens SET revoked_at = $1 WHERE account_id = $2 AND used_at IS NULL AND revoked_at IS NULL")
            .bind(now)
            .bind(account.0)
            .execute(&mut *self.conn)
            .await
            .map_err(map_err)?;
        sqlx::query("INSERT INTO reset_tokens (token_hash, account_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(token_hash)
            .bind(account.0)
            .bind(now)
            .bind(to_unix_millis(expires_at))
            .execute(&mut *self.conn)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn consume_reset_token(&mut self, token_hash: &[u8], now: OffsetDateTime) -> StoreResult<Option<AccountId>> {
        let id: Option<i64> = sqlx::query_scalar(concat!(
            "UPDATE reset_tokens SET used_at = $1",
            " WHERE token_hash = $2 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $1 RETURNING account_id"
        ))
        .bind(to_unix_millis(now))
        .bind(token_hash)
        .fetch_optional(&mut *self.conn)
        .await
        .map_err(map_err)?;
        Ok(id.map(AccountId))
    }

    async fn insert_captcha(&mut self, challenge_hash: &[u8], answer_hash: &[u8], now: OffsetDateTime, expires_at: OffsetDateTime) -> StoreResult<()> {
        sqlx::query("INSERT INTO captcha_challenges (challenge_hash, answer_hash, created_at, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(challenge_hash)
            .bind(answer_hash)
            .bind(to_unix_millis(now))
            .bind(to_unix_millis(expires_at))
            .execute(&mut *self.conn)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn take_captcha(&mut self, challenge_hash: &[u8], now: OffsetDateTime) -> StoreResult<Option<Vec<u8>>> {
        sqlx::query_scalar(concat!(
            "UPDATE captcha_challenges SET used_at = $1",
            " WHERE challenge_hash = $2 AND used_at IS NULL AND expires_at > $1 RETURNING answer_hash"
        ))
        .bind(to_unix_millis(now))
        .bind(challenge_hash)
        .fetch_optional(&mut *self.conn)
        .await
        .map_err(map_err)
    }

    async fn commit(mut self: Box<Self>) -> StoreResult<()> {
        self.finish().await
    }
}
