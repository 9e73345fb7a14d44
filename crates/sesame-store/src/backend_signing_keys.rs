// The token-signing keys of the OpenID Connect provider (`sesame_core::store::{SigningKeyStore,
// SigningKeyTx}`), included by `backend.rs`. The private key is sealed here under the key ring,
// bound to its kid, and opened here: nothing above the store sees a sealed value.

use sesame_core::signing::Alg;
use sesame_core::store::{SigningKeyStore, SigningKeyTx, StoredSigningKey, signing_key_sealing_context};

#[async_trait]
impl SigningKeyStore for SqlStore {
    async fn signing_keys(&self) -> StoreResult<Vec<StoredSigningKey>> {
        let rows: Vec<(String, String, Vec<u8>, i64, i64)> =
            sqlx::query_as("SELECT kid, alg, sealed, created_at, active_from FROM oidc_signing_keys ORDER BY id")
                .fetch_all(&mut *self.readers.acquire().await?)
                .await
                .map_err(map_err)?;
        let ring = self.sealer.ring();
        rows.into_iter()
            .map(|(kid, alg, sealed, created_at, active_from)| {
                let alg = Alg::parse(&alg)
                    .ok_or_else(|| StoreError::Corrupt(format!("OpenID signing key {kid}: algorithm '{alg}'")))?;
                let pkcs8 = ring.open(&signing_key_sealing_context(&kid), &sealed).map(secrecy::SecretSlice::from);
                Ok(StoredSigningKey {
                    kid,
                    alg,
                    pkcs8,
                    created_at: from_unix_millis(created_at),
                    active_from: from_unix_millis(active_from),
                })
            })
            .collect()
    }
}

#[async_trait]
impl SigningKeyTx for SqlTx {
    async fn insert_signing_key(
        &mut self,
        kid: &str,
        alg: Alg,
        pkcs8: &[u8],
        active_from: OffsetDateTime,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        let ring = self.sealer.ring();
        sqlx::query(concat!(
            "INSERT INTO oidc_signing_keys (kid, alg, sealed, sealed_key, created_at, active_from)",
            " VALUES ($1, $2, $3, $4, $5, $6)"
        ))
        .bind(kid)
        .bind(alg.as_str())
        .bind(ring.seal(&signing_key_sealing_context(kid), pkcs8))
        .bind(ring.primary_id())
        .bind(to_unix_millis(now))
        .bind(to_unix_millis(active_from))
        .execute(&mut *self.conn)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn delete_signing_key(&mut self, kid: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM oidc_signing_keys WHERE kid = $1")
            .bind(kid)
            .execute(&mut *self.conn)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }
}

/// Seals the signing keys under the ring's first key (after a rotation of the ring).
async fn reseal_signing_keys(tx: &mut SqlTx, ring: &KeyRing, report: &mut Resealed) -> StoreResult<()> {
    let rows: Vec<(i64, String, Vec<u8>)> = sqlx::query_as("SELECT id, kid, sealed FROM oidc_signing_keys")
        .fetch_all(&mut *tx.conn)
        .await
        .map_err(map_err)?;
    let rows = rows.into_iter().map(|(id, kid, sealed)| (id, signing_key_sealing_context(&kid), sealed));
    reseal_rows(tx, ring, rows, "UPDATE oidc_signing_keys SET sealed = $1, sealed_key = $2 WHERE id = $3", report).await
}
