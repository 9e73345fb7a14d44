// Consents and authorization codes (`sesame_core::store::{GrantStore, GrantTx}`), included by
// `backend.rs`. A code is only ever its digest.

use sesame_core::store::{Consent, GrantStore, GrantTx, NewCode};

#[async_trait]
impl GrantStore for SqlStore {
    async fn consent(&self, account: AccountId, client_id: &str) -> StoreResult<Option<String>> {
        sqlx::query_scalar("SELECT scopes FROM oidc_consents WHERE account_id = $1 AND client_id = $2")
            .bind(account.0)
            .bind(client_id)
            .fetch_optional(&mut *self.readers.acquire().await?)
            .await
            .map_err(map_err)
    }

    async fn consents_of(&self, account: AccountId) -> StoreResult<Vec<Consent>> {
        let rows: Vec<(String, String, String, i64)> = sqlx::query_as(concat!(
            "SELECT c.client_id, k.name, c.scopes, c.granted_at FROM oidc_consents c",
            " JOIN oidc_clients k ON k.client_id = c.client_id WHERE c.account_id = $1",
            " ORDER BY c.granted_at DESC, k.name"
        ))
        .bind(account.0)
        .fetch_all(&mut *self.readers.acquire().await?)
        .await
        .map_err(map_err)?;
        Ok(rows
            .into_iter()
            .map(|(client_id, client_name, scopes, granted_at)| Consent {
                client_id,
                client_name,
                scopes,
                granted_at: from_unix_millis(granted_at),
            })
            .collect())
    }
}

#[async_trait]
impl GrantTx for SqlTx {
    async fn save_consent(&mut self, account: AccountId, client_id: &str, scopes: &str, now: OffsetDateTime) -> StoreResult<()> {
        sqlx::query(concat!(
            "INSERT INTO oidc_consents (account_id, client_id, scopes, granted_at) VALUES ($1, $2, $3, $4)",
            " ON CONFLICT (account_id, client_id) DO UPDATE SET scopes = excluded.scopes, granted_at = excluded.granted_at"
        ))
        .bind(account.0)
        .bind(client_id)
        .bind(scopes)
        .bind(to_unix_millis(now))
        .execute(&mut *self.conn)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn delete_consent(&mut self, account: AccountId, client_id: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM oidc_consents WHERE account_id = $1 AND client_id = $2")
            .bind(account.0)
            .bind(client_id)
            .execute(&mut *self.conn)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn insert_code(&mut self, code: &NewCode, now: OffsetDateTime) -> StoreResult<()> {
        sqlx::query(concat!(
            "INSERT INTO oidc_codes (code_hash, client_id, account_id, session_id, redirect_uri, scopes, nonce,",
            " code_challenge, auth_time, auth_method, created_at, expires_at)",
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        ))
        .bind(&code.code_hash)
        .bind(&code.client_id)
        .bind(code.account_id.0)
        .bind(code.session_id.0)
        .bind(&code.redirect_uri)
        .bind(&code.scopes)
        .bind(&code.nonce)
        .bind(&code.code_challenge)
        .bind(to_unix_millis(code.auth_time))
        .bind(code.auth_method.as_str())
        .bind(to_unix_millis(now))
        .bind(to_unix_millis(code.expires_at))
        .execute(&mut *self.conn)
        .await
        .map_err(map_err)?;
        Ok(())
    }
}
