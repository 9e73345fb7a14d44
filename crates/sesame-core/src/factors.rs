//! Second factors: enrolling an authenticator app from "Mon compte", the recovery codes, removing
//! a factor, and the second step of a sign-in that a correct password started (pages and API).
//!
//! Nothing here removes a factor without the password and a factor (or support); a factor being
//! replaced stays until its successor is confirmed; every change is e-mailed and audited.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::audit::{AuditAction, AuditEvent, Outcome, RequestContext};
use crate::deps::Deps;
use crate::error::AuthError;
use crate::factor::{FactorId, FactorKind, RecoveryCode, SecondFactor, Ticket, recovery_batch};
use crate::mail::{FactorChange, MailMessage, OutboxMail};
use crate::model::{Account, AccountStatus};
use crate::secret::digest;
use crate::session::AuthMethod;
use crate::sessions::{OpenedSession, Sessions, SignedIn};
use crate::signin::{SignIn, Verified};
use crate::store::Tx;
use crate::throttle::Gate;
use crate::totp::{CodeCheck, TotpSecret};
use crate::types::{LoginIdentifier, Password};

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

/// An authenticator app being enrolled: what the enrolment page shows until its first code.
#[derive(Debug, Clone)]
pub struct TotpEnrolment {
    pub factor: FactorId,
    pub name: String,
    pub secret: TotpSecret,
    /// The `otpauth://` URI the QR code carries.
    pub uri: String,
}

#[derive(Debug)]
pub enum EnrolOutcome {
    Started(TotpEnrolment),
    /// The password typed again is wrong (counted as a failed sign-in).
    WrongPassword,
}

#[derive(Debug)]
pub enum ConfirmOutcome {
    /// Enrolled. The first factor of an account comes with its recovery codes, shown once.
    Confirmed { recovery_codes: Option<Vec<RecoveryCode>> },
    /// Not a code of this secret now.
    WrongCode,
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

/// The second step of a sign-in.
#[derive(Debug)]
pub enum StepOutcome<T> {
    Passed(T),
    /// Wrong (or replayed) code: counted with the password failures.
    Wrong,
    /// Too many failures: nothing is checked until `until`.
    Throttled {
        until: Option<OffsetDateTime>,
    },
    /// The ticket is unknown, used or past its five minutes: sign in again.
    Expired,
}

/// A second step that holds, before its grant: what the grant's transaction must write.
#[derive(Debug)]
pub(crate) struct PassedStep {
    pub(crate) ticket: Ticket,
    pub(crate) verified: Verified,
    pub(crate) method: AuthMethod,
    used: UsedProof,
}

/// What [`SecondFactors::commit_step`] could write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Committed {
    Done,
    /// The ticket was used (or expired) meanwhile.
    TicketGone,
    /// The code was used meanwhile, or the recovery code is not one of the account's.
    ProofGone,
}

#[derive(Debug)]
enum UsedProof {
    Step { factor: FactorId, step: i64 },
    Recovery { digest: Vec<u8> },
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
}

impl SecondFactors {
    pub fn new(deps: Deps, settings: SecondFactorSettings, sign_in: SignIn, sessions: Sessions) -> Self {
        Self { deps, settings, sign_in, sessions }
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
        Ok(self.of(account).await?.factors.is_empty())
    }

    /// The account's confirmed factors and its unused recovery codes.
    pub async fn of(&self, account: &Account) -> Result<FactorsView, AuthError> {
        let factors = self
            .deps
            .store
            .second_factors_of(account.id)
            .await?
            .into_iter()
            .filter(|f| f.confirmed_at.is_some())
            .collect();
        Ok(FactorsView { factors, recovery_codes_left: self.deps.store.recovery_codes_left(account.id).await? })
    }

