//! Rows as the databases return them, and their conversion to domain types.

use sesame_core::audit::AuditRecord;
use sesame_core::clock::from_unix_millis;
use sesame_core::factor::{FactorId, FactorKind, SecondFactor};
use sesame_core::keys::{KeyRing, OpenError};
use sesame_core::mail::{MailMessage, QueuedMail};
use sesame_core::model::{Account, AccountId, AccountStatus, PasswordCredential};
use sesame_core::session::{ApiToken, AuthMethod, Session, SessionId, ThrottleState, TokenKind};
use sesame_core::store::StoreError;
use sesame_core::types::{Email, Identifier, NationalId, PersonName};

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct AccountRow {
    id: i64,
    identifier: String,
    email: String,
    first_name: String,
    last_name: String,
    national_id: Option<String>,
    status: String,
    created_at: i64,
    updated_at: i64,
}

fn corrupt(what: &str, id: i64, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("account {id}: stored {what} is invalid: {e}"))
}

impl TryFrom<AccountRow> for Account {
    type Error = StoreError;

    fn try_from(r: AccountRow) -> Result<Self, StoreError> {
        let id = r.id;
        Ok(Self {
            id: AccountId(id),
            identifier: Identifier::parse(&r.identifier).map_err(|e| corrupt("identifier", id, e))?,
            email: Email::parse(&r.email).map_err(|e| corrupt("e-mail", id, e))?,
            first_name: PersonName::parse(&r.first_name, "first name").map_err(|e| corrupt("first name", id, e))?,
            last_name: PersonName::parse(&r.last_name, "last name").map_err(|e| corrupt("last name", id, e))?,
            national_id: r
                .national_id
                .map(|n| NationalId::from_id_nat_ps(&n))
                .transpose()
                .map_err(|e| corrupt("national identifier", id, e))?,
            status: AccountStatus::parse(&r.status).ok_or_else(|| corrupt("status", id, &r.status))?,
            created_at: from_unix_millis(r.created_at),
            updated_at: from_unix_millis(r.updated_at),
        })
    }
}

/// An account and a count read with it.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct AccountWithCountRow {
    #[sqlx(flatten)]
    account: AccountRow,
    count: i64,
}

impl AccountWithCountRow {
    pub(crate) fn split(self) -> Result<(Account, u32), StoreError> {
        Ok((Account::try_from(self.account)?, u32::try_from(self.count).unwrap_or(u32::MAX)))
    }
}

