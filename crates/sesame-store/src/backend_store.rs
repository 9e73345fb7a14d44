// `Store` for [`SqlStore`]: reads, lone statements, the outbox, purge and backup. Included by
// `backend.rs`, in the module of each backend.

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
            "SELECT sealed_key, COUNT(*) FROM (",
            "SELECT sealed_key FROM outbox WHERE sealed IS NOT NULL AND sent_at IS NULL AND dropped_at IS NULL",
            " UNION ALL SELECT sealed_key FROM second_factors",
            " UNION ALL SELECT sealed_key FROM oidc_signing_keys",
            ") AS sealed_values GROUP BY sealed_key ORDER BY sealed_key"
        ))
        .fetch_all(&mut *self.readers.acquire().await?)
        .await
        .map_err(map_err)?;
        Ok(rows.into_iter().map(|(key, n)| (key.unwrap_or_default(), u64::try_from(n).unwrap_or(0))).collect())
    }

    async fn reseal_secrets(&self, which: Reseal) -> StoreResult<Resealed> {
        self.reseal_impl(which).await
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
            + run("DELETE FROM reset_tokens WHERE expires_at < $1", now).await?
            + run("DELETE FROM oidc_tokens WHERE expires_at < $1", now).await?;
        let captchas = run("DELETE FROM captcha_challenges WHERE expires_at < $1", now).await?;
        // Kept a day past their expiry, so that a code replayed late is still recognised as reused.
        run("DELETE FROM oidc_codes WHERE expires_at < $1", now - 86_400_000).await?;
        run("DELETE FROM rate_limits WHERE window_started_at < $1", now - 86_400_000).await?;
        run("DELETE FROM login_throttle WHERE updated_at < $1 AND (blocked_until IS NULL OR blocked_until < $1) AND consecutive_failures < 100", now - 30 * 86_400_000).await?;
        let second_factor = run("DELETE FROM second_factor_tickets WHERE expires_at < $1", now).await?
            + run("DELETE FROM key_challenges WHERE expires_at < $1", now).await?
            + run("DELETE FROM second_factors WHERE confirmed_at IS NULL AND created_at < $1", now - 86_400_000).await?;
        let sent_mail = run("DELETE FROM outbox WHERE (sent_at IS NOT NULL AND sent_at < $1) OR (dropped_at IS NOT NULL AND dropped_at < $1)", to_unix_millis(sent_before)).await?;
        run("DELETE FROM oidc_logout_notices WHERE delivered_at < $1", to_unix_millis(sent_before)).await?;
        tx.finish().await?;
        Ok(Purged { sessions, tokens, captchas, sent_mail, second_factor })
    }

    async fn backup_to(&self, path: &Path) -> StoreResult<()> {
        self.backup_impl(path).await
    }
}

