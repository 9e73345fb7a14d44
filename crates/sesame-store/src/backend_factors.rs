// The second factors' half of the port (`sesame_core::store::{FactorStore, FactorTx}`), shared
// by both backends like the rest of `backend.rs`, which includes it. TOTP secrets and keys'
// credentials are sealed here, bound to their account, and opened here: nothing above the store
// sees a sealed value.

use sesame_core::factor::{FactorId, FactorKind, NewTicket, SecondFactor, Ticket, factor_sealing_context};
use sesame_core::clock::from_unix_millis;
use sesame_core::store::{FactorStore, FactorTx, KeyChallenge, KeyFactor, TotpFactor};

use crate::rows::{FactorRow, SealedRow, TicketRow, TotpRow};
use sesame_core::totp::TotpSecret;

#[async_trait]
impl FactorStore for SqlStore {
    async fn second_factors_of(&self, account: AccountId) -> StoreResult<Vec<SecondFactor>> {
        let rows = sqlx::query_as::<_, FactorRow>(concat!(
            "SELECT id, account_id, kind, name, created_at, confirmed_at, last_used_at",
            " FROM second_factors WHERE account_id = $1 ORDER BY id"
        ))
        .bind(account.0)
        .fetch_all(&mut *self.readers.acquire().await?)
        .await
        .map_err(map_err)?;
        rows.into_iter().map(SecondFactor::try_from).collect()
    }

    async fn totp_factors_of(&self, account: AccountId) -> StoreResult<Vec<TotpFactor>> {
        let rows = sqlx::query_as::<_, TotpRow>(concat!(
            "SELECT id, account_id, kind, name, created_at, confirmed_at, last_used_at, sealed, last_step",
            " FROM second_factors WHERE account_id = $1 AND kind = 'totp' ORDER BY id"
        ))
        .bind(account.0)
        .fetch_all(&mut *self.readers.acquire().await?)
        .await
        .map_err(map_err)?;
        let context = factor_sealing_context(account);
        let ring = self.sealer.ring();
        rows.into_iter()
            .map(|r| {
                let secret = ring.open(&context, &r.sealed).map(TotpSecret::from_bytes);
                Ok(TotpFactor { factor: SecondFactor::try_from(r.factor)?, secret, last_step: r.last_step })
            })
            .collect()
    }

    async fn key_factors_of(&self, account: AccountId) -> StoreResult<Vec<KeyFactor>> {
        let rows = sqlx::query_as::<_, SealedRow>(concat!(
            "SELECT id, account_id, kind, name, created_at, confirmed_at, last_used_at, sealed",
            " FROM second_factors WHERE account_id = $1 AND kind = 'webauthn' ORDER BY id"
        ))
        .bind(account.0)
        .fetch_all(&mut *self.readers.acquire().await?)
        .await
        .map_err(map_err)?;
        let context = factor_sealing_context(account);
        let ring = self.sealer.ring();
        rows.into_iter()
            .map(|r| {
                let credential = ring.open(&context, &r.sealed);
                Ok(KeyFactor { factor: SecondFactor::try_from(r.factor)?, credential })
            })
            .collect()
    }

    async fn key_challenge(&self, account: AccountId, now: OffsetDateTime) -> StoreResult<Option<KeyChallenge>> {
        let row: Option<(i64, String)> =
            sqlx::query_as("SELECT id, state FROM key_challenges WHERE account_id = $1 AND expires_at > $2")
                .bind(account.0)
                .bind(to_unix_millis(now))
                .fetch_optional(&mut *self.readers.acquire().await?)
                .await
                .map_err(map_err)?;
        Ok(row.map(|(id, state)| KeyChallenge { id, state }))
    }

    async fn recovery_codes_left(&self, account: AccountId) -> StoreResult<u32> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM recovery_codes WHERE account_id = $1 AND used_at IS NULL")
            .bind(account.0)
            .fetch_one(&mut *self.readers.acquire().await?)
            .await
            .map_err(map_err)?;
        Ok(u32::try_from(n).unwrap_or(0))
    }

    async fn second_factor_ticket(&self, token_hash: &[u8], now: OffsetDateTime) -> StoreResult<Option<Ticket>> {
        let row = sqlx::query_as::<_, TicketRow>(concat!(
            "SELECT id, account_id, channel, client_name, expires_at FROM second_factor_tickets",
            " WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2"
        ))
        .bind(token_hash)
        .bind(to_unix_millis(now))
        .fetch_optional(&mut *self.readers.acquire().await?)
        .await
        .map_err(map_err)?;
        Ok(row.map(|r| Ticket {
            id: r.id,
            account_id: AccountId(r.account_id),
            channel: r.channel,
            client_name: r.client_name,
            expires_at: from_unix_millis(r.expires_at),
        }))
    }
}

