//! What OpenID Connect grants, in the storage port: consents (per account and client),
//! authorization codes and the tokens they are exchanged for (their digests only).

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

/// A code found at the token endpoint, and whether this was its first exchange (it is used up
/// either way).
#[derive(Debug, Clone)]
pub struct TakenCode {
    pub id: i64,
    pub code: NewCode,
    pub first_use: bool,
    /// Whether the browser session it was issued in is still open.
    pub session_alive: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OidcTokenKind {
    /// Presented to the userinfo endpoint and to the services' own APIs.
    Access,
    /// Single use: each refresh gives a new one.
    Refresh,
}

impl OidcTokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Access => "access",
            Self::Refresh => "refresh",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "access" => Some(Self::Access),
            "refresh" => Some(Self::Refresh),
            _ => None,
        }
    }
}

/// What every token of a family says. The family is one code exchange and its refreshes,
/// named by the code's id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenGrant {
    pub code_id: i64,
    pub client_id: String,
    pub account_id: AccountId,
    pub session_id: SessionId,
    /// `offline_access`: the family outlives the browser session.
    pub offline: bool,
    /// Space-separated.
    pub scopes: String,
    pub auth_time: OffsetDateTime,
    pub auth_method: AuthMethod,
}

#[derive(Debug, Clone)]
pub struct NewOidcToken {
    pub token_hash: Vec<u8>,
    pub kind: OidcTokenKind,
    pub grant: TokenGrant,
    pub expires_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcToken {
    pub id: i64,
    pub kind: OidcTokenKind,
    pub grant: TokenGrant,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub used_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
    /// Whether the browser session it was issued in is still open (at the time asked).
    pub session_alive: bool,
}

impl OidcToken {
    /// Not used, not revoked, not expired; and, unless offline, its browser session open.
    pub fn is_live(&self, now: OffsetDateTime) -> bool {
        self.used_at.is_none()
            && self.revoked_at.is_none()
            && self.expires_at > now
            && (self.grant.offline || self.session_alive)
    }
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

/// A family of tokens a service holds for the account, as "Mon compte" lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcFamily {
    /// The family's name: the id of the code it began with.
    pub code_id: i64,
    pub client_id: String,
    pub client_name: String,
    /// `offline_access`: it outlives the browser session.
    pub offline: bool,
    pub auth_method: AuthMethod,
    pub auth_time: OffsetDateTime,
    /// When its live refresh token was issued: the last exchange or refresh.
    pub last_used_at: OffsetDateTime,
}

#[async_trait]
pub trait GrantStore {
    /// The scopes this account let this client have, if it did.
    async fn consent(&self, account: AccountId, client_id: &str) -> StoreResult<Option<String>>;
    /// Every consent of the account, most recent first.
    async fn consents_of(&self, account: AccountId) -> StoreResult<Vec<Consent>>;
    /// A token by its digest, whatever its state.
    async fn oidc_token(&self, token_hash: &[u8], now: OffsetDateTime) -> StoreResult<Option<OidcToken>>;
    /// The account's token families that can still be refreshed (a live refresh token, and an
    /// open browser session unless `offline`), most recently used first.
    async fn oidc_families_of(&self, account: AccountId, now: OffsetDateTime) -> StoreResult<Vec<OidcFamily>>;
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
    /// The code with this digest, marked used. `first_use` is false when it already was (a
    /// replay, or the loser of two concurrent exchanges).
    async fn take_code(&mut self, code_hash: &[u8], now: OffsetDateTime) -> StoreResult<Option<TakenCode>>;
    async fn insert_oidc_token(&mut self, token: &NewOidcToken, now: OffsetDateTime) -> StoreResult<()>;
    /// Marks a refresh token used; false if it already was, or was revoked.
    async fn use_oidc_token(&mut self, id: i64, now: OffsetDateTime) -> StoreResult<bool>;
    /// Revokes every token of the family (the code's id); how many were live.
    async fn revoke_oidc_family(&mut self, code_id: i64, now: OffsetDateTime) -> StoreResult<u64>;
}
