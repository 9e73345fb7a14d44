// Consents, authorization codes and the tokens they give (`sesame_core::store::{GrantStore,
// GrantTx}`), included by `backend.rs`. A code or a token is only ever its digest.

use sesame_core::session::AuthMethod;
use sesame_core::store::{
    Consent, GrantStore, GrantTx, NewCode, NewOidcToken, OidcFamily, OidcToken, OidcTokenKind, TakenCode, TokenGrant,
};

#[derive(sqlx::FromRow)]
struct CodeRow {
    id: i64,
    client_id: String,
    account_id: i64,
    session_id: i64,
    redirect_uri: String,
    scopes: String,
    nonce: Option<String>,
    code_challenge: Option<String>,
    auth_time: i64,
    auth_method: String,
    expires_at: i64,
    used_at: Option<i64>,
    session_alive: bool,
}

fn auth_method(table: &str, id: i64, method: &str) -> StoreResult<AuthMethod> {
    AuthMethod::parse(method).ok_or_else(|| StoreError::Corrupt(format!("{table} {id}: method '{method}'")))
}

#[derive(sqlx::FromRow)]
struct OidcTokenRow {
    id: i64,
    kind: String,
    code_id: i64,
    client_id: String,
    account_id: i64,
    session_id: i64,
    offline: bool,
    scopes: String,
    auth_time: i64,
    auth_method: String,
    created_at: i64,
    expires_at: i64,
    used_at: Option<i64>,
    revoked_at: Option<i64>,
    session_alive: bool,
}

impl TryFrom<OidcTokenRow> for OidcToken {
    type Error = StoreError;