#[async_trait]
impl FactorTx for SqlTx {
    async fn insert_totp(
        &mut self,
        account: AccountId,
        name: &str,
        secret: &TotpSecret,
        now: OffsetDateTime,
    ) -> StoreResult<FactorId> {
        let ring = self.sealer.ring();
        let id: i64 = sqlx::query_scalar(concat!(
            "INSERT INTO second_factors (account_id, kind, name, sealed, sealed_key, created_at)",
            " VALUES ($1, 'totp', $2, $3, $4, $5) RETURNING id"
        ))
        .bind(account.0)
        .bind(name)
        .bind(ring.seal(&factor_sealing_context(account), secret.expose()))
        .bind(ring.primary_id())
        .bind(to_unix_millis(now))
        .fetch_one(&mut *self.conn)
        .await
        .map_err(map_err)?;
        Ok(FactorId(id))
    }

    async fn insert_key(&mut self, account: AccountId, name: &str, state: &[u8], now: OffsetDateTime) -> StoreResult<FactorId> {
        let ring = self.sealer.ring();
        let id: i64 = sqlx::query_scalar(concat!(
            "INSERT INTO second_factors (account_id, kind, name, sealed, sealed_key, created_at)",
            " VALUES ($1, 'webauthn', $2, $3, $4, $5) RETURNING id"
        ))
        .bind(account.0)
        .bind(name)
        .bind(ring.seal(&factor_sealing_context(account), state))
        .bind(ring.primary_id())
        .bind(to_unix_millis(now))
        .fetch_one(&mut *self.conn)
        .await
        .map_err(map_err)?;
        Ok(FactorId(id))
    }

    async fn confirm_key(
        &mut self,
        account: AccountId,
        id: FactorId,
        credential: &[u8],
        credential_id: &[u8],
        now: OffsetDateTime,
    ) -> StoreResult<bool> {
        let ring = self.sealer.ring();
        let done = sqlx::query(concat!(
            "UPDATE second_factors SET confirmed_at = $1, sealed = $2, sealed_key = $3, credential_id = $4",
            " WHERE id = $5 AND account_id = $6 AND kind = 'webauthn' AND confirmed_at IS NULL"
        ))
        .bind(to_unix_millis(now))
        .bind(ring.seal(&factor_sealing_context(account), credential))
        .bind(ring.primary_id())
        .bind(credential_id)
        .bind(id.0)
        .bind(account.0)
        .execute(&mut *self.conn)
        .await;
        match done {
            Ok(done) => Ok(done.rows_affected() == 1),
            // The same authenticator's credential, already registered: refused, not an error.
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => Ok(false),
            Err(e) => Err(map_err(e)),
        }
    }

