//! The storage port. `sesame-store` implements it for SQLite and PostgreSQL.
//!
//! Use cases open a [`Tx`], make every change a decision implies (account, credential, revoked
//! sessions, queued e-mails, audit events) and commit once: all of it or none of it. Dropping a
//! `Tx` without committing rolls it back.

use async_trait::async_trait;
use std::path::Path;
use time::OffsetDateTime;

use crate::audit::{AuditEvent, AuditFilter, AuditRecord};
use crate::mail::{MailMessage, OutboxMail, QueuedMail};
use crate::model::{Account, AccountFilter, AccountId, AccountStatus, NewAccount, PasswordCredential, UniqueField};
use crate::session::{ApiToken, NewApiToken, NewSession, Session, SessionId, ThrottleState, TokenKind};
use time::Duration;

mod clients;
mod factors;
mod grants;
mod logout;
pub use clients::{
    ClientStore, ClientTx, SigningKeyStore, SigningKeyTx, StoredSigningKey, signing_key_sealing_context,
};
pub use factors::{FactorStore, FactorTx, KeyChallenge, KeyFactor, TotpFactor};
pub use grants::{
    Consent, GrantStore, GrantTx, NewCode, NewOidcToken, OidcFamily, OidcToken, OidcTokenKind, TakenCode, TokenGrant,
};
pub use logout::{LogoutNotice, LogoutNoticeStore};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("an account with this {0} already exists")]
    Conflict(UniqueField),
    #[error("the database is unreachable: {0}")]
    Unavailable(String),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    #[error("{0}")]
    Unsupported(String),
    #[error("database error: {0}")]
    Database(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Which queued secrets [`Store::reseal_secrets`] seals again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reseal {
    /// Only those an older version left in clear (done at every migration).
    ClearOnly,
    /// Every one not under the first key yet (after `sesame secrets rotate`).
    All,
}

/// What re-sealing the outbox did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Resealed {
    /// Values now sealed under the ring's first key (queued secrets, and any an older version
    /// left in clear).
    pub resealed: u64,
    /// Values sealed with a key the ring does not hold: they cannot be opened, and will be
    /// dropped at delivery.
    pub unreadable: u64,
}

/// Counts of what `purge_expired` removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    pub sessions: u64,
    pub tokens: u64,
    pub captchas: u64,
    pub sent_mail: u64,
    /// Second-factor tickets past their five minutes, enrolments never confirmed.
    pub second_factor: u64,
}

