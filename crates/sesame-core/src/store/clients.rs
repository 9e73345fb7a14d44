//! The OpenID Connect half of the storage port: registered clients and token-signing keys. A
//! client's secret is stored as its SHA-256 digest only (it is a random 256-bit value, shown
//! once); a signing key is sealed under the key ring, like every secret read back.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::client::{Client, NewClient};
use crate::keys::OpenError;
use crate::signing::Alg;
use crate::store::StoreResult;
use secrecy::SecretSlice;

#[async_trait]
pub trait ClientStore {
    /// Every registered client, oldest first.
    async fn oidc_clients(&self) -> StoreResult<Vec<Client>>;
    async fn oidc_client(&self, client_id: &str) -> StoreResult<Option<Client>>;
}

#[async_trait]
pub trait ClientTx {
    /// Registers a client (its random `client_id` is unique: a duplicate is a database error).
    async fn insert_client(&mut self, client: &NewClient, now: OffsetDateTime) -> StoreResult<()>;
    /// Replaces a confidential client's secret digest; false if there is no such client.
    async fn set_client_secret(&mut self, client_id: &str, digest: &[u8], now: OffsetDateTime) -> StoreResult<bool>;
    /// Removes a client; false if there was none.
    async fn delete_client(&mut self, client_id: &str) -> StoreResult<bool>;
}

/// A token-signing key as the store gives it back: its private half opened from its seal.
pub struct StoredSigningKey {
    /// The RFC 7638 thumbprint of its public half.
    pub kid: String,
    pub alg: Alg,
    /// The PKCS#8 document, or why the key ring could not open it.
    pub pkcs8: Result<SecretSlice<u8>, OpenError>,
    /// Published in the JWK Set from then.
    pub created_at: OffsetDateTime,
    /// Signs from then, until a newer key of its algorithm does.
    pub active_from: OffsetDateTime,
}

impl std::fmt::Debug for StoredSigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredSigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("readable", &self.pkcs8.is_ok())
            .field("active_from", &self.active_from)
            .finish_non_exhaustive()
    }
}

#[async_trait]
pub trait SigningKeyStore {
    /// Every signing key, oldest first, each opened (sealed at rest under the key ring).
    async fn signing_keys(&self) -> StoreResult<Vec<StoredSigningKey>>;
}

#[async_trait]
pub trait SigningKeyTx {
    /// Stores a key, sealed under the key ring's first key and bound to its `kid`.
    async fn insert_signing_key(
        &mut self,
        kid: &str,
        alg: Alg,
        pkcs8: &[u8],
        active_from: OffsetDateTime,
        now: OffsetDateTime,
    ) -> StoreResult<()>;
    /// Removes a key; false if there was none.
    async fn delete_signing_key(&mut self, kid: &str) -> StoreResult<bool>;
}

/// What a signing key's seal is bound to: a sealed key copied to another row does not open.
pub fn signing_key_sealing_context(kid: &str) -> Vec<u8> {
    format!("oidc_signing_key/{kid}").into_bytes()
}
