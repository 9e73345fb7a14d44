//! Signing in, sessions, and changing a password: the use cases behind the portal's pages and
//! the desktop API.
//!
//! Every credential failure (unknown identifier, wrong password, disabled account, throttled
//! identifier) gives the one [`LoginOutcome::Refused`] after the same work (a dummy hash when
//! there is nothing to check). A state is revealed only after the correct password was given.

use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

use crate::audit::{AuditAction, AuditEvent, Outcome, RequestContext};
use crate::branding::Branding;
use crate::clock::Clock;
use crate::credentials::{self, mail_to};
use crate::hashing::{HashError, PasswordHasher};
use crate::mail::MailMessage;
use crate::model::{Account, AccountId, AccountStatus, PasswordCredential};
use crate::policy::{PasswordPolicy, Violation};
use crate::secret::{digest, generate_token};
use crate::session::{AuthMethod, NewSession, Session, SessionId};
use crate::store::{Store, StoreError, Tx};
use crate::throttle::{Gate, ThrottleSettings, WINDOW};
use crate::types::{Identifier, Password};

/// `[session]`
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct SessionSettings {
    /// A session unused this long ends (minutes).
    pub idle_minutes: u32,
    /// A session ends this long after sign-in, used or not (hours).
    pub absolute_hours: u32,
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self { idle_minutes: 30, absolute_hours: 4 }
    }
}

impl SessionSettings {
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if !(1..=24 * 60).contains(&self.idle_minutes) {
            out.push(("session.idle_minutes", "must be between 1 and 1440".to_owned()));
        }
        if !(1..=24 * 7).contains(&self.absolute_hours) {
            out.push(("session.absolute_hours", "must be between 1 and 168".to_owned()));
        }
        out
    }
}

/// Activity closer together than this does not rewrite the session row.
const TOUCH_EVERY: Duration = Duration::minutes(1);

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error(transparent)]
    Hash(#[from] HashError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A live session with its account.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub session: Session,
    pub account: Account,
}

/// A session just opened: the token goes in the cookie or the response, never in the store.
#[derive(Debug)]
pub struct OpenedSession {
    pub token: SecretString,
    pub signed_in: SignedIn,
}

#[derive(Debug)]
pub enum LoginOutcome {
    SignedIn(Box<OpenedSession>),
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
    pub(crate) key: String,
    pub(crate) previous_failures: u32,
    pub(crate) rehash: Option<String>,
}

/// How a password change proves it is the account holder.
#[derive(Debug)]
pub enum Proof<'a> {
    /// The current password, typed again ("Mon compte").
    CurrentPassword(&'a Password),
    /// A session opened with a still-valid temporary password (first connection).
    TemporarySession,
}

#[derive(Debug)]
pub enum ChangeOutcome {
    /// Changed; the session was replaced by this one (new id).
    Changed(Box<OpenedSession>),
    /// Nothing changed; every failed rule, in the policy's order.
    Refused(Vec<Violation>),
    /// The current password given is wrong (counted as a failed sign-in).
    WrongCurrentPassword,
    /// The temporary password expired before it was replaced.
    TemporaryPasswordExpired,
}

#[derive(Debug, Clone)]
pub struct AuthService {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    hasher: PasswordHasher,
    policy: PasswordPolicy,
    branding: Branding,
    sessions: SessionSettings,
    throttle: ThrottleSettings,
}