#[async_trait]
pub trait Store:
    FactorStore + ClientStore + SigningKeyStore + GrantStore + LogoutNoticeStore + Send + Sync + std::fmt::Debug
{
    /// Starts a write transaction.
    async fn begin(&self) -> StoreResult<Box<dyn Tx>>;

    /// `"sqlite"` or `"postgres"`.
    fn backend(&self) -> &'static str;

    /// Succeeds when the database answers (readiness).
    /// Applies pending schema migrations (embedded in the binary, one tree per backend).
    async fn migrate(&self) -> StoreResult<()>;

    async fn ping(&self) -> StoreResult<()>;

    async fn account_by_id(&self, id: AccountId) -> StoreResult<Option<Account>>;
    /// Look-up by [`crate::types::Identifier::key`].
    async fn account_by_identifier_key(&self, key: &str) -> StoreResult<Option<Account>>;
    /// Look-up by [`crate::types::Email::key`].
    async fn account_by_email_key(&self, key: &str) -> StoreResult<Option<Account>>;
    async fn list_accounts(&self, filter: &AccountFilter) -> StoreResult<Vec<Account>>;
    /// Look-up by national identifier, in its `idNat_PS` form.
    async fn account_by_national_id(&self, id_nat_ps: &str) -> StoreResult<Option<Account>>;
    /// The account a certificate is pinned to (SHA-256 fingerprint of the DER, hex).
    async fn account_by_certificate(&self, fingerprint: &str) -> StoreResult<Option<Account>>;
    /// The certificates pinned to an account: (fingerprint, subject).
    async fn certificates_of(&self, account: AccountId) -> StoreResult<Vec<(String, String)>>;
    async fn password_credential(&self, id: AccountId) -> StoreResult<Option<PasswordCredential>>;

    /// The account's previous password hashes, newest first (the current one included).
    async fn password_history(&self, id: AccountId, limit: u32) -> StoreResult<Vec<String>>;

    async fn audit_events(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditRecord>>;

    /// The live session with this token digest (not revoked, not expired at `now`) and its
    /// account, read together: every signed-in page starts here.
    async fn session_by_token_hash(
        &self,
        token_hash: &[u8],
        now: OffsetDateTime,
    ) -> StoreResult<Option<(Session, Account)>>;
    /// Records activity: pushes the idle expiry (never past the absolute one).
    async fn touch_session(
        &self,
        id: SessionId,
        now: OffsetDateTime,
        idle_expires_at: OffsetDateTime,
    ) -> StoreResult<()>;
    /// The account's live sessions, newest first.
    async fn sessions_of(&self, account: AccountId, now: OffsetDateTime) -> StoreResult<Vec<Session>>;

    /// The account of a live reset link (not used, not revoked, not expired). Uses nothing up.
    async fn reset_token_account(&self, token_hash: &[u8], now: OffsetDateTime) -> StoreResult<Option<AccountId>>;
    /// The account with this identifier key, with how many reset links it was sent since
    /// `since` (used, revoked or not), read together: "Mot de passe oublié" needs both.
    async fn account_and_reset_links_since(
        &self,
        identifier_key: &str,
        since: OffsetDateTime,
    ) -> StoreResult<Option<(Account, u32)>>;

    /// The API token with this digest and kind, live or not (a used refresh token is how reuse
    /// is detected).
    async fn api_token(&self, token_hash: &[u8], kind: TokenKind) -> StoreResult<Option<ApiToken>>;
    /// The account's live desktop sign-ins: its live refresh tokens, newest first.
    async fn api_sessions_of(&self, account: AccountId, now: OffsetDateTime) -> StoreResult<Vec<ApiToken>>;

    /// The throttling counters of an identifier key, if it ever failed.
    async fn throttle_state(&self, key: &str) -> StoreResult<Option<ThrottleState>>;

    /// Counts one hit in `bucket`'s fixed window of length `window` and returns the hits in the
    /// current window, this one included. Shared by every node.
    async fn hit_rate_limit(&self, bucket: &str, now: OffsetDateTime, window: Duration) -> StoreResult<u32>;

    /// Records an event that changes nothing else, in one statement of its own: a refusal or
    /// an ignored request need not open a transaction. Anything that changes state records its
    /// event with [`Tx::append_audit`], in the same transaction.
    async fn append_audit(&self, event: &AuditEvent, now: OffsetDateTime) -> StoreResult<()>;

    /// Claims up to `limit` due e-mails for this node until `lease_until`: no other node (nor
    /// this one) claims them again before then unless they are released.
    async fn claim_due_mail(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<QueuedMail>>;
    /// E-mails not yet delivered nor dropped (the outbox depth).
    async fn pending_mail_count(&self) -> StoreResult<u64>;

    /// The keys the sealed values (queued e-mails' secrets, authenticator apps' secrets) are
    /// sealed with, and how many under each.
    async fn sealed_keys(&self) -> StoreResult<Vec<(String, u64)>>;
    /// Seals queued secrets under the key ring's first key, in one transaction: those an older
    /// version left in clear, and with [`Reseal::All`] (after a rotation) every one.
    async fn reseal_secrets(&self, which: Reseal) -> StoreResult<Resealed>;
    /// Defence in depth after secrets were erased: on SQLite, folds the WAL into the database
    /// and truncates it (deleted content is overwritten, `secure_delete`). Nothing on PostgreSQL.
    async fn compact(&self) -> StoreResult<()>;

    /// Deletes what has expired before `now` (and delivered e-mails older than `sent_before`).
    async fn purge_expired(&self, now: OffsetDateTime, sent_before: OffsetDateTime) -> StoreResult<Purged>;

    /// Writes a consistent copy of the database to `path` while it is in use.
    async fn backup_to(&self, path: &Path) -> StoreResult<()>;
}

/// One write transaction.
#[async_trait]
pub trait Tx: FactorTx + ClientTx + SigningKeyTx + GrantTx + Send {
    async fn identifier_taken(&mut self, key: &str) -> StoreResult<bool>;
    async fn insert_account(&mut self, account: &NewAccount, now: OffsetDateTime) -> StoreResult<AccountId>;
    /// Reads an account inside the transaction (locking its row on PostgreSQL).
    async fn account_for_update(&mut self, id: AccountId) -> StoreResult<Option<Account>>;
    async fn set_account_status(
        &mut self,
        id: AccountId,
        status: AccountStatus,
        now: OffsetDateTime,
    ) -> StoreResult<()>;
    /// Replaces the account's password and appends it to the password history.
    async fn set_password(&mut self, id: AccountId, credential: &PasswordCredential) -> StoreResult<()>;
    /// Ends every session, API token and reset link of the account; returns how many.
    async fn revoke_all_access(&mut self, id: AccountId, now: OffsetDateTime) -> StoreResult<u64>;
    /// Ends the account's API tokens and reset links (sessions are handled separately).
    async fn revoke_tokens_and_links(&mut self, id: AccountId, now: OffsetDateTime) -> StoreResult<u64>;
    async fn enqueue_mail(&mut self, mail: &OutboxMail, now: OffsetDateTime) -> StoreResult<i64>;
    async fn append_audit(&mut self, event: &AuditEvent, now: OffsetDateTime) -> StoreResult<()>;
    /// Marks a claimed e-mail delivered and keeps only its redacted form (its sealed secret
    /// erased).
    async fn mark_mail_sent(&mut self, id: i64, now: OffsetDateTime, redacted: &MailMessage) -> StoreResult<()>;
    /// Gives up a claimed e-mail that cannot be opened (its key is lost): never sent, its
    /// sealed part erased, the reason kept.
    async fn drop_mail(&mut self, id: i64, now: OffsetDateTime, reason: &str) -> StoreResult<()>;
    /// Records a failed attempt and when to try again.
    async fn reschedule_mail(&mut self, id: i64, next_attempt_at: OffsetDateTime, error: &str) -> StoreResult<()>;

    async fn insert_session(&mut self, session: &NewSession) -> StoreResult<SessionId>;
    /// Ends one of the account's sessions; false if it was not live.
    async fn revoke_session(&mut self, account: AccountId, id: SessionId, now: OffsetDateTime) -> StoreResult<bool>;
    /// Ends every session of the account but `keep`.
    async fn revoke_other_sessions(
        &mut self,
        account: AccountId,
        keep: SessionId,
        now: OffsetDateTime,
    ) -> StoreResult<u64>;

    /// Counts one failed sign-in atomically: consecutive failures + 1, and failures in the
    /// current 24-hour window (a new window starts when the last one is older than `window`).
    async fn record_login_failure(
        &mut self,
        key: &str,
        now: OffsetDateTime,
        window: Duration,
    ) -> StoreResult<ThrottleState>;
    async fn set_login_block(&mut self, key: &str, until: Option<OffsetDateTime>) -> StoreResult<()>;
    /// Forgets an identifier's failures (after a success or a password reset).
    async fn clear_login_failures(&mut self, key: &str) -> StoreResult<()>;

    async fn insert_api_token(&mut self, token: &NewApiToken) -> StoreResult<()>;
    /// Pins a certificate to an account; a fingerprint pinned elsewhere is a conflict.
    async fn bind_certificate(
        &mut self,
        account: AccountId,
        fingerprint: &str,
        subject: &str,
        now: OffsetDateTime,
    ) -> StoreResult<()>;
    /// Removes a pin; false if there was none.
    async fn unbind_certificate(&mut self, account: AccountId, fingerprint: &str) -> StoreResult<bool>;
    /// Uses a live single-use token (refresh, change ticket) up, atomically; false if it was not live.
    async fn use_api_token(&mut self, id: i64, now: OffsetDateTime) -> StoreResult<bool>;
    /// Revokes every token of a family (one desktop sign-in); returns how many were live.
    async fn revoke_token_family(&mut self, account: AccountId, family: &str, now: OffsetDateTime) -> StoreResult<u64>;

    /// Issues a reset link; earlier live links of the account are revoked (a newer request wins).
    async fn insert_reset_token(
        &mut self,
        account: AccountId,
        token_hash: &[u8],
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> StoreResult<()>;
    /// Uses a live reset link up, atomically: of two concurrent calls, one gets the account.
    async fn consume_reset_token(&mut self, token_hash: &[u8], now: OffsetDateTime) -> StoreResult<Option<AccountId>>;

    async fn insert_captcha(
        &mut self,
        challenge_hash: &[u8],
        answer_hash: &[u8],
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> StoreResult<()>;
    /// Uses up a live challenge and returns its answer digest; `None` if unknown, used or expired.
    async fn take_captcha(&mut self, challenge_hash: &[u8], now: OffsetDateTime) -> StoreResult<Option<Vec<u8>>>;

    async fn commit(self: Box<Self>) -> StoreResult<()>;
}
