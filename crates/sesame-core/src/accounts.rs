//! Account administration use cases: create, issue a temporary password, disable, enable.
//! The CLI calls them today; the web and API layers call the same ones.

use serde::{Deserialize, Serialize};
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

use crate::audit::{AuditAction, AuditEvent, Outcome, RequestContext};
use crate::deps::Deps;
use crate::hashing::HashError;
use crate::mail::{IssueReason, MailMessage, OutboxMail};
use crate::model::{Account, AccountId, AccountStatus, NewAccount, PasswordCredential, UniqueField};
use crate::secret::generate_temporary_password;
use crate::store::{Store, StoreError, Tx};
use crate::types::{Email, Identifier, NationalId, Password, PersonName};

/// `[accounts]` settings.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct AccountSettings {
    /// How long a temporary password is valid, in days (default 7, as the guide says).
    pub temporary_password_days: u32,
}

impl Default for AccountSettings {
    fn default() -> Self {
        Self { temporary_password_days: 7 }
    }
}

impl AccountSettings {
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        if (1..=90).contains(&self.temporary_password_days) {
            Vec::new()
        } else {
            vec![("accounts.temporary_password_days", "must be between 1 and 90".into())]
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("an account with this {0} already exists")]
    Duplicate(UniqueField),
    #[error("no account matches '{0}'")]
    NotFound(String),
    #[error("the account '{0}' is disabled; enable it first")]
    Disabled(String),
    #[error("could not find a free identifier derived from '{0}'; give one with --identifier")]
    NoFreeIdentifier(String),
    #[error(transparent)]
    Hash(#[from] HashError),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for AccountError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(field) => Self::Duplicate(field),
            other => Self::Store(other),
        }
    }
}

impl AccountError {
    /// Whether the operator's input is at fault (exit 2) rather than the system (exit 1).
    pub fn is_bad_input(&self) -> bool {
        match self {
            Self::Duplicate(_) | Self::NotFound(_) | Self::Disabled(_) | Self::NoFreeIdentifier(_) => true,
            Self::Store(StoreError::Unavailable(_)) => true,
            Self::Hash(_) | Self::Store(_) => false,
        }
    }
}

/// `account create` input, already parsed.
#[derive(Debug, Clone)]
pub struct CreateAccount {
    /// `None`: derived from the names (`jdupont`, then `jdupont2`, …).
    pub identifier: Option<Identifier>,
    pub email: Email,
    pub first_name: PersonName,
    pub last_name: PersonName,
    pub national_id: Option<NationalId>,
}

/// An account with a freshly issued temporary password (shown once, then only hashed).
#[derive(Debug)]
pub struct IssuedPassword {
    pub account: Account,
    pub temporary_password: Password,
    pub valid_until: OffsetDateTime,
}

#[derive(Debug, Clone)]
pub struct AccountService {
    deps: Deps,
    settings: AccountSettings,
}

const MAX_DERIVED_CANDIDATES: u32 = 1000;
const MAX_INSERT_ATTEMPTS: u32 = 3;

impl AccountService {
    pub fn new(deps: Deps, settings: AccountSettings) -> Self {
        Self { deps, settings }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.deps.store
    }

    /// How long a temporary password is valid, in days.
    pub fn temporary_password_days(&self) -> u32 {
        self.settings.temporary_password_days
    }

    pub(crate) fn now(&self) -> OffsetDateTime {
        self.deps.now()
    }

    /// Finds an account by identifier, e-mail address or `#id`.
    pub async fn find(&self, reference: &str) -> Result<Account, AccountError> {
        let reference = reference.trim();
        let found = if let Some(id) = reference.strip_prefix('#').and_then(|n| n.parse().ok()) {
            self.deps.store.account_by_id(AccountId(id)).await?
        } else if reference.contains('@') {
            match Email::parse(reference) {
                Ok(email) => self.deps.store.account_by_email_key(&email.key()).await?,
                Err(_) => None,
            }
        } else {
            self.deps.store.account_by_identifier_key(&Identifier::key_of(reference)).await?
        };
        found.ok_or_else(|| AccountError::NotFound(reference.to_owned()))
    }

