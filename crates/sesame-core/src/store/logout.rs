//! The queue of OpenID Connect back-channel logout notices. A notice is written by the store in
//! the transaction that ends a browser session (`Tx::revoke_session`, `revoke_other_sessions`,
//! `revoke_all_access`), one per service with a back-channel logout URI that was given tokens
//! in that session; this port is how the worker takes them and records what became of them.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::model::AccountId;
use crate::session::SessionId;
use crate::store::StoreResult;

/// A service owed a logout token for a session that ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutNotice {
    pub id: i64,
    pub client_id: String,
    pub account: AccountId,
    pub session: SessionId,
    /// Attempts so far, this one included.
    pub attempts: u32,
    pub created_at: OffsetDateTime,
}

#[async_trait]
pub trait LogoutNoticeStore {
    /// Leases up to `limit` notices due at `now` and not leased by another node, oldest first.
    async fn claim_logout_notices(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<LogoutNotice>>;
    /// The service accepted the logout token.
    async fn logout_notice_delivered(&self, id: i64, now: OffsetDateTime) -> StoreResult<()>;
    /// Not accepted: tried again at `next_attempt_at`.
    async fn reschedule_logout_notice(&self, id: i64, next_attempt_at: OffsetDateTime, error: &str) -> StoreResult<()>;
    /// Notices not delivered yet.
    async fn pending_logout_notices(&self) -> StoreResult<u64>;
}