pub(crate) fn accounts(rows: Vec<AccountRow>) -> Result<Vec<Account>, StoreError> {
    rows.into_iter().map(Account::try_from).collect()
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct CredentialRow {
    phc: String,
    temporary_until: Option<i64>,
    changed_at: i64,
}

impl From<CredentialRow> for PasswordCredential {
    fn from(r: CredentialRow) -> Self {
        Self {
            phc: r.phc,
            temporary_until: r.temporary_until.map(from_unix_millis),
            changed_at: from_unix_millis(r.changed_at),
        }
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct AuditRow {
    id: i64,
    occurred_at: i64,
    action: String,
    outcome: String,
    actor: String,
    account_id: Option<i64>,
    account_identifier: Option<String>,
    ip: Option<String>,
    user_agent: Option<String>,
    details: String,
    request_id: Option<String>,
}

impl From<AuditRow> for AuditRecord {
    fn from(r: AuditRow) -> Self {
        Self {
            id: r.id,
            at: from_unix_millis(r.occurred_at),
            action: r.action,
            outcome: r.outcome,
            actor: r.actor,
            account_id: r.account_id,
            account_identifier: r.account_identifier,
            ip: r.ip,
            user_agent: r.user_agent,
            details: serde_json::from_str(&r.details).unwrap_or(serde_json::Value::String(r.details)),
            request_id: r.request_id,
        }
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct OutboxRow {
    id: i64,
    account_id: Option<i64>,
    kind: String,
    recipient: String,
    recipient_name: String,
    payload: String,
    sealed: Option<Vec<u8>>,
    attempts: i64,
    created_at: i64,
}

impl OutboxRow {
    pub(crate) fn id(&self) -> i64 {
        self.id
    }

    /// The claimed e-mail, its secret opened with `ring` (or the reason it cannot be).
    pub(crate) fn open(self, ring: &KeyRing) -> Result<QueuedMail, StoreError> {
        let redacted: MailMessage = serde_json::from_str(&self.payload)
            .map_err(|e| StoreError::Corrupt(format!("outbox message {}: {e}", self.id)))?;
        let message = match &self.sealed {
            // Sealed: the secret opens only with a key of the ring, in a row like this one.
            Some(sealed) => ring
                .open(&MailMessage::sealing_context(&self.kind, &self.recipient), sealed)
                .and_then(|secret| String::from_utf8(secret).map_err(|_| OpenError::Corrupt))
                .map(|secret| redacted.with_secret(secret)),
            // No secret, or one an older version left in clear (sealed at the next migration).
            None => Ok(redacted),
        };
        Ok(QueuedMail {
            id: self.id,
            account_id: self.account_id.map(AccountId),
            kind: self.kind,
            to: self.recipient,
            to_name: self.recipient_name,
            message,
            attempts: u32::try_from(self.attempts).unwrap_or(u32::MAX),
            created_at: from_unix_millis(self.created_at),
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct SessionRow {
    id: i64,
    account_id: i64,
    auth_method: String,
    must_change_password: bool,
    ip: Option<String>,
    user_agent: Option<String>,
    created_at: i64,
    last_seen_at: i64,
    idle_expires_at: i64,
    absolute_expires_at: i64,
}

impl TryFrom<SessionRow> for Session {
    type Error = StoreError;

    fn try_from(r: SessionRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: SessionId(r.id),
            account_id: AccountId(r.account_id),
            auth_method: AuthMethod::parse(&r.auth_method)
                .ok_or_else(|| StoreError::Corrupt(format!("session {}: method '{}'", r.id, r.auth_method)))?,
            must_change_password: r.must_change_password,
            ip: r.ip,
            user_agent: r.user_agent,
            created_at: from_unix_millis(r.created_at),
            last_seen_at: from_unix_millis(r.last_seen_at),
            idle_expires_at: from_unix_millis(r.idle_expires_at),
            absolute_expires_at: from_unix_millis(r.absolute_expires_at),
        })
    }
}

/// A session joined with its account: the session's columns, then the account's (its id is the
/// session's `account_id`; its timestamps renamed apart from the session's).
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct SignedInRow {
    #[sqlx(flatten)]
    session: SessionRow,
    identifier: String,
    email: String,
    first_name: String,
    last_name: String,
    national_id: Option<String>,
    status: String,
    account_created_at: i64,
    account_updated_at: i64,
}

impl SignedInRow {
    pub(crate) fn split(self) -> Result<(Session, Account), StoreError> {
        let account = AccountRow {
            id: self.session.account_id,
            identifier: self.identifier,
            email: self.email,
            first_name: self.first_name,
            last_name: self.last_name,
            national_id: self.national_id,
            status: self.status,
            created_at: self.account_created_at,
            updated_at: self.account_updated_at,
        };
        Ok((Session::try_from(self.session)?, Account::try_from(account)?))
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct ThrottleRow {
    consecutive_failures: i64,
    window_started_at: i64,
    window_failures: i64,
    blocked_until: Option<i64>,
}

impl From<ThrottleRow> for ThrottleState {
    fn from(r: ThrottleRow) -> Self {
        Self {
            consecutive_failures: u32::try_from(r.consecutive_failures).unwrap_or(u32::MAX),
            window_started_at: Some(from_unix_millis(r.window_started_at)),
            window_failures: u32::try_from(r.window_failures).unwrap_or(u32::MAX),
            blocked_until: r.blocked_until.map(from_unix_millis),
        }
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct ApiTokenRow {
    id: i64,
    account_id: i64,
    kind: String,
    family: String,
    client_name: Option<String>,
    auth_method: String,
    ip: Option<String>,
    created_at: i64,
    expires_at: i64,
    used_at: Option<i64>,
    revoked_at: Option<i64>,
}

impl TryFrom<ApiTokenRow> for ApiToken {
    type Error = StoreError;

    fn try_from(r: ApiTokenRow) -> Result<Self, StoreError> {
        let corrupt = |what: &str, value: &str| StoreError::Corrupt(format!("api token {}: {what} '{value}'", r.id));
        Ok(Self {
            id: r.id,
            account_id: AccountId(r.account_id),
            kind: TokenKind::parse(&r.kind).ok_or_else(|| corrupt("kind", &r.kind))?,
            family: r.family.clone(),
            client_name: r.client_name.clone(),
            auth_method: AuthMethod::parse(&r.auth_method).ok_or_else(|| corrupt("method", &r.auth_method))?,
            ip: r.ip.clone(),
            created_at: from_unix_millis(r.created_at),
            expires_at: from_unix_millis(r.expires_at),
            used_at: r.used_at.map(from_unix_millis),
            revoked_at: r.revoked_at.map(from_unix_millis),
        })
    }
}

// --- Second factors ---------------------------------------------------------------------------

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct FactorRow {
    pub(crate) id: i64,
    pub(crate) account_id: i64,
    pub(crate) kind: String,
    pub(crate) name: String,
    pub(crate) created_at: i64,
    pub(crate) confirmed_at: Option<i64>,
    pub(crate) last_used_at: Option<i64>,
}

impl TryFrom<FactorRow> for SecondFactor {
    type Error = StoreError;

    fn try_from(r: FactorRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: FactorId(r.id),
            account_id: AccountId(r.account_id),
            kind: FactorKind::parse(&r.kind)
                .ok_or_else(|| StoreError::Corrupt(format!("second factor {}: kind '{}'", r.id, r.kind)))?,
            name: r.name,
            created_at: from_unix_millis(r.created_at),
            confirmed_at: r.confirmed_at.map(from_unix_millis),
            last_used_at: r.last_used_at.map(from_unix_millis),
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct TotpRow {
    #[sqlx(flatten)]
    pub(crate) factor: FactorRow,
    pub(crate) sealed: Vec<u8>,
    pub(crate) last_step: Option<i64>,
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct SealedRow {
    #[sqlx(flatten)]
    pub(crate) factor: FactorRow,
    pub(crate) sealed: Vec<u8>,
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct TicketRow {
    pub(crate) id: i64,
    pub(crate) account_id: i64,
    pub(crate) channel: String,
    pub(crate) client_name: Option<String>,
    pub(crate) expires_at: i64,
}
