//! The second factors' half of the storage port: authenticator apps, security keys, recovery
//! codes, the tickets between a password and its second step. The store seals the TOTP secrets
//! and the keys' credentials (bound to their account) and opens them for the use cases, which
//! therefore never see a sealed value. A key's credential is opaque bytes here (the crate's
//! JSON): the store knows nothing of WebAuthn.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::factor::{FactorId, FactorKind, NewTicket, SecondFactor, Ticket};
use crate::keys::OpenError;
use crate::model::AccountId;
use crate::store::StoreResult;
use crate::totp::TotpSecret;

/// An authenticator app with its secret opened, and its last accepted step.
#[derive(Debug, Clone)]
pub struct TotpFactor {
    pub factor: SecondFactor,
    /// Opened with the key ring; an error when its key is no longer in the ring.
    pub secret: Result<TotpSecret, OpenError>,
    pub last_step: Option<i64>,
}

/// A security key, its credential opened: while it waits for its first use, the registration's
/// state instead.
#[derive(Debug, Clone)]
pub struct KeyFactor {
    pub factor: SecondFactor,
    /// Opened with the key ring; an error when its key is no longer in the ring.
    pub credential: Result<Vec<u8>, OpenError>,
}

/// The live challenge of a key's ceremony for an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyChallenge {
    pub id: i64,
    pub state: String,
}

#[async_trait]
pub trait FactorStore {
    /// The account's second factors, confirmed or waiting for their first code, oldest first.
    async fn second_factors_of(&self, account: AccountId) -> StoreResult<Vec<SecondFactor>>;
    /// The account's authenticator apps with their secrets opened, oldest first.
    async fn totp_factors_of(&self, account: AccountId) -> StoreResult<Vec<TotpFactor>>;
    /// The account's security keys with their credentials opened, oldest first.
    async fn key_factors_of(&self, account: AccountId) -> StoreResult<Vec<KeyFactor>>;
    /// The account's live key challenge (unexpired at `now`), if any.
    async fn key_challenge(&self, account: AccountId, now: OffsetDateTime) -> StoreResult<Option<KeyChallenge>>;
    /// How many of the account's recovery codes are still unused.
    async fn recovery_codes_left(&self, account: AccountId) -> StoreResult<u32>;
    /// The live ticket (unused, unexpired at `now`) with this digest.
    async fn second_factor_ticket(&self, token_hash: &[u8], now: OffsetDateTime) -> StoreResult<Option<Ticket>>;
}

#[async_trait]
pub trait FactorTx {
    /// Records an authenticator app waiting for its first code; the secret is sealed.
    async fn insert_totp(
        &mut self,
        account: AccountId,
        name: &str,
        secret: &TotpSecret,
        now: OffsetDateTime,
    ) -> StoreResult<FactorId>;
    /// Records a security key waiting for its registration; the state is sealed.
    async fn insert_key(
        &mut self,
        account: AccountId,
        name: &str,
        state: &[u8],
        now: OffsetDateTime,
    ) -> StoreResult<FactorId>;
    /// Confirms a waiting key with its credential (sealed) and the authenticator's credential
    /// id; false if it was not waiting, or if this credential is already registered (to this
    /// account or another).
    async fn confirm_key(
        &mut self,
        account: AccountId,
        id: FactorId,
        credential: &[u8],
        credential_id: &[u8],
        now: OffsetDateTime,
    ) -> StoreResult<bool>;
    /// Records a key's use: its credential sealed again (counter, flags), `last_used_at`.
    async fn update_key(
        &mut self,
        account: AccountId,
        id: FactorId,
        credential: &[u8],
        now: OffsetDateTime,
    ) -> StoreResult<()>;
    /// Stores the account's key challenge, replacing any earlier one; returns its id.
    async fn replace_key_challenge(
        &mut self,
        account: AccountId,
        state: &str,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> StoreResult<i64>;
    /// Uses a live key challenge up, atomically; false if it was not (or no longer) live.
    async fn use_key_challenge(&mut self, id: i64, now: OffsetDateTime) -> StoreResult<bool>;
    /// Confirms a waiting factor with the step of its first code; false if it was not waiting.
    async fn confirm_factor(
        &mut self,
        account: AccountId,
        id: FactorId,
        step: i64,
        now: OffsetDateTime,
    ) -> StoreResult<bool>;
    /// Accepts a TOTP step, atomically: false if this step (or a later one) was already
    /// accepted, so that of two concurrent uses of one code only one gets through.
    async fn use_totp_step(&mut self, id: FactorId, step: i64, now: OffsetDateTime) -> StoreResult<bool>;
    /// Removes one of the account's factors; false if there was none.
    async fn delete_factor(&mut self, account: AccountId, id: FactorId) -> StoreResult<bool>;
    /// Removes every factor of the account but `keep` (confirmed or waiting), only those of
    /// `kind` if given; returns how many.
    async fn delete_other_factors(
        &mut self,
        account: AccountId,
        keep: Option<FactorId>,
        kind: Option<FactorKind>,
    ) -> StoreResult<u64>;
    /// Replaces the account's recovery codes by a new batch of digests.
    async fn replace_recovery_codes(
        &mut self,
        account: AccountId,
        digests: &[Vec<u8>],
        now: OffsetDateTime,
    ) -> StoreResult<()>;
    /// Uses up one unused recovery code, atomically; the codes left after it, or `None` if no
    /// unused code has this digest.
    async fn use_recovery_code(
        &mut self,
        account: AccountId,
        digest: &[u8],
        now: OffsetDateTime,
    ) -> StoreResult<Option<u32>>;
    async fn insert_second_factor_ticket(&mut self, ticket: &NewTicket) -> StoreResult<()>;
    /// Uses a live ticket up, atomically; false if it was not live.
    async fn use_second_factor_ticket(&mut self, id: i64, now: OffsetDateTime) -> StoreResult<bool>;
}
