// The OpenID Connect half of the port (`sesame_core::store::{ClientStore, ClientTx}`), shared by
// both backends like the rest of `backend.rs`, which includes it. Lists of URIs are JSON arrays
// in a TEXT column; a client's secret is only ever its digest.

use sesame_core::oidc::{Client, ClientKind, NewClient, RedirectUri};
use sesame_core::store::{ClientStore, ClientTx};

/// `SELECT … FROM oidc_clients` followed by `$rest` (static SQL only).
macro_rules! client_select {
    ($rest:literal) => {
        concat!(
            "SELECT client_id, name, kind, redirect_uris, post_logout_redirect_uris, backchannel_logout_uri,",
            " first_party, require_second_factor, require_pkce, id_token_alg, secret_digest, created_at, secret_rotated_at",
            " FROM oidc_clients",
            $rest
        )
    };
}

#[derive(Debug, sqlx::FromRow)]
struct ClientRow {
    client_id: String,
    name: String,
    kind: String,
    redirect_uris: String,
    post_logout_redirect_uris: String,
    backchannel_logout_uri: Option<String>,
    first_party: bool,
    require_second_factor: bool,
    require_pkce: bool,
    id_token_alg: String,
    secret_digest: Option<Vec<u8>>,
    created_at: i64,
    secret_rotated_at: Option<i64>,
}

impl TryFrom<ClientRow> for Client {
    type Error = StoreError;

    fn try_from(r: ClientRow) -> Result<Self, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("OpenID client {}: {what}", r.client_id));
        let kind = ClientKind::parse(&r.kind).ok_or_else(|| corrupt("kind"))?;
        let id_token_alg = Alg::parse(&r.id_token_alg).ok_or_else(|| corrupt("id_token_alg"))?;
        let uris: Vec<String> = serde_json::from_str(&r.redirect_uris).map_err(|_| corrupt("redirect_uris"))?;
        let redirect_uris = uris.into_iter().map(RedirectUri::stored).collect();
        let post_logout_redirect_uris =
            serde_json::from_str(&r.post_logout_redirect_uris).map_err(|_| corrupt("post_logout_redirect_uris"))?;
        Ok(Self {
            kind,
            redirect_uris,
            post_logout_redirect_uris,
            backchannel_logout_uri: r.backchannel_logout_uri,
            first_party: r.first_party,
            require_second_factor: r.require_second_factor,
            require_pkce: r.require_pkce,
            id_token_alg,
            secret_digest: r.secret_digest,
            created_at: from_unix_millis(r.created_at),
            secret_rotated_at: r.secret_rotated_at.map(from_unix_millis),
            name: r.name,
            client_id: r.client_id,
        })
    }
}

#[async_trait]
impl ClientStore for SqlStore {
    async fn oidc_clients(&self) -> StoreResult<Vec<Client>> {
        let rows = sqlx::query_as::<_, ClientRow>(client_select!(" ORDER BY id"))
            .fetch_all(&mut *self.readers.acquire().await?)
            .await
            .map_err(map_err)?;
        rows.into_iter().map(Client::try_from).collect()
    }

    async fn oidc_client(&self, client_id: &str) -> StoreResult<Option<Client>> {
        let row = sqlx::query_as::<_, ClientRow>(client_select!(" WHERE client_id = $1"))
            .bind(client_id)
            .fetch_optional(&mut *self.readers.acquire().await?)
            .await
            .map_err(map_err)?;
        row.map(Client::try_from).transpose()
    }
}

#[async_trait]
impl ClientTx for SqlTx {
    async fn insert_client(&mut self, client: &NewClient, now: OffsetDateTime) -> StoreResult<()> {
        let uris: Vec<&str> = client.redirect_uris.iter().map(RedirectUri::as_str).collect();
        sqlx::query(concat!(
            "INSERT INTO oidc_clients (client_id, name, kind, redirect_uris, post_logout_redirect_uris,",
            " backchannel_logout_uri, first_party, require_second_factor, require_pkce, id_token_alg, secret_digest,",
            " created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        ))
        .bind(&client.client_id)
        .bind(&client.name)
        .bind(client.kind.as_str())
        .bind(serde_json::json!(uris).to_string())
        .bind(serde_json::json!(client.post_logout_redirect_uris).to_string())
        .bind(&client.backchannel_logout_uri)
        .bind(client.first_party)
        .bind(client.require_second_factor)
        .bind(client.require_pkce)
        .bind(client.id_token_alg.as_str())
        .bind(&client.secret_digest)
        .bind(to_unix_millis(now))
        .execute(&mut *self.conn)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn set_client_secret(&mut self, client_id: &str, digest: &[u8], now: OffsetDateTime) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE oidc_clients SET secret_digest = $1, secret_rotated_at = $2 WHERE client_id = $3 AND kind = 'confidential'",
        )
        .bind(digest)
        .bind(to_unix_millis(now))
        .bind(client_id)
        .execute(&mut *self.conn)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_client(&mut self, client_id: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM oidc_clients WHERE client_id = $1")
            .bind(client_id)
            .execute(&mut *self.conn)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }
}
