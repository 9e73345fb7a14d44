// `Tx` for [`SqlTx`]: every write of a transaction. Included by `backend.rs`, in the module of
// each backend.

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
        let at = to_unix_millis(now);
        sqlx::query(NOTICE_ALL_SESSIONS).bind(at).bind(id.0).execute(&mut *self.conn).await.map_err(map_err)?;
        let sessions = sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE account_id = $2 AND revoked_at IS NULL")
            .bind(at)
            .bind(id.0)
            .execute(&mut *self.conn)
            .await
            .map_err(map_err)?;
        Ok(sessions.rows_affected() + self.revoke_tokens_and_links(id, now).await?)
    }

    async fn revoke_tokens_and_links(&mut self, id: AccountId, now: OffsetDateTime) -> StoreResult<u64> {
        let now = to_unix_millis(now);
        let mut total = 0;
        for sql in [
            "UPDATE api_tokens SET revoked_at = $1 WHERE account_id = $2 AND revoked_at IS NULL",
            "UPDATE oidc_tokens SET revoked_at = $1 WHERE account_id = $2 AND revoked_at IS NULL",
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
        let mut changed = [0; 3];
        // Logout tokens owed first (the session still open); its OIDC tokens end, but offline ones.
        for (i, sql) in [
            NOTICE_SESSION,
            "UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND account_id = $3 AND revoked_at IS NULL",
            "UPDATE oidc_tokens SET revoked_at = $1 WHERE session_id = $2 AND account_id = $3 AND NOT offline AND revoked_at IS NULL",
        ]
        .into_iter()
        .enumerate()
        {
            let done = sqlx::query(sql).bind(to_unix_millis(now)).bind(id.0).bind(account.0).execute(&mut *self.conn).await;
            changed[i] = done.map_err(map_err)?.rows_affected();
        }
        Ok(changed[1] == 1)
    }

    async fn revoke_other_sessions(&mut self, account: AccountId, keep: SessionId, now: OffsetDateTime) -> StoreResult<u64> {
        let mut changed = [0; 3];
        for (i, sql) in [
            NOTICE_OTHER_SESSIONS,
            "UPDATE sessions SET revoked_at = $1 WHERE account_id = $2 AND id <> $3 AND revoked_at IS NULL",
            "UPDATE oidc_tokens SET revoked_at = $1 WHERE account_id = $2 AND session_id <> $3 AND NOT offline AND revoked_at IS NULL",
        ]
        .into_iter()
        .enumerate()
        {
            let done = sqlx::query(sql).bind(to_unix_millis(now)).bind(account.0).bind(keep.0).execute(&mut *self.conn).await;
            changed[i] = done.map_err(map_err)?.rows_affected();
        }
        Ok(changed[1])
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