impl AuthService {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        hasher: PasswordHasher,
        policy: PasswordPolicy,
        branding: Branding,
        sessions: SessionSettings,
        throttle: ThrottleSettings,
    ) -> Self {
        Self { store, clock, hasher, policy, branding, sessions, throttle }
    }

    pub fn policy(&self) -> &PasswordPolicy {
        &self.policy
    }

    pub fn throttle_settings(&self) -> &ThrottleSettings {
        &self.throttle
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// Whether the next sign-in attempt for this identifier must carry a captcha.
    pub async fn captcha_required(&self, identifier: &str) -> Result<bool, AuthError> {
        let state = self.store.throttle_state(&Identifier::key_of(identifier)).await?;
        Ok(match self.throttle.gate(state.as_ref(), self.clock.now()) {
            Gate::Open { captcha_required } | Gate::Closed { captcha_required, .. } => captcha_required,
        })
    }

    /// Counts a hit for a client address; true when it is over the per-minute limit.
    pub async fn address_over_limit(&self, action: &str, ip: &str) -> Result<bool, AuthError> {
        if !self.throttle.enabled {
            return Ok(false);
        }
        let hits = self.store.hit_rate_limit(&format!("{action}:{ip}"), self.clock.now(), Duration::minutes(1)).await?;
        Ok(hits > self.throttle.per_address_per_minute)
    }

    /// Signs in a browser with an identifier and a password.
    pub async fn login(
        &self,
        identifier: &str,
        password: &Password,
        captcha_passed: bool,
        ctx: &RequestContext,
    ) -> Result<LoginOutcome, AuthError> {
        Ok(match self.check_password(identifier, password, captcha_passed, ctx).await? {
            Check::Verified(verified) => {
                let now = self.clock.now();
                let mut tx = self.store.begin().await?;
                self.record_sign_in(tx.as_mut(), &verified, "browser", ctx, now).await?;
                let temporary = verified.credential.is_temporary();
                let opened = self
                    .open_session(tx.as_mut(), &verified.account, AuthMethod::Password, temporary, ctx, now)
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

    /// Checks an identifier and a password against the throttling gate and the stored hash;
    /// failures are counted and audited here, successes by the channel's grant.
    pub(crate) async fn check_password(
        &self,
        identifier: &str,
        password: &Password,
        captcha_passed: bool,
        ctx: &RequestContext,
    ) -> Result<Check, AuthError> {
        let key = Identifier::key_of(identifier);
        let now = self.clock.now();
        let state = self.store.throttle_state(&key).await?;
        let gate = self.throttle.gate(state.as_ref(), now);
        let captcha_required =
            matches!(gate, Gate::Open { captcha_required: true } | Gate::Closed { captcha_required: true, .. });
        if captcha_required && !captcha_passed {
            return Ok(Check::CaptchaFailed);
        }
        if let Gate::Closed { until, .. } = gate {
            self.hasher.verify_dummy(password).await?;
            let account = self.store.account_by_identifier_key(&key).await?;
            let details = serde_json::json!({ "identifier_hash": identifier_hash(&key), "until": until.map(|u| u.unix_timestamp()) });
            self.audit(
                AuditEvent::about_maybe(AuditAction::LoginThrottled, Outcome::Failure, account.as_ref(), ctx)
                    .with_details(details),
            )
            .await?;
            return Ok(Check::Throttled { until, captcha_required });
        }
        let account = self.store.account_by_identifier_key(&key).await?;
        let credential = match &account {
            Some(a) => self.store.password_credential(a.id).await?,
            None => None,
        };
        let (Some(account), Some(credential)) = (account, credential) else {
            self.hasher.verify_dummy(password).await?;
            return self.refuse(&key, None, "unknown_identifier", ctx).await;
        };
        let verification = self.hasher.verify(password, &credential.phc).await?;
        if !verification.matches {
            return self.refuse(&key, Some(&account), "wrong_password", ctx).await;
        }
        if account.status == AccountStatus::Disabled {
            return self.refuse(&key, Some(&account), "account_disabled", ctx).await;
        }
        if credential.temporary_until.is_some_and(|until| until <= now) {
            let mut tx = self.store.begin().await?;
            tx.clear_login_failures(&key).await?;
            tx.append_audit(
                &AuditEvent::about(AuditAction::LoginRefusedExpiredTemporary, Outcome::Failure, &account, ctx),
                now,
            )
            .await?;
            tx.commit().await?;
            return Ok(Check::TemporaryPasswordExpired);
        }
        let rehash = if verification.needs_rehash { Some(self.hasher.hash(password).await?) } else { None };
        let previous_failures = state.map_or(0, |s| s.consecutive_failures);
        Ok(Check::Verified(Box::new(Verified { account, credential, key, previous_failures, rehash })))
    }

    /// What every successful sign-in writes, in the transaction of its grant: a better hash if
    /// the parameters changed, counters cleared, the holder told after repeated failures, audit.
    pub(crate) async fn record_sign_in(
        &self,
        tx: &mut dyn Tx,
        verified: &Verified,
        channel: &str,
        ctx: &RequestContext,
        now: OffsetDateTime,
    ) -> Result<(), AuthError> {
        let account = &verified.account;
        if let Some(phc) = &verified.rehash {
            tx.set_password(account.id, &PasswordCredential { phc: phc.clone(), ..verified.credential.clone() })
                .await?;
        }
        tx.clear_login_failures(&verified.key).await?;
        if verified.previous_failures >= self.throttle.captcha_after {
            let message = MailMessage::LoginAfterFailures {
                first_name: account.first_name.to_string(),
                last_name: account.last_name.to_string(),
                failures: verified.previous_failures,
                at: now,
                ip: ctx.ip.clone(),
            };
            tx.enqueue_mail(&mail_to(account, message), now).await?;
        }
        let details = serde_json::json!({ "method": "password", "channel": channel, "temporary": verified.credential.is_temporary() });
        tx.append_audit(
            &AuditEvent::about(AuditAction::LoginSucceeded, Outcome::Success, account, ctx).with_details(details),
            now,
        )
        .await?;
        Ok(())
    }

    async fn refuse(
        &self,
        key: &str,
        account: Option<&Account>,
        reason: &str,
        ctx: &RequestContext,
    ) -> Result<Check, AuthError> {
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let mut captcha_required = false;
        let mut details = serde_json::json!({ "reason": reason, "identifier_hash": identifier_hash(key) });
        if self.throttle.enabled {
            let state = tx.record_login_failure(key, now, WINDOW).await?;
            if let Some(until) = self.throttle.block_after_failure(&state, now) {
                tx.set_login_block(key, Some(until)).await?;
                details["blocked_until"] = until.unix_timestamp().into();
            }
            captcha_required = state.consecutive_failures >= self.throttle.captcha_after;
            details["consecutive_failures"] = state.consecutive_failures.into();
        }
        tx.append_audit(
            &AuditEvent::about_maybe(AuditAction::LoginFailed, Outcome::Failure, account, ctx).with_details(details),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(Check::Refused { captcha_required })
    }

    pub(crate) async fn open_session(
        &self,
        tx: &mut dyn Tx,
        account: &Account,
        method: AuthMethod,
        must_change_password: bool,
        ctx: &RequestContext,
        now: OffsetDateTime,
    ) -> Result<OpenedSession, AuthError> {
        let token = generate_token(32);
        let new = NewSession {
            token_hash: digest(token.expose_secret()),
            account_id: account.id,
            auth_method: method,
            must_change_password,
            ip: ctx.ip.clone(),
            user_agent: ctx.user_agent.clone(),
            created_at: now,
            idle_expires_at: now + Duration::minutes(i64::from(self.sessions.idle_minutes)),
            absolute_expires_at: now + Duration::hours(i64::from(self.sessions.absolute_hours)),
        };
        let id = tx.insert_session(&new).await?;
        let session = Session {
            id,
            account_id: account.id,
            auth_method: method,
            must_change_password,
            ip: new.ip,
            user_agent: new.user_agent,
            created_at: now,
            last_seen_at: now,
            idle_expires_at: new.idle_expires_at,
            absolute_expires_at: new.absolute_expires_at,
        };
        Ok(OpenedSession { token, signed_in: SignedIn { session, account: account.clone() } })
    }

    /// The live session behind a cookie or bearer token, with its account. Records activity.
    pub async fn resolve(&self, token: &str) -> Result<Option<SignedIn>, AuthError> {
        let now = self.clock.now();
        let Some((mut session, account)) = self.store.session_by_token_hash(&digest(token), now).await? else {
            return Ok(None);
        };
        if account.status != AccountStatus::Active {
            return Ok(None);
        }
        if now - session.last_seen_at >= TOUCH_EVERY {
            let idle = now + Duration::minutes(i64::from(self.sessions.idle_minutes));
            self.store.touch_session(session.id, now, idle).await?;
            session.last_seen_at = now;
            session.idle_expires_at = idle.min(session.absolute_expires_at);
        }
        Ok(Some(SignedIn { session, account }))
    }

    /// The account's live sessions, newest first.
    pub async fn sessions_of(&self, account: AccountId) -> Result<Vec<Session>, AuthError> {
        Ok(self.store.sessions_of(account, self.clock.now()).await?)
    }

    /// "Se déconnecter": the session ends on the server.
    pub async fn logout(&self, signed_in: &SignedIn, ctx: &RequestContext) -> Result<(), AuthError> {
        self.end_sessions(signed_in, Some(signed_in.session.id), AuditAction::Logout, ctx).await.map(|_| ())
    }

    /// "Terminer cette session" (one of the account's own) or, with `None`, "terminer toutes les
    /// autres sessions". Returns how many ended.
    pub async fn end_session(
        &self,
        signed_in: &SignedIn,
        which: Option<SessionId>,
        ctx: &RequestContext,
    ) -> Result<u64, AuthError> {
        self.end_sessions(signed_in, which, AuditAction::SessionEnded, ctx).await
    }

    async fn end_sessions(
        &self,
        signed_in: &SignedIn,
        which: Option<SessionId>,
        action: AuditAction,
        ctx: &RequestContext,
    ) -> Result<u64, AuthError> {
        let now = self.clock.now();
        let account = signed_in.account.id;
        let mut tx = self.store.begin().await?;
        let ended = match which {
            Some(id) => u64::from(tx.revoke_session(account, id, now).await?),
            // Every other browser session and every desktop sign-in (and pending reset links).
            None => {
                tx.revoke_other_sessions(account, signed_in.session.id, now).await?
                    + tx.revoke_tokens_and_links(account, now).await?
            }
        };
        let details = serde_json::json!({ "ended": ended, "session": which.map(|s| s.0), "others": which.is_none() });
        let event = AuditEvent::about(action, Outcome::Success, &signed_in.account, ctx).with_details(details);
        tx.append_audit(&event, now).await?;
        tx.commit().await?;
        Ok(ended)
    }

    /// Replaces the account's password after checking the proof, the confirmation and every
    /// policy rule. On success: other sessions, API tokens and reset links end, the given
    /// session is replaced by a new one, the confirmation e-mail is queued.
    pub async fn change_password(
        &self,
        signed_in: &SignedIn,
        proof: Proof<'_>,
        new: &Password,
        confirmation: &Password,
        ctx: &RequestContext,
    ) -> Result<ChangeOutcome, AuthError> {
        let account = &signed_in.account;
        let now = self.clock.now();
        let Some(credential) = self.store.password_credential(account.id).await? else {
            return Ok(ChangeOutcome::WrongCurrentPassword);
        };
        match proof {
            Proof::CurrentPassword(current) => {
                if !self.hasher.verify(current, &credential.phc).await?.matches {
                    self.refuse(&account.identifier.key(), Some(account), "wrong_current_password", ctx).await?;
                    return Ok(ChangeOutcome::WrongCurrentPassword);
                }
            }
            Proof::TemporarySession => match credential.temporary_until {
                Some(until) if until > now => {}
                Some(_) => return Ok(ChangeOutcome::TemporaryPasswordExpired),
                None => return Ok(ChangeOutcome::WrongCurrentPassword),
            },
        }
        let violations = credentials::violations(
            &*self.store,
            &self.hasher,
            &self.policy,
            &self.branding,
            account,
            new,
            confirmation,
        )
        .await?;
        if !violations.is_empty() {
            let codes: Vec<&str> = violations.iter().map(|v| v.rule.code()).collect();
            self.audit(
                AuditEvent::about(AuditAction::PasswordChangeRefused, Outcome::Failure, account, ctx)
                    .with_details(serde_json::json!({ "rules": codes })),
            )
            .await?;
            return Ok(ChangeOutcome::Refused(violations));
        }
        let phc = self.hasher.hash(new).await?;
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        self.write_new_password(tx.as_mut(), account, phc, credential.is_temporary(), ctx, now).await?;
        tx.revoke_other_sessions(account.id, signed_in.session.id, now).await?;
        tx.revoke_session(account.id, signed_in.session.id, now).await?;
        let replaced = self.open_session(tx.as_mut(), account, signed_in.session.auth_method, false, ctx, now).await?;
        tx.commit().await?;
        Ok(ChangeOutcome::Changed(Box::new(replaced)))
    }

    /// What every password change writes, in its transaction: the personal password, API tokens
    /// and reset links revoked, counters cleared, the confirmation e-mail, the audit event.
    /// Sessions are the caller's business (kept, renewed or ended).
    pub(crate) async fn write_new_password(
        &self,
        tx: &mut dyn Tx,
        account: &Account,
        phc: String,
        from_temporary: bool,
        ctx: &RequestContext,
        now: OffsetDateTime,
    ) -> Result<(), AuthError> {
        tx.set_password(account.id, &PasswordCredential { phc, temporary_until: None, changed_at: now }).await?;
        tx.revoke_tokens_and_links(account.id, now).await?;
        tx.clear_login_failures(&account.identifier.key()).await?;
        let message = MailMessage::PasswordChanged {
            first_name: account.first_name.to_string(),
            last_name: account.last_name.to_string(),
            changed_at: now,
        };
        tx.enqueue_mail(&mail_to(account, message), now).await?;
        let details = serde_json::json!({ "from_temporary": from_temporary });
        tx.append_audit(
            &AuditEvent::about(AuditAction::PasswordChanged, Outcome::Success, account, ctx).with_details(details),
            now,
        )
        .await?;
        Ok(())
    }

    pub(crate) fn hasher(&self) -> &PasswordHasher {
        &self.hasher
    }

    pub(crate) fn branding(&self) -> &Branding {
        &self.branding
    }

    pub(crate) async fn audit(&self, event: AuditEvent) -> Result<(), AuthError> {
        Ok(self.store.append_audit(&event, self.clock.now()).await?)
    }
}

/// A short digest of what was typed as an identifier: correlates attempts in the audit trail
/// without storing what may be a mistyped password.
fn identifier_hash(key: &str) -> String {
    digest(key).iter().take(8).map(|b| format!("{b:02x}")).collect()
}
