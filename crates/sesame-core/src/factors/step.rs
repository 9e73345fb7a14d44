//! The second step of a sign-in: the ticket a correct password earned, the throttling gate
//! (the password's counters), the code; then what the grant's transaction writes.

use secrecy::SecretString;
use time::OffsetDateTime;

use super::{FactorProof, SecondFactors, factor_mail};
use crate::audit::{AuditAction, AuditEvent, Outcome, RequestContext};
use crate::error::AuthError;
use crate::factor::{FactorId, Ticket};
use crate::mail::{FactorChange, OutboxMail};
use crate::model::{Account, AccountStatus};
use crate::secret::digest;
use crate::session::AuthMethod;
use crate::sessions::{OpenedSession, SignedIn};
use crate::signin::Verified;
use crate::store::Tx;
use crate::throttle::Gate;
use crate::totp::CodeCheck;
use crate::types::LoginIdentifier;

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

impl<T> StepOutcome<T> {
    /// What passed, or the refusal to answer instead (whatever the answer's passed type).
    pub(crate) fn into_passed<U>(self) -> Result<T, StepOutcome<U>> {
        match self {
            Self::Passed(t) => Ok(t),
            Self::Wrong => Err(StepOutcome::Wrong),
            Self::Throttled { until } => Err(StepOutcome::Throttled { until }),
            Self::Expired => Err(StepOutcome::Expired),
        }
    }
}

#[derive(Debug)]
pub(super) enum UsedProof {
    Step {
        factor: FactorId,
        step: i64,
    },
    Recovery {
        digest: Vec<u8>,
    },
    /// A key signed the challenge: the challenge is used up, the credential stored again.
    /// `hardware` unless the credential can be backed up (a synced passkey).
    Key {
        factor: FactorId,
        credential: Vec<u8>,
        challenge: i64,
        hardware: bool,
    },
}

impl SecondFactors {
    /// The browser's second step: the ticket of the cookie and what was typed. On success the
    /// session opens, exactly as a password alone would have opened it.
    pub async fn complete_browser(
        &self,
        ticket: &str,
        proof: Option<&FactorProof>,
        ctx: &RequestContext,
    ) -> Result<StepOutcome<Box<OpenedSession>>, AuthError> {
        let passed = match self.check_step(ticket, "browser", proof, ctx).await?.into_passed() {
            Ok(passed) => passed,
            Err(refused) => return Ok(refused),
        };
        let now = self.deps.now();
        let mut tx = match self.commit_step(&passed, "browser", ctx, now).await?.into_passed() {
            Ok(tx) => tx,
            Err(refused) => return Ok(refused),
        };
        let account = &passed.verified.account;
        let temporary = passed.verified.credential.is_temporary();
        let opened = self.sessions.open_in(tx.as_mut(), account, passed.method, temporary, ctx, now).await?;
        tx.commit().await?;
        Ok(StepOutcome::Passed(Box::new(opened)))
    }

    /// A step-up: a service asks for two factors of a browser session opened with a password
    /// alone. The session's password stands for the first step, so the ticket is the one a
    /// password earns at sign-in, and the second step opens a new session of two factors.
    /// `None` when there is nothing to step up: a session of two factors already, a password
    /// still temporary, or an account without a confirmed second factor.
    pub async fn step_up(&self, user: &SignedIn, ctx: &RequestContext) -> Result<Option<SecretString>, AuthError> {
        let session = &user.session;
        if session.auth_method.is_multi_factor()
            || session.must_change_password
            || !self.sign_in.needs_second_step(&user.account).await?
        {
            return Ok(None);
        }
        let now = self.deps.now();
        let mut tx = self.deps.store.begin().await?;
        let ticket = self.sign_in.ticket(tx.as_mut(), &user.account, "browser", None, ctx, now).await?;
        tx.commit().await?;
        Ok(Some(ticket))
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
            Some(proof) => self.check_proof(&account, proof, ctx, now).await?,
            None => None,
        };
        let Some(used) = used else {
            self.count_wrong(&account, channel, ctx).await?;
            return Ok(StepOutcome::Wrong);
        };
        let method = match used {
            UsedProof::Step { .. } => AuthMethod::PasswordTotp,
            UsedProof::Recovery { .. } => AuthMethod::PasswordRecoveryCode,
            UsedProof::Key { hardware: true, .. } => AuthMethod::PasswordHardwareKey,
            UsedProof::Key { hardware: false, .. } => AuthMethod::PasswordSoftwareKey,
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

    /// Opens the grant's transaction with what a passed second step writes in it: the ticket and
    /// the code used up, the recovery e-mail, the success recorded as any sign-in's. If a
    /// concurrent request used the ticket first, `Expired`; the code (or the recovery code is not
    /// the account's), `Wrong`, counted: nothing is granted then.
    pub(crate) async fn commit_step(
        &self,
        passed: &PassedStep,
        channel: &str,
        ctx: &RequestContext,
        now: OffsetDateTime,
    ) -> Result<StepOutcome<Box<dyn Tx>>, AuthError> {
        let account = &passed.verified.account;
        let mut tx = self.deps.store.begin().await?;
        if !tx.use_second_factor_ticket(passed.ticket.id, now).await? {
            return Ok(StepOutcome::Expired);
        }
        if !self.use_proof(tx.as_mut(), account, &passed.used, ctx, now).await? {
            drop(tx);
            self.count_wrong(account, channel, ctx).await?;
            return Ok(StepOutcome::Wrong);
        }
        let details = serde_json::json!({ "method": passed.method.as_str(), "channel": channel });
        let event =
            AuditEvent::about(AuditAction::SecondFactorSucceeded, Outcome::Success, account, ctx).with_details(details);
        tx.append_audit(&event, now).await?;
        self.sign_in.record(tx.as_mut(), &passed.verified, passed.method, channel, ctx, now).await?;
        Ok(StepOutcome::Passed(tx))
    }

    /// Which factor a proof matches now, if any (nothing is used up yet).
    pub(super) async fn check_proof(
        &self,
        account: &Account,
        proof: &FactorProof,
        ctx: &RequestContext,
        now: OffsetDateTime,
    ) -> Result<Option<UsedProof>, AuthError> {
        Ok(match proof {
            FactorProof::Code(code) => {
                let apps = self.deps.store.totp_factors_of(account.id).await?;
                apps.into_iter().filter(|t| t.factor.is_confirmed()).find_map(|t| {
                    let secret = t.secret.ok()?;
                    match secret.check(code, now, t.last_step) {
                        CodeCheck::Accepted { step } => Some(UsedProof::Step { factor: t.factor.id, step }),
                        CodeCheck::Replayed | CodeCheck::Wrong => None,
                    }
                })
            }
            FactorProof::Recovery(code) => Some(UsedProof::Recovery { digest: code.digest() }),
            FactorProof::Key(response) => self.check_key(account, response, ctx, now).await?,
        })
    }

    /// Uses a proof up, atomically: a step is accepted once, a recovery code is good once (its
    /// holder is told how many remain), a key's challenge is signed once. False if it was not (or no longer) good.
    pub(super) async fn use_proof(
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
            UsedProof::Key { factor, credential, challenge, .. } => {
                let live = tx.use_key_challenge(*challenge, now).await?;
                if live {
                    tx.update_key(account.id, *factor, credential, now).await?;
                }
                live
            }
        })
    }
}
