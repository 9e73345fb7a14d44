//! Signing in with an identifier and a password: the one credential check of every channel
//! (pages, desktop API), with the throttling gate, argon2id, failure counting and audit.
//!
//! Every credential failure (unknown identifier, wrong password, disabled account, throttled
//! identifier) gives the one [`LoginOutcome::Refused`] after the same work (a dummy hash when
//! there is nothing to check). A state is revealed only after the correct password was given.

use secrecy::{ExposeSecret as _, SecretString};
use time::{Duration, OffsetDateTime};

use crate::audit::{AuditAction, AuditEvent, Outcome, RequestContext};
use crate::deps::Deps;
use crate::error::AuthError;
use crate::factor::{NewTicket, SecondFactor};
use crate::mail::{MailMessage, OutboxMail};
use crate::model::{Account, AccountStatus, PasswordCredential};
use crate::secret::{digest, generate_token};
use crate::session::{AuthMethod, ThrottleState};
use crate::sessions::{OpenedSession, Sessions};
use crate::store::Tx;
use crate::throttle::{Gate, ThrottleSettings, WINDOW};
use crate::types::{LoginIdentifier, Password};

/// How long a sign-in waits for its second step after the correct password.
pub const TICKET_LIFETIME: Duration = Duration::minutes(5);

#[derive(Debug)]
pub enum LoginOutcome {
    SignedIn(Box<OpenedSession>),
    /// The password is right and the account has a second factor: the ticket (for a cookie)
    /// carries the sign-in to its second step; nothing else is reachable with it.
    SecondFactorRequired {
        ticket: SecretString,
    },
    /// The one answer to every credential failure.
    Refused {
        captcha_required: bool,
    },
    /// A captcha was required and its answer was wrong or missing; nothing was checked.
    CaptchaFailed,
    /// The password was right, but it is a temporary one past its validity.
    TemporaryPasswordExpired,
}

/// The outcome of checking an identifier and a password, before any grant.
#[derive(Debug)]
pub(crate) enum Check {
    Verified(Box<Verified>),
    Refused { captcha_required: bool },
    Throttled { until: Option<OffsetDateTime>, captcha_required: bool },
    CaptchaFailed,
    TemporaryPasswordExpired,
}

/// A right password for an active account.
#[derive(Debug)]
pub(crate) struct Verified {
    pub(crate) account: Account,
    pub(crate) credential: PasswordCredential,
    pub(crate) previous_failures: u32,
    pub(crate) rehash: Option<String>,
}