    async fn update_key(&mut self, account: AccountId, id: FactorId, credential: &[u8], now: OffsetDateTime) -> StoreResult<()> {
        let ring = self.sealer.ring();
        sqlx::query(concat!(
            "UPDATE second_factors SET sealed = $1, sealed_key = $2, last_used_at = $3",
            " WHERE id = $4 AND account_id = $5 AND kind = 'webauthn'"
        ))
        .bind(ring.seal(&factor_sealing_context(account), credential))
        .bind(ring.primary_id())
        .bind(to_unix_millis(now))
        .bind(id.0)
        .bind(account.0)
        .execute(&mut *self.conn)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn replace_key_challenge(
        &mut self,
        account: AccountId,
        state: &str,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> StoreResult<i64> {
        sqlx::query("DELETE FROM key_challenges WHERE account_id = $1")
            .bind(account.0)
            .execute(&mut *self.conn)
            .await
            .map_err(map_err)?;
        sqlx::query_scalar(
            "INSERT INTO key_challenges (account_id, state, created_at, expires_at) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(account.0)
        .bind(state)
        .bind(to_unix_millis(now))
        .bind(to_unix_millis(expires_at))
        .fetch_one(&mut *self.conn)
        .await
        .map_err(map_err)
    }

    async fn use_key_challenge(&mut self, id: i64, now: OffsetDateTime) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM key_challenges WHERE id = $1 AND expires_at > $2")
            .bind(id)
            .bind(to_unix_millis(now))
            .execute(&mut *self.conn)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn confirm_factor(&mut self, account: AccountId, id: FactorId, step: i64, now: OffsetDateTime) -> StoreResult<bool> {
        let done = sqlx::query(concat!(
            "UPDATE second_factors SET confirmed_at = $1, last_used_at = $1, last_step = $2",
            " WHERE id = $3 AND account_id = $4 AND kind = 'totp' AND confirmed_at IS NULL"
        ))
        .bind(to_unix_millis(now))
        .bind(step)
        .bind(id.0)
        .bind(account.0)
        .execute(&mut *self.conn)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn use_totp_step(&mut self, id: FactorId, step: i64, now: OffsetDateTime) -> StoreResult<bool> {
        let done = sqlx::query(concat!(
            "UPDATE second_factors SET last_step = $1, last_used_at = $2",
            " WHERE id = $3 AND confirmed_at IS NOT NULL AND (last_step IS NULL OR last_step < $1)"
        ))
        .bind(step)
        .bind(to_unix_millis(now))
        .bind(id.0)
        .execute(&mut *self.conn)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_factor(&mut self, account: AccountId, id: FactorId) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM second_factors WHERE id = $1 AND account_id = $2")
            .bind(id.0)
            .bind(account.0)
            .execute(&mut *self.conn)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_other_factors(
        &mut self,
        account: AccountId,
        keep: Option<FactorId>,
        kind: Option<FactorKind>,
    ) -> StoreResult<u64> {
        let done = sqlx::query(
            "DELETE FROM second_factors WHERE account_id = $1 AND id <> $2 AND ($3 IS NULL OR kind = $3)",
        )
            .bind(account.0)
            .bind(keep.map_or(0, |k| k.0))
            .bind(kind.map(FactorKind::as_str))
            .execute(&mut *self.conn)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected())
    }

    async fn replace_recovery_codes(&mut self, account: AccountId, digests: &[Vec<u8>], now: OffsetDateTime) -> StoreResult<()> {
        sqlx::query("DELETE FROM recovery_codes WHERE account_id = $1")
            .bind(account.0)
            .execute(&mut *self.conn)
            .await
            .map_err(map_err)?;
        for digest in digests {
            sqlx::query("INSERT INTO recovery_codes (account_id, code_hash, created_at) VALUES ($1, $2, $3)")
                .bind(account.0)
                .bind(digest)
                .bind(to_unix_millis(now))
                .execute(&mut *self.conn)
                .await
                .map_err(map_err)?;
        }
        Ok(())
    }

    async fn use_recovery_code(&mut self, account: AccountId, digest: &[u8], now: OffsetDateTime) -> StoreResult<Option<u32>> {
        let done = sqlx::query(concat!(
            "UPDATE recovery_codes SET used_at = $1",
            " WHERE id = (SELECT id FROM recovery_codes WHERE account_id = $2 AND code_hash = $3 AND used_at IS NULL LIMIT 1)",
            " AND used_at IS NULL"
        ))
        .bind(to_unix_millis(now))
        .bind(account.0)
        .bind(digest)
        .execute(&mut *self.conn)
        .await
        .map_err(map_err)?;
        if done.rows_affected() != 1 {
            return Ok(None);
        }
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM recovery_codes WHERE account_id = $1 AND used_at IS NULL")
            .bind(account.0)
            .fetch_one(&mut *self.conn)
            .await
            .map_err(map_err)?;
        Ok(Some(u32::try_from(left).unwrap_or(0)))
    }

    async fn insert_second_factor_ticket(&mut self, t: &NewTicket) -> StoreResult<()> {
        sqlx::query(concat!(
            "INSERT INTO second_factor_tickets (token_hash, account_id, channel, client_name, ip, created_at, expires_at)",
            " VALUES ($1, $2, $3, $4, $5, $6, $7)"
        ))
        .bind(&t.token_hash)
        .bind(t.account_id.0)
        .bind(&t.channel)
        .bind(t.client_name.as_deref())
        .bind(t.ip.as_deref())
        .bind(to_unix_millis(t.created_at))
        .bind(to_unix_millis(t.expires_at))
        .execute(&mut *self.conn)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn use_second_factor_ticket(&mut self, id: i64, now: OffsetDateTime) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE second_factor_tickets SET used_at = $1 WHERE id = $2 AND used_at IS NULL AND expires_at > $1",
        )
        .bind(to_unix_millis(now))
        .bind(id)
        .execute(&mut *self.conn)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }
}
