//! The second factors' half of the storage port: authenticator apps, recovery codes, the
//! tickets between a password and its second step. The store seals the TOTP secrets (bound to
//! their account) and opens them for the use cases, which therefore never see a sealed value.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::factor::{FactorId, NewTicket, SecondFactor, Ticket};
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

#[async_trait]
pub trait FactorStore {
    /// The account's second factors, confirmed or waiting for their first code, oldest first.
    async fn second_factors_of(&self, account: AccountId) -> StoreResult<Vec<SecondFactor>>;
    /// The account's authenticator apps with their secrets opened, oldest first.
    async fn totp_factors_of(&self, account: AccountId) -> StoreResult<Vec<TotpFactor>>;
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
    /// Removes every factor of the account but `keep` (confirmed or waiting); returns how many.
    async fn delete_other_factors(&mut self, account: AccountId, keep: Option<FactorId>) -> StoreResult<u64>;
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