    fn try_from(r: OidcTokenRow) -> StoreResult<Self> {
        Ok(OidcToken {
            id: r.id,
            kind: OidcTokenKind::parse(&r.kind)
                .ok_or_else(|| StoreError::Corrupt(format!("oidc token {}: kind '{}'", r.id, r.kind)))?,
            grant: TokenGrant {
                code_id: r.code_id,
                client_id: r.client_id,
                account_id: AccountId(r.account_id),
                session_id: SessionId(r.session_id),
                offline: r.offline,
                scopes: r.scopes,
                auth_time: from_unix_millis(r.auth_time),
                auth_method: auth_method("oidc token", r.id, &r.auth_method)?,
            },
            created_at: from_unix_millis(r.created_at),
            expires_at: from_unix_millis(r.expires_at),
            used_at: r.used_at.map(from_unix_millis),
            revoked_at: r.revoked_at.map(from_unix_millis),
            session_alive: r.session_alive,
        })
    }
}

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

    async fn oidc_token(&self, token_hash: &[u8], now: OffsetDateTime) -> StoreResult<Option<OidcToken>> {
        let row: Option<OidcTokenRow> = sqlx::query_as(concat!(
            "SELECT t.id, t.kind, t.code_id, t.client_id, t.account_id, t.session_id, t.offline, t.scopes,",
            " t.auth_time, t.auth_method, t.created_at, t.expires_at, t.used_at, t.revoked_at,",
            " EXISTS (SELECT 1 FROM sessions s WHERE s.id = t.session_id AND s.revoked_at IS NULL",
            " AND s.idle_expires_at > $2 AND s.absolute_expires_at > $2) AS session_alive",
            " FROM oidc_tokens t WHERE t.token_hash = $1"
        ))
        .bind(token_hash)
        .bind(to_unix_millis(now))
        .fetch_optional(&mut *self.readers.acquire().await?)
        .await
        .map_err(map_err)?;
        row.map(OidcToken::try_from).transpose()
    }

    async fn oidc_families_of(&self, account: AccountId, now: OffsetDateTime) -> StoreResult<Vec<OidcFamily>> {
        let rows: Vec<(i64, String, String, bool, String, i64, i64)> = sqlx::query_as(concat!(
            "SELECT t.code_id, t.client_id, k.name, t.offline, t.auth_method, t.auth_time, t.created_at",
            " FROM oidc_tokens t JOIN oidc_clients k ON k.client_id = t.client_id",
            " WHERE t.account_id = $1 AND t.kind = 'refresh' AND t.used_at IS NULL AND t.revoked_at IS NULL",
            " AND t.expires_at > $2 AND (t.offline OR EXISTS (SELECT 1 FROM sessions s WHERE s.id = t.session_id",
            " AND s.revoked_at IS NULL AND s.idle_expires_at > $2 AND s.absolute_expires_at > $2))",
            " ORDER BY t.created_at DESC, t.code_id DESC"
        ))
        .bind(account.0)
        .bind(to_unix_millis(now))
        .fetch_all(&mut *self.readers.acquire().await?)
        .await
        .map_err(map_err)?;
        rows.into_iter()
            .map(|(code_id, client_id, client_name, offline, method, auth_time, last_used)| {
                let auth_method = auth_method("oidc_tokens family", code_id, &method)?;
                Ok(OidcFamily {
                    code_id,
                    client_id,
                    client_name,
                    offline,
                    auth_method,
                    auth_time: from_unix_millis(auth_time),
                    last_used_at: from_unix_millis(last_used),
                })
            })
            .collect()
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

    async fn take_code(&mut self, code_hash: &[u8], now: OffsetDateTime) -> StoreResult<Option<TakenCode>> {
        let row: Option<CodeRow> = sqlx::query_as(concat!(
            "SELECT id, client_id, account_id, session_id, redirect_uri, scopes, nonce, code_challenge,",
            " auth_time, auth_method, expires_at, used_at,",
            " EXISTS (SELECT 1 FROM sessions s WHERE s.id = c.session_id AND s.revoked_at IS NULL",
            " AND s.idle_expires_at > $2 AND s.absolute_expires_at > $2) AS session_alive",
            " FROM oidc_codes c WHERE code_hash = $1"
        ))
        .bind(code_hash)
        .bind(to_unix_millis(now))
        .fetch_optional(&mut *self.conn)
        .await
        .map_err(map_err)?;
        let Some(r) = row else { return Ok(None) };
        // The conditional update decides between two concurrent exchanges: one row changed.
        let first_use = r.used_at.is_none()
            && sqlx::query("UPDATE oidc_codes SET used_at = $1 WHERE id = $2 AND used_at IS NULL")
                .bind(to_unix_millis(now))
                .bind(r.id)
                .execute(&mut *self.conn)
                .await
                .map_err(map_err)?
                .rows_affected()
                == 1;
        Ok(Some(TakenCode {
            id: r.id,
            code: NewCode {
                code_hash: code_hash.to_vec(),
                client_id: r.client_id,
                account_id: AccountId(r.account_id),
                session_id: SessionId(r.session_id),
                redirect_uri: r.redirect_uri,
                scopes: r.scopes,
                nonce: r.nonce,
                code_challenge: r.code_challenge,
                auth_time: from_unix_millis(r.auth_time),
                auth_method: auth_method("oidc code", r.id, &r.auth_method)?,
                expires_at: from_unix_millis(r.expires_at),
            },
            first_use,
            session_alive: r.session_alive,
        }))
    }

    async fn insert_oidc_token(&mut self, token: &NewOidcToken, now: OffsetDateTime) -> StoreResult<()> {
        let g = &token.grant;
        sqlx::query(concat!(
            "INSERT INTO oidc_tokens (token_hash, kind, code_id, client_id, account_id, session_id, offline, scopes,",
            " auth_time, auth_method, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        ))
        .bind(&token.token_hash)
        .bind(token.kind.as_str())
        .bind(g.code_id)
        .bind(&g.client_id)
        .bind(g.account_id.0)
        .bind(g.session_id.0)
        .bind(g.offline)
        .bind(&g.scopes)
        .bind(to_unix_millis(g.auth_time))
        .bind(g.auth_method.as_str())
        .bind(to_unix_millis(now))
        .bind(to_unix_millis(token.expires_at))
        .execute(&mut *self.conn)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn use_oidc_token(&mut self, id: i64, now: OffsetDateTime) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE oidc_tokens SET used_at = $1 WHERE id = $2 AND used_at IS NULL AND revoked_at IS NULL")
            .bind(to_unix_millis(now))
            .bind(id)
            .execute(&mut *self.conn)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn revoke_oidc_family(&mut self, code_id: i64, now: OffsetDateTime) -> StoreResult<u64> {
        let done = sqlx::query("UPDATE oidc_tokens SET revoked_at = $1 WHERE code_id = $2 AND revoked_at IS NULL")
            .bind(to_unix_millis(now))
            .bind(code_id)
            .execute(&mut *self.conn)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected())
    }
}
