//! The OpenID Connect half of the storage port: registered clients. A client's secret is
//! stored as its SHA-256 digest only (it is a random 256-bit value, shown once).

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::client::{Client, NewClient};
use crate::store::StoreResult;

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