    /// Starts enrolling an authenticator app, after the password is typed again.
    pub async fn start_totp(
        &self,
        signed_in: &SignedIn,
        password: &Password,
        name: &str,
        ctx: &RequestContext,
    ) -> Result<EnrolOutcome, AuthError> {
        let account = &signed_in.account;
        if !self.password_holds(account, password, ctx).await? {
            return Ok(EnrolOutcome::WrongPassword);
        }
        let secret = TotpSecret::generate();
        let name = factor_name(name);
        let now = self.deps.now();
        let mut tx = self.deps.store.begin().await?;
        let factor = tx.insert_totp(account.id, &name, &secret, now).await?;
        tx.commit().await?;
        let uri = secret.uri(&self.deps.branding.portal_name, account.identifier.as_str());
        Ok(EnrolOutcome::Started(TotpEnrolment { factor, name, secret, uri }))
    }

    /// An enrolment of this account still waiting for its first code (the page shows it again
    /// until it is confirmed; never after).
    pub async fn pending_totp(&self, account: &Account, id: FactorId) -> Result<Option<TotpEnrolment>, AuthError> {
        let found = self.deps.store.totp_factors_of(account.id).await?.into_iter().find(|t| t.factor.id == id);
        let Some(totp) = found.filter(|t| t.factor.confirmed_at.is_none()) else {
            return Ok(None);
        };
        let Ok(secret) = totp.secret else {
            return Ok(None);
        };
        let uri = secret.uri(&self.deps.branding.portal_name, account.identifier.as_str());
        Ok(Some(TotpEnrolment { factor: id, name: totp.factor.name, secret, uri }))
    }

