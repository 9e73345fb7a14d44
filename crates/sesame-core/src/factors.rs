//! Second factors: enrolling an authenticator app or a security key (`keys`) from "Mon compte",
//! the recovery codes, removing a factor, and the second step of a sign-in that a correct password started (pages and API).
//!
//! Nothing here removes a factor without the password and a factor (or support); a factor being
//! replaced stays until its successor is confirmed; every change is e-mailed and audited.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::audit::{AuditAction, AuditEvent, Outcome, RequestContext};
use crate::deps::Deps;
use crate::error::AuthError;
use crate::factor::{FactorId, FactorKind, RecoveryCode, SecondFactor, recovery_batch};
use crate::mail::{FactorChange, MailMessage, OutboxMail};
use crate::model::Account;
use crate::session::AuthMethod;
use crate::sessions::{Sessions, SignedIn};
use crate::signin::SignIn;
use crate::types::{LoginIdentifier, Password};

mod apps;
mod keys;
mod step;
pub use apps::{EnrolOutcome, TotpEnrolment};
pub use keys::{KeyEnrolment, KeyStart, StepChoices, relying_party};
pub use step::StepOutcome;

use crate::store::Tx;
use std::sync::Arc;
use webauthn_rs::Webauthn;

/// `[second_factor]`
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct SecondFactorSettings {
    pub required: Requirement,
}

/// Who must have a second factor.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Requirement {
    /// Those who enrolled one are asked it; nobody must enrol (the guide's portal today).
    #[default]
    Never,
    /// Every account must enrol one: right after the first connection, nothing else is
    /// reachable until it has.
    Always,
}

/// What a person types at the second step, or to prove they hold a factor.
#[derive(Debug, Clone)]
pub enum FactorProof {
    /// Six digits of the authenticator app.
    Code(String),
    /// One of the recovery codes.
    Recovery(RecoveryCode),
    /// A security key's answer to the account's live challenge (`PublicKeyCredential` JSON).
    Key(String),
}

impl FactorProof {
    /// Six digits are an app's code; anything else is tried as a recovery code.
    pub fn parse(typed: &str) -> Option<Self> {
        if crate::totp::normalise_code(typed).is_some() {
            Some(Self::Code(typed.to_owned()))
        } else {
            RecoveryCode::parse(typed).map(Self::Recovery)
        }
    }
}

#[derive(Debug)]
pub enum ConfirmOutcome {
    /// Enrolled. The first factor of an account comes with its recovery codes, shown once.
    Confirmed { recovery_codes: Option<Vec<RecoveryCode>> },
    /// Not a code of this secret now; for a key, an answer the ceremony refuses.
    WrongCode,
    /// This key is registered already, to this account or another.
    AlreadyRegistered,
    /// No such enrolment waiting (confirmed already, abandoned, another account's).
    Unknown,
}

#[derive(Debug)]
pub enum RemoveOutcome {
    Removed,
    WrongPassword,
    WrongProof,
    /// The policy requires a factor and this is the last one: enrol its successor first.
    LastFactorRequired,
    Unknown,
}

#[derive(Debug)]
pub enum RenewOutcome {
    Renewed(Vec<RecoveryCode>),
    WrongPassword,
    /// Recovery codes come with a factor: there is none.
    NoFactor,
}

/// The holder's factors as "Mon compte" shows them.
#[derive(Debug, Clone)]
pub struct FactorsView {
    pub factors: Vec<SecondFactor>,
    pub recovery_codes_left: u32,
}

#[derive(Debug, Clone)]
pub struct SecondFactors {
    deps: Deps,
    settings: SecondFactorSettings,
    sign_in: SignIn,
    sessions: Sessions,
    /// The relying party of security keys; `None` where `public_url` cannot have them.
    webauthn: Option<Arc<Webauthn>>,
}

impl SecondFactors {
    pub fn new(
        deps: Deps,
        settings: SecondFactorSettings,
        sign_in: SignIn,
        sessions: Sessions,
        public_url: &str,
    ) -> Self {
        let webauthn = relying_party(public_url, &deps.branding.portal_name).ok();
        Self { deps, settings, sign_in, sessions, webauthn }
    }

    pub fn requirement(&self) -> Requirement {
        self.settings.required
    }