    /// Creates the account, issues its temporary password, queues the two e-mails and the audit
    /// events: one transaction.
    pub async fn create_account(
        &self,
        request: CreateAccount,
        ctx: &RequestContext,
    ) -> Result<IssuedPassword, AccountError> {
        let temporary_password = generate_temporary_password();
        let phc = self.deps.hasher.hash(&temporary_password).await?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.try_create(&request, &temporary_password, &phc, ctx).await {
                // A concurrent creation took the derived identifier first: derive again.
                Err(AccountError::Duplicate(UniqueField::Identifier))
                    if request.identifier.is_none() && attempt < MAX_INSERT_ATTEMPTS => {}
                other => return other,
            }
        }
    }

    async fn try_create(
        &self,
        request: &CreateAccount,
        temporary_password: &Password,
        phc: &str,
        ctx: &RequestContext,
    ) -> Result<IssuedPassword, AccountError> {
        let now = self.deps.now();
        let mut tx = self.deps.store.begin().await?;
        let identifier = match &request.identifier {
            Some(id) => id.clone(),
            None => free_identifier(tx.as_mut(), &request.first_name, &request.last_name).await?,
        };
        let new = NewAccount {
            identifier,
            email: request.email.clone(),
            first_name: request.first_name.clone(),
            last_name: request.last_name.clone(),
            national_id: request.national_id.clone(),
        };
        let id = tx.insert_account(&new, now).await?;
        let account = Account {
            id,
            identifier: new.identifier,
            email: new.email,
            first_name: new.first_name,
            last_name: new.last_name,
            national_id: new.national_id,
            status: AccountStatus::Active,
            created_at: now,
            updated_at: now,
        };
        tx.append_audit(
            &AuditEvent::about(AuditAction::AccountCreated, Outcome::Success, &account, ctx)
                .with_details(serde_json::json!({ "identifier": account.identifier.as_str() })),
            now,
        )
        .await?;
        let valid_until = self
            .issue_in(tx.as_mut(), &account, phc, IssueReason::AccountCreated, temporary_password, ctx, now)
            .await?;
        tx.commit().await?;
        tracing::info!(account = %id, identifier = %account.identifier, "account created");
        Ok(IssuedPassword { account, temporary_password: temporary_password.clone(), valid_until })
    }

    /// Issues a new temporary password: the old password stops working, every session, token and
    /// reset link of the account is revoked, and the two e-mails are queued.
    pub async fn reset_password(
        &self,
        account_id: AccountId,
        ctx: &RequestContext,
    ) -> Result<IssuedPassword, AccountError> {
        let temporary_password = generate_temporary_password();
        let phc = self.deps.hasher.hash(&temporary_password).await?;
        let now = self.deps.now();
        let mut tx = self.deps.store.begin().await?;
        let account =
            tx.account_for_update(account_id).await?.ok_or_else(|| AccountError::NotFound(format!("#{account_id}")))?;
        if account.status == AccountStatus::Disabled {
            return Err(AccountError::Disabled(account.identifier.to_string()));
        }
        let revoked = tx.revoke_all_access(account.id, now).await?;
        let valid_until = self
            .issue_in(tx.as_mut(), &account, &phc, IssueReason::PasswordReset, &temporary_password, ctx, now)
            .await?;
        tx.commit().await?;
        tracing::info!(account = %account.id, revoked, "temporary password issued");
        Ok(IssuedPassword { account, temporary_password, valid_until })
    }

    #[expect(clippy::too_many_arguments, reason = "one private step shared by create and reset")]
    async fn issue_in(
        &self,
        tx: &mut dyn Tx,
        account: &Account,
        phc: &str,
        reason: IssueReason,
        temporary_password: &Password,
        ctx: &RequestContext,
        now: OffsetDateTime,
    ) -> Result<OffsetDateTime, AccountError> {
        let days = self.settings.temporary_password_days;
        let valid_until = now + Duration::days(i64::from(days));
        tx.set_password(
            account.id,
            &PasswordCredential { phc: phc.to_owned(), temporary_until: Some(valid_until), changed_at: now },
        )
        .await?;
        let to_name = account.display_name();
        let (first_name, last_name) = (account.first_name.to_string(), account.last_name.to_string());
        let identifier_mail = MailMessage::IdentifierIssued {
            first_name: first_name.clone(),
            last_name: last_name.clone(),
            identifier: account.identifier.to_string(),
            reason,
        };
        let password_mail = MailMessage::TemporaryPassword {
            first_name,
            last_name,
            temporary_password: temporary_password.expose().to_owned(),
            valid_until,
            valid_days: days,
            reason,
        };
        for message in [identifier_mail, password_mail] {
            tx.enqueue_mail(
                &OutboxMail {
                    account_id: Some(account.id),
                    to: account.email.clone(),
                    to_name: to_name.clone(),
                    message,
                },
                now,
            )
            .await?;
        }
        let reason_text = match reason {
            IssueReason::AccountCreated => "account_created",
            IssueReason::PasswordReset => "password_reset",
        };
        tx.append_audit(
            &AuditEvent::about(AuditAction::TemporaryPasswordIssued, Outcome::Success, account, ctx).with_details(
                serde_json::json!({ "reason": reason_text, "valid_until": valid_until.unix_timestamp() }),
            ),
            now,
        )
        .await?;
        Ok(valid_until)
    }

    /// Disables or enables an account. Disabling also ends its sessions and tokens.
    pub async fn set_status(
        &self,
        account_id: AccountId,
        status: AccountStatus,
        ctx: &RequestContext,
    ) -> Result<Account, AccountError> {
        let now = self.deps.now();
        let mut tx = self.deps.store.begin().await?;
        let mut account =
            tx.account_for_update(account_id).await?.ok_or_else(|| AccountError::NotFound(format!("#{account_id}")))?;
        if account.status == status {
            return Ok(account); // nothing to change, nothing to record
        }
        tx.set_account_status(account.id, status, now).await?;
        let action = match status {
            AccountStatus::Disabled => {
                tx.revoke_all_access(account.id, now).await?;
                AuditAction::AccountDisabled
            }
            AccountStatus::Active => AuditAction::AccountEnabled,
        };
        tx.append_audit(&AuditEvent::about(action, Outcome::Success, &account, ctx), now).await?;
        tx.commit().await?;
        account.status = status;
        account.updated_at = now;
        Ok(account)
    }
}

async fn free_identifier(tx: &mut dyn Tx, first: &PersonName, last: &PersonName) -> Result<Identifier, AccountError> {
    let base = Identifier::derive_base(first.as_str(), last.as_str());
    for n in 1..=MAX_DERIVED_CANDIDATES {
        let candidate = base.with_suffix(n);
        if !tx.identifier_taken(&candidate.key()).await? {
            return Ok(candidate);
        }
    }
    Err(AccountError::NoFreeIdentifier(base.to_string()))
}