    /// Confirms an enrolment with the app's first code. The app replaces any earlier one (only
    /// now, so that an abandoned enrolment leaves the account as it was); the first factor of
    /// an account comes with a batch of recovery codes.
    pub async fn confirm_totp(
        &self,
        signed_in: &SignedIn,
        id: FactorId,
        code: &str,
        ctx: &RequestContext,
    ) -> Result<ConfirmOutcome, AuthError> {
        let account = &signed_in.account;
        let Some(pending) = self.pending_totp(account, id).await? else {
            return Ok(ConfirmOutcome::Unknown);
        };
        let now = self.deps.now();
        let CodeCheck::Accepted { step } = pending.secret.check(code, now, None) else {
            let event = AuditEvent::about(AuditAction::SecondFactorEnrolmentRefused, Outcome::Failure, account, ctx);
            self.deps.audit(event).await?;
            return Ok(ConfirmOutcome::WrongCode);
        };
        let had_factor = !self.of(account).await?.factors.is_empty();
        let mut tx = self.deps.store.begin().await?;
        if !tx.confirm_factor(account.id, id, step, now).await? {
            return Ok(ConfirmOutcome::Unknown);
        }
        let replaced = tx.delete_other_factors(account.id, Some(id)).await?;
        let recovery_codes = if had_factor {
            None
        } else {
            let batch = recovery_batch();
            tx.replace_recovery_codes(account.id, &batch.iter().map(RecoveryCode::digest).collect::<Vec<_>>(), now)
                .await?;
            Some(batch)
        };
        let change = FactorChange::Added { kind: FactorKind::Totp.label().into(), name: pending.name.clone() };
        tx.enqueue_mail(&OutboxMail::about(account, factor_mail(account, change, ctx, now)), now).await?;
        let details = serde_json::json!({ "kind": "totp", "factor": id.0, "replaced": replaced, "recovery_codes": recovery_codes.is_some() });
        let event =
            AuditEvent::about(AuditAction::SecondFactorAdded, Outcome::Success, account, ctx).with_details(details);
        tx.append_audit(&event, now).await?;
        tx.commit().await?;
        Ok(ConfirmOutcome::Confirmed { recovery_codes })
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
        if self.of(account).await?.factors.is_empty() {
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
        let factors = self.of(account).await?.factors;
        let Some(factor) = factors.iter().find(|f| f.id == id) else {
            return Ok(RemoveOutcome::Unknown);
        };
        if !self.password_holds(account, password, ctx).await? {
            return Ok(RemoveOutcome::WrongPassword);
        }
        let now = self.deps.now();
        let used = match proof {
            Some(proof) => self.check_proof(account, proof, now).await?,
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
        let factors = self.of(account).await?.factors;
        let now = self.deps.now();
        let mut tx = self.deps.store.begin().await?;
        let removed = tx.delete_other_factors(account.id, None).await?;
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

    /// The browser's second step: the ticket of the cookie and what was typed. On success the
    /// session opens, exactly as a password alone would have opened it.
    pub async fn complete_browser(
        &self,
        ticket: &str,
        proof: Option<&FactorProof>,
        ctx: &RequestContext,
    ) -> Result<StepOutcome<Box<OpenedSession>>, AuthError> {
        let passed = match self.check_step(ticket, "browser", proof, ctx).await? {
            StepOutcome::Passed(passed) => passed,
            StepOutcome::Wrong => return Ok(StepOutcome::Wrong),
            StepOutcome::Throttled { until } => return Ok(StepOutcome::Throttled { until }),
            StepOutcome::Expired => return Ok(StepOutcome::Expired),
        };
        let now = self.deps.now();
        let mut tx = self.deps.store.begin().await?;
        match self.commit_step(tx.as_mut(), &passed, "browser", ctx, now).await? {
            Committed::Done => {}
            Committed::TicketGone => return Ok(StepOutcome::Expired),
            Committed::ProofGone => {
                drop(tx);
                self.count_wrong(&passed.verified.account, "browser", ctx).await?;
                return Ok(StepOutcome::Wrong);
            }
        }
        let account = &passed.verified.account;
        let temporary = passed.verified.credential.is_temporary();
        let opened = self.sessions.open_in(tx.as_mut(), account, passed.method, temporary, ctx, now).await?;
        tx.commit().await?;
        Ok(StepOutcome::Passed(Box::new(opened)))
    }

    /// Whether a ticket of this channel is live (the second-step page checks it before asking).
    pub async fn ticket_is_live(&self, ticket: &str, channel: &str) -> Result<bool, AuthError> {
        let found = self.deps.store.second_factor_ticket(&digest(ticket), self.deps.now()).await?;
        Ok(found.is_some_and(|t| t.channel == channel))
    }

    /// Checks a second step against its ticket, the throttling gate and the factors; failures
    /// are counted with the password failures and audited here, successes by the grant.
    pub(crate) async fn check_step(
        &self,
        ticket: &str,
        channel: &str,
        proof: Option<&FactorProof>,
        ctx: &RequestContext,
    ) -> Result<StepOutcome<PassedStep>, AuthError> {
        let now = self.deps.now();
        let Some(ticket) = self.deps.store.second_factor_ticket(&digest(ticket), now).await? else {
            return Ok(StepOutcome::Expired);
        };
        if ticket.channel != channel {
            return Ok(StepOutcome::Expired);
        }
        let account = self.deps.store.account_by_id(ticket.account_id).await?;
        let credential = self.deps.store.password_credential(ticket.account_id).await?;
        let (Some(account), Some(credential)) = (account, credential) else {
            return Ok(StepOutcome::Expired);
        };
        if account.status != AccountStatus::Active || credential.temporary_until.is_some_and(|until| until <= now) {
            return Ok(StepOutcome::Expired);
        }
        let identifier = LoginIdentifier::from(&account.identifier);
        let state = self.deps.store.throttle_state(identifier.key()).await?;
        if let Gate::Closed { until, .. } = self.sign_in.gate(state.as_ref(), now) {
            let event = AuditEvent::about(AuditAction::SecondFactorFailed, Outcome::Failure, &account, ctx)
                .with_details(serde_json::json!({ "reason": "throttled", "channel": channel }));
            self.deps.audit(event).await?;
            return Ok(StepOutcome::Throttled { until });
        }
        let used = match proof {
            Some(proof) => self.check_proof(&account, proof, now).await?,
            None => None,
        };
        let Some(used) = used else {
            self.count_wrong(&account, channel, ctx).await?;
            return Ok(StepOutcome::Wrong);
        };
        let method = match used {
            UsedProof::Step { .. } => AuthMethod::PasswordTotp,
            UsedProof::Recovery { .. } => AuthMethod::PasswordRecoveryCode,
        };
        let previous_failures = state.map_or(0, |s| s.consecutive_failures);
        let verified = Verified { account, credential, previous_failures, rehash: None };
        Ok(StepOutcome::Passed(PassedStep { ticket, verified, method, used }))
    }

    /// Counts a wrong (or replayed) second step with the password failures, and audits it.
    pub(crate) async fn count_wrong(
        &self,
        account: &Account,
        channel: &str,
        ctx: &RequestContext,
    ) -> Result<(), AuthError> {
        self.sign_in
            .refuse(&LoginIdentifier::from(&account.identifier), Some(account), "wrong_second_factor", ctx)
            .await?;
        let event = AuditEvent::about(AuditAction::SecondFactorFailed, Outcome::Failure, account, ctx)
            .with_details(serde_json::json!({ "reason": "wrong_code", "channel": channel }));
        self.deps.audit(event).await
    }

    /// What a passed second step writes in its grant's transaction: the ticket and the code used
    /// up (if a concurrent request used either first, nothing is granted: the caller drops the
    /// transaction), the recovery e-mail, the success recorded as any sign-in's.
    pub(crate) async fn commit_step(
        &self,
        tx: &mut dyn Tx,
        passed: &PassedStep,
        channel: &str,
        ctx: &RequestContext,
        now: OffsetDateTime,
    ) -> Result<Committed, AuthError> {
        let account = &passed.verified.account;
        if !tx.use_second_factor_ticket(passed.ticket.id, now).await? {
            return Ok(Committed::TicketGone);
        }
        if !self.use_proof(tx, account, &passed.used, ctx, now).await? {
            return Ok(Committed::ProofGone);
        }
        let details = serde_json::json!({ "method": passed.method.as_str(), "channel": channel });
        let event =
            AuditEvent::about(AuditAction::SecondFactorSucceeded, Outcome::Success, account, ctx).with_details(details);
        tx.append_audit(&event, now).await?;
        self.sign_in.record(tx, &passed.verified, passed.method, channel, ctx, now).await?;
        Ok(Committed::Done)
    }

    /// Which factor a proof matches now, if any (nothing is used up yet).
    async fn check_proof(
        &self,
        account: &Account,
        proof: &FactorProof,
        now: OffsetDateTime,
    ) -> Result<Option<UsedProof>, AuthError> {
        Ok(match proof {
            FactorProof::Code(code) => {
                let apps = self.deps.store.totp_factors_of(account.id).await?;
                apps.into_iter().filter(|t| t.factor.confirmed_at.is_some()).find_map(|t| {
                    let secret = t.secret.ok()?;
                    match secret.check(code, now, t.last_step) {
                        CodeCheck::Accepted { step } => Some(UsedProof::Step { factor: t.factor.id, step }),
                        CodeCheck::Replayed | CodeCheck::Wrong => None,
                    }
                })
            }
            FactorProof::Recovery(code) => Some(UsedProof::Recovery { digest: code.digest() }),
        })
    }

    /// Uses a proof up, atomically: a step is accepted once, a recovery code is good once (its
    /// holder is told how many remain). False if it was not (or no longer) good.
    async fn use_proof(
        &self,
        tx: &mut dyn Tx,
        account: &Account,
        used: &UsedProof,
        ctx: &RequestContext,
        now: OffsetDateTime,
    ) -> Result<bool, AuthError> {
        Ok(match used {
            UsedProof::Step { factor, step } => tx.use_totp_step(*factor, *step, now).await?,
            UsedProof::Recovery { digest } => match tx.use_recovery_code(account.id, digest, now).await? {
                Some(remaining) => {
                    let mail = factor_mail(account, FactorChange::RecoveryCodeUsed { remaining }, ctx, now);
                    tx.enqueue_mail(&OutboxMail::about(account, mail), now).await?;
                    let event = AuditEvent::about(AuditAction::RecoveryCodeUsed, Outcome::Success, account, ctx)
                        .with_details(serde_json::json!({ "remaining": remaining }));
                    tx.append_audit(&event, now).await?;
                    true
                }
                None => false,
            },
        })
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

/// The name a holder gave a factor, trimmed to something a page can show; a default otherwise.
fn factor_name(typed: &str) -> String {
    let name: String = typed.trim().chars().filter(|c| !c.is_control()).take(60).collect();
    if name.is_empty() { "Application d'authentification".to_owned() } else { name }
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