    /// Whether this sign-in must enrol a factor before anything else: the policy requires one,
    /// the account has none, and the sign-in was not already two factors (a card and its PIN).
    pub async fn must_enrol(&self, account: &Account, method: AuthMethod) -> Result<bool, AuthError> {
        if self.settings.required != Requirement::Always || method.is_multi_factor() {
            return Ok(false);
        }
        Ok(self.confirmed(account).await?.is_empty())
    }

    /// The account's confirmed factors and its unused recovery codes.
    pub async fn of(&self, account: &Account) -> Result<FactorsView, AuthError> {
        let factors = self.confirmed(account).await?;
        Ok(FactorsView { factors, recovery_codes_left: self.deps.store.recovery_codes_left(account.id).await? })
    }

    /// What the API's second step accepts from this account: an app's codes if it has one, and
    /// recovery codes. A security key answers only in a browser.
    pub async fn api_answers(&self, account: &Account) -> Result<Vec<&'static str>, AuthError> {
        let app = self.confirmed(account).await?.iter().any(|f| f.kind == FactorKind::Totp);
        Ok(if app { vec!["totp", "recovery_code"] } else { vec!["recovery_code"] })
    }

    /// The account's confirmed factors (enrolments waiting for their first code left out).
    async fn confirmed(&self, account: &Account) -> Result<Vec<SecondFactor>, AuthError> {
        let all = self.deps.store.second_factors_of(account.id).await?;
        Ok(all.into_iter().filter(SecondFactor::is_confirmed).collect())
    }

    /// Ends an enrolment's transaction: the first factor of an account comes with a batch of
    /// recovery codes; the holder is e-mailed, the change audited.
    async fn finish_enrolment(
        &self,
        mut tx: Box<dyn Tx>,
        account: &Account,
        enrolled: Enrolled,
        had_factor: bool,
        ctx: &RequestContext,
        now: OffsetDateTime,
    ) -> Result<Option<Vec<RecoveryCode>>, AuthError> {
        let recovery_codes = if had_factor {
            None
        } else {
            let batch = recovery_batch();
            tx.replace_recovery_codes(account.id, &batch.iter().map(RecoveryCode::digest).collect::<Vec<_>>(), now)
                .await?;
            Some(batch)
        };
        let change = FactorChange::Added { kind: enrolled.kind.label().into(), name: enrolled.name };
        tx.enqueue_mail(&OutboxMail::about(account, factor_mail(account, change, ctx, now)), now).await?;
        let details = serde_json::json!({
            "kind": enrolled.kind.as_str(), "factor": enrolled.id.0,
            "replaced": enrolled.replaced, "recovery_codes": recovery_codes.is_some(),
        });
        let event =
            AuditEvent::about(AuditAction::SecondFactorAdded, Outcome::Success, account, ctx).with_details(details);
        tx.append_audit(&event, now).await?;
        tx.commit().await?;
        Ok(recovery_codes)
    }

    /// A new batch of recovery codes; the old one stops working.
    pub async fn renew_recovery_codes(
        &self,
        signed_in: &SignedIn,
        password: &Password,
        ctx: &RequestContext,
    ) -> Result<RenewOutcome, AuthError> {
        let account = &signed_in.account;
        if !self.password_holds(account, password, ctx).await? {
            return Ok(RenewOutcome::WrongPassword);
        }
        if self.confirmed(account).await?.is_empty() {
            return Ok(RenewOutcome::NoFactor);
        }
        let now = self.deps.now();
        let batch = recovery_batch();
        let mut tx = self.deps.store.begin().await?;
        tx.replace_recovery_codes(account.id, &batch.iter().map(RecoveryCode::digest).collect::<Vec<_>>(), now).await?;
        let mail = factor_mail(account, FactorChange::RecoveryCodesRenewed, ctx, now);
        tx.enqueue_mail(&OutboxMail::about(account, mail), now).await?;
        tx.append_audit(&AuditEvent::about(AuditAction::RecoveryCodesRenewed, Outcome::Success, account, ctx), now)
            .await?;
        tx.commit().await?;
        Ok(RenewOutcome::Renewed(batch))
    }

    /// Removes a factor: the password and a factor (a code of an app, or a recovery code) are
    /// both needed. With the last factor go the recovery codes.
    pub async fn remove(
        &self,
        signed_in: &SignedIn,
        id: FactorId,
        password: &Password,
        proof: Option<&FactorProof>,
        ctx: &RequestContext,
    ) -> Result<RemoveOutcome, AuthError> {
        let account = &signed_in.account;
        let factors = self.confirmed(account).await?;
        let Some(factor) = factors.iter().find(|f| f.id == id) else {
            return Ok(RemoveOutcome::Unknown);
        };
        if !self.password_holds(account, password, ctx).await? {
            return Ok(RemoveOutcome::WrongPassword);
        }
        let now = self.deps.now();
        let used = match proof {
            Some(proof) => self.check_proof(account, proof, ctx, now).await?,
            None => None,
        };
        let Some(used) = used else {
            self.count_wrong(account, "browser", ctx).await?;
            return Ok(RemoveOutcome::WrongProof);
        };
        if factors.len() == 1 && self.settings.required == Requirement::Always {
            return Ok(RemoveOutcome::LastFactorRequired);
        }
        let mut tx = self.deps.store.begin().await?;
        if !self.use_proof(tx.as_mut(), account, &used, ctx, now).await? {
            drop(tx);
            self.count_wrong(account, "browser", ctx).await?;
            return Ok(RemoveOutcome::WrongProof);
        }
        tx.delete_factor(account.id, id).await?;
        if factors.len() == 1 {
            tx.replace_recovery_codes(account.id, &[], now).await?;
        }
        let change =
            FactorChange::Removed { kind: factor.kind.label().into(), name: factor.name.clone(), by_support: false };
        tx.enqueue_mail(&OutboxMail::about(account, factor_mail(account, change, ctx, now)), now).await?;
        let details = serde_json::json!({ "kind": factor.kind.as_str(), "factor": id.0, "last": factors.len() == 1 });
        let event =
            AuditEvent::about(AuditAction::SecondFactorRemoved, Outcome::Success, account, ctx).with_details(details);
        tx.append_audit(&event, now).await?;
        tx.commit().await?;
        Ok(RemoveOutcome::Removed)
    }

    /// Support removes every second factor of an account whose holder lost them (phone and
    /// recovery codes): the holder is e-mailed for each, the agent is the audit event's actor.
    /// Returns how many were removed. The password is untouched.
    pub async fn remove_all_by_support(&self, account: &Account, ctx: &RequestContext) -> Result<u64, AuthError> {
        let factors = self.confirmed(account).await?;
        let now = self.deps.now();
        let mut tx = self.deps.store.begin().await?;
        let removed = tx.delete_other_factors(account.id, None, None).await?;
        tx.replace_recovery_codes(account.id, &[], now).await?;
        for factor in &factors {
            let change =
                FactorChange::Removed { kind: factor.kind.label().into(), name: factor.name.clone(), by_support: true };
            tx.enqueue_mail(&OutboxMail::about(account, factor_mail(account, change, ctx, now)), now).await?;
        }
        let details = serde_json::json!({ "by_support": true, "removed": factors.len() });
        let event =
            AuditEvent::about(AuditAction::SecondFactorRemoved, Outcome::Success, account, ctx).with_details(details);
        tx.append_audit(&event, now).await?;
        tx.commit().await?;
        Ok(removed)
    }

    /// Checks the password typed again before a change of factors; a wrong one counts as a
    /// failed sign-in.
    async fn password_holds(
        &self,
        account: &Account,
        password: &Password,
        ctx: &RequestContext,
    ) -> Result<bool, AuthError> {
        let Some(credential) = self.deps.store.password_credential(account.id).await? else {
            return Ok(false);
        };
        if self.deps.hasher.verify(password, &credential.phc).await?.matches {
            return Ok(true);
        }
        let identifier = LoginIdentifier::from(&account.identifier);
        self.sign_in.refuse(&identifier, Some(account), "wrong_current_password", ctx).await?;
        Ok(false)
    }
}

/// A factor just confirmed, for its e-mail and audit event.
struct Enrolled {
    id: FactorId,
    kind: FactorKind,
    name: String,
    /// How many factors it replaced (an earlier app).
    replaced: u64,
}

/// The name a holder gave a factor, trimmed to something a page can show; a default otherwise.
fn factor_name(typed: &str, default: &str) -> String {
    let name: String = typed.trim().chars().filter(|c| !c.is_control()).take(60).collect();
    if name.is_empty() { default.to_owned() } else { name }
}

fn factor_mail(account: &Account, change: FactorChange, ctx: &RequestContext, at: OffsetDateTime) -> MailMessage {
    MailMessage::SecondFactor {
        first_name: account.first_name.to_string(),
        last_name: account.last_name.to_string(),
        change,
        at,
        ip: ctx.ip.clone(),
    }
}
