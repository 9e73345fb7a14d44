//! What OpenID Connect grants, in the storage port: consents (per account and client) and
//! authorization codes (their digest only).

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::model::AccountId;
use crate::session::{AuthMethod, SessionId};
use crate::store::StoreResult;

/// An authorization code to store: its digest, and what its tokens will say.
#[derive(Debug, Clone)]
pub struct NewCode {
    pub code_hash: Vec<u8>,
    pub client_id: String,
    pub account_id: AccountId,
    /// The browser session it was issued in (`sid`).
    pub session_id: SessionId,
    pub redirect_uri: String,
    /// Granted scopes, space-separated.
    pub scopes: String,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub auth_time: OffsetDateTime,
    pub auth_method: AuthMethod,
    pub expires_at: OffsetDateTime,
}

/// A service a person let in, as "Applications autorisées" lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    pub client_id: String,
    pub client_name: String,
    /// Space-separated.
    pub scopes: String,
    pub granted_at: OffsetDateTime,
}

#[async_trait]
pub trait GrantStore {
    /// The scopes this account let this client have, if it did.
    async fn consent(&self, account: AccountId, client_id: &str) -> StoreResult<Option<String>>;
    /// Every consent of the account, most recent first.
    async fn consents_of(&self, account: AccountId) -> StoreResult<Vec<Consent>>;
}

#[async_trait]
pub trait GrantTx {
    /// Records (or replaces) the account's consent for the client.
    async fn save_consent(
        &mut self,
        account: AccountId,
        client_id: &str,
        scopes: &str,
        now: OffsetDateTime,
    ) -> StoreResult<()>;
    /// Withdraws it; false if there was none.
    async fn delete_consent(&mut self, account: AccountId, client_id: &str) -> StoreResult<bool>;
    async fn insert_code(&mut self, code: &NewCode, now: OffsetDateTime) -> StoreResult<()>;
}