impl Verified {
    /// Stores the password's hash again if the hashing parameters changed since it was made
    /// (the password was just checked: this is the only time it is at hand).
    async fn keep_better_hash(&self, tx: &mut dyn Tx) -> Result<(), AuthError> {
        if let Some(phc) = &self.rehash {
            let credential = PasswordCredential { phc: phc.clone(), ..self.credential.clone() };
            tx.set_password(self.account.id, &credential).await?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
pub struct SignIn {
    deps: Deps,
    throttle: ThrottleSettings,
    sessions: Sessions,
}

impl SignIn {
    pub fn new(deps: Deps, throttle: ThrottleSettings, sessions: Sessions) -> Self {
        Self { deps, throttle, sessions }
    }

    /// Whether the next attempt for this identifier must carry a captcha.
    pub async fn captcha_required(&self, identifier: &LoginIdentifier) -> Result<bool, AuthError> {
        let state = self.deps.store.throttle_state(identifier.key()).await?;
        Ok(match self.throttle.gate(state.as_ref(), self.deps.now()) {
            Gate::Open { captcha_required } | Gate::Closed { captcha_required, .. } => captcha_required,
        })
    }

    /// Signs in a browser with an identifier and a password.
    pub async fn login(
        &self,
        identifier: &LoginIdentifier,
        password: &Password,
        captcha_passed: bool,
        ctx: &RequestContext,
    ) -> Result<LoginOutcome, AuthError> {
        Ok(match self.check(identifier, password, captcha_passed, ctx).await? {
            Check::Verified(verified) => {
                let now = self.deps.now();
                // Read before the write transaction: on SQLite it holds the one writer.
                let second_step = self.needs_second_step(&verified.account).await?;
                let mut tx = self.deps.store.begin().await?;
                if second_step {
                    let ticket = self.second_step_ticket(tx.as_mut(), &verified, "browser", None, ctx, now).await?;
                    tx.commit().await?;
                    return Ok(LoginOutcome::SecondFactorRequired { ticket });
                }
                self.record(tx.as_mut(), &verified, AuthMethod::Password, "browser", ctx, now).await?;
                let temporary = verified.credential.is_temporary();
                let opened = self
                    .sessions
                    .open_in(tx.as_mut(), &verified.account, AuthMethod::Password, temporary, ctx, now)
                    .await?;
                tx.commit().await?;
                LoginOutcome::SignedIn(Box::new(opened))
            }
            // A throttled browser sees the same page as any wrong password.
            Check::Refused { captcha_required } | Check::Throttled { captcha_required, .. } => {
                LoginOutcome::Refused { captcha_required }
            }
            Check::CaptchaFailed => LoginOutcome::CaptchaFailed,
            Check::TemporaryPasswordExpired => LoginOutcome::TemporaryPasswordExpired,
        })
    }

    /// The throttling gate of an identifier's counters at `now`.
    pub(crate) fn gate(&self, state: Option<&ThrottleState>, now: OffsetDateTime) -> Gate {
        self.throttle.gate(state, now)
    }

    /// Whether the account has a confirmed second factor to ask after its password.
    pub(crate) async fn needs_second_step(&self, account: &Account) -> Result<bool, AuthError> {
        Ok(self.deps.store.second_factors_of(account.id).await?.iter().any(SecondFactor::is_confirmed))
    }

    /// Issues the ticket that carries a correct password to its second step, in `tx`. Nothing
    /// of a success is recorded yet (counters stay, so that codes are throttled with the
    /// password failures); a better hash is kept now, since the password was right.
    pub(crate) async fn second_step_ticket(
        &self,
        tx: &mut dyn Tx,
        verified: &Verified,
        channel: &str,
        client_name: Option<&str>,
        ctx: &RequestContext,
        now: OffsetDateTime,
    ) -> Result<SecretString, AuthError> {
        verified.keep_better_hash(tx).await?;
        self.ticket(tx, &verified.account, channel, client_name, ctx, now).await
    }

    /// The ticket of a second step for `account`, in `tx`, audited as a second step asked.
    pub(crate) async fn ticket(
        &self,
        tx: &mut dyn Tx,
        account: &Account,
        channel: &str,
        client_name: Option<&str>,
        ctx: &RequestContext,
        now: OffsetDateTime,
    ) -> Result<SecretString, AuthError> {
        let token = generate_token(32);
        let ticket = NewTicket {
            token_hash: digest(token.expose_secret()),
            account_id: account.id,
            channel: channel.to_owned(),
            client_name: client_name.map(str::to_owned),
            ip: ctx.ip.clone(),
            created_at: now,
            expires_at: now + TICKET_LIFETIME,
        };
        tx.insert_second_factor_ticket(&ticket).await?;
        let details = serde_json::json!({ "channel": channel });
        let event =
            AuditEvent::about(AuditAction::SecondFactorRequired, Outcome::Success, account, ctx).with_details(details);
        tx.append_audit(&event, now).await?;
        Ok(token)
    }

    /// Checks an identifier and a password against the throttling gate and the stored hash;
    /// failures are counted and audited here, successes by the channel's grant.
    pub(crate) async fn check(
        &self,
        identifier: &LoginIdentifier,
        password: &Password,
        captcha_passed: bool,
        ctx: &RequestContext,
    ) -> Result<Check, AuthError> {
        let key = identifier.key();
        let now = self.deps.now();
        let state = self.deps.store.throttle_state(key).await?;
        let gate = self.throttle.gate(state.as_ref(), now);
        let captcha_required =
            matches!(gate, Gate::Open { captcha_required: true } | Gate::Closed { captcha_required: true, .. });
        if captcha_required && !captcha_passed {
            return Ok(Check::CaptchaFailed);
        }
        if let Gate::Closed { until, .. } = gate {
            return self.throttled(identifier, password, until, captcha_required, ctx).await;
        }
        let account = self.deps.store.account_by_identifier_key(key).await?;
        let credential = match &account {
            Some(a) => self.deps.store.password_credential(a.id).await?,
            None => None,
        };
        let (Some(account), Some(credential)) = (account, credential) else {
            self.deps.hasher.verify_dummy(password).await?;
            return self.refuse(identifier, None, "unknown_identifier", ctx).await;
        };
        let verification = self.deps.hasher.verify(password, &credential.phc).await?;
        if !verification.matches {
            return self.refuse(identifier, Some(&account), "wrong_password", ctx).await;
        }
        if account.status == AccountStatus::Disabled {
            return self.refuse(identifier, Some(&account), "account_disabled", ctx).await;
        }
        if credential.temporary_until.is_some_and(|until| until <= now) {
            return self.temporary_expired(identifier, &account, ctx).await;
        }
        let rehash = if verification.needs_rehash { Some(self.deps.hasher.hash(password).await?) } else { None };
        let previous_failures = state.map_or(0, |s| s.consecutive_failures);
        Ok(Check::Verified(Box::new(Verified { account, credential, previous_failures, rehash })))
    }

    /// No password is checked while the gate is closed; the same work is spent all the same.
    async fn throttled(
        &self,
        identifier: &LoginIdentifier,
        password: &Password,
        until: Option<OffsetDateTime>,
        captcha_required: bool,
        ctx: &RequestContext,
    ) -> Result<Check, AuthError> {
        self.deps.hasher.verify_dummy(password).await?;
        let account = self.deps.store.account_by_identifier_key(identifier.key()).await?;
        let details = serde_json::json!({
            "identifier_hash": identifier_hash(identifier),
            "until": until.map(|u| u.unix_timestamp()),
        });
        let event = AuditEvent::about_maybe(AuditAction::LoginThrottled, Outcome::Failure, account.as_ref(), ctx)
            .with_details(details);
        self.deps.audit(event).await?;
        Ok(Check::Throttled { until, captcha_required })
    }

    async fn temporary_expired(
        &self,
        identifier: &LoginIdentifier,
        account: &Account,
        ctx: &RequestContext,
    ) -> Result<Check, AuthError> {
        let now = self.deps.now();
        let mut tx = self.deps.store.begin().await?;
        tx.clear_login_failures(identifier.key()).await?;
        let event = AuditEvent::about(AuditAction::LoginRefusedExpiredTemporary, Outcome::Failure, account, ctx);
        tx.append_audit(&event, now).await?;
        tx.commit().await?;
        Ok(Check::TemporaryPasswordExpired)
    }

    /// What every successful sign-in writes, in the transaction of its grant: a better hash if
    /// the parameters changed, counters cleared, the holder told after repeated failures, audit.
    pub(crate) async fn record(
        &self,
        tx: &mut dyn Tx,
        verified: &Verified,
        method: AuthMethod,
        channel: &str,
        ctx: &RequestContext,
        now: OffsetDateTime,
    ) -> Result<(), AuthError> {
        let account = &verified.account;
        verified.keep_better_hash(tx).await?;
        tx.clear_login_failures(&account.identifier.key()).await?;
        if verified.previous_failures >= self.throttle.captcha_after {
            let message = MailMessage::LoginAfterFailures {
                first_name: account.first_name.to_string(),
                last_name: account.last_name.to_string(),
                failures: verified.previous_failures,
                at: now,
                ip: ctx.ip.clone(),
            };
            tx.enqueue_mail(&OutboxMail::about(account, message), now).await?;
        }
        let details = serde_json::json!({ "method": method.as_str(), "channel": channel, "temporary": verified.credential.is_temporary() });
        let event =
            AuditEvent::about(AuditAction::LoginSucceeded, Outcome::Success, account, ctx).with_details(details);
        tx.append_audit(&event, now).await?;
        Ok(())
    }

    /// Counts a failed sign-in (or a wrong current password) for `identifier`: the delay it
    /// earns, the audit event.
    pub(crate) async fn refuse(
        &self,
        identifier: &LoginIdentifier,
        account: Option<&Account>,
        reason: &str,
        ctx: &RequestContext,
    ) -> Result<Check, AuthError> {
        let now = self.deps.now();
        let key = identifier.key();
        let mut tx = self.deps.store.begin().await?;
        let mut details = serde_json::json!({ "reason": reason, "identifier_hash": identifier_hash(identifier) });
        let mut captcha_required = false;
        if self.throttle.enabled {
            let state = tx.record_login_failure(key, now, WINDOW).await?;
            if let Some(until) = self.throttle.block_after_failure(&state, now) {
                tx.set_login_block(key, Some(until)).await?;
                details["blocked_until"] = until.unix_timestamp().into();
            }
            captcha_required = state.consecutive_failures >= self.throttle.captcha_after;
            details["consecutive_failures"] = state.consecutive_failures.into();
        }
        let event =
            AuditEvent::about_maybe(AuditAction::LoginFailed, Outcome::Failure, account, ctx).with_details(details);
        tx.append_audit(&event, now).await?;
        tx.commit().await?;
        Ok(Check::Refused { captcha_required })
    }
}

/// A short digest of what was typed as an identifier: correlates attempts in the audit trail
/// without storing what may be a mistyped password.
fn identifier_hash(identifier: &LoginIdentifier) -> String {
    digest(identifier.key()).iter().take(8).map(|b| format!("{b:02x}")).collect()
}
