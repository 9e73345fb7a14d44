//! The desktop applications' side of signing in: opaque tokens instead of a cookie.
//!
//! - Sign-in gives an access token (15 minutes) and a refresh token (30 days, single use,
//!   rotated at each refresh). Presenting an already-used refresh token revokes its whole family:
//!   whoever replayed it, thief or owner, must sign in again.
//! - A temporary password gives no token, only a change ticket (10 minutes, single use) that
//!   allows nothing but setting the personal password.
//! - Every token is 256 random bits stored as a SHA-256 digest; a family is one sign-in, listed
//!   among the account's sessions and revocable from "Mon compte".

use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::audit::{AuditAction, AuditEvent, Outcome, RequestContext};
use crate::deps::Deps;
use crate::error::AuthError;
use crate::factors::{Committed, FactorProof, SecondFactors, StepOutcome};
use crate::model::{Account, AccountStatus};
use crate::passwords::Passwords;
use crate::policy::Violation;
use crate::secret::{digest, generate_token};
use crate::session::{ApiToken, AuthMethod, NewApiToken, TokenKind};
use crate::signin::{Check, SignIn, TICKET_LIFETIME, Verified};
use crate::store::Tx;
use crate::types::{LoginIdentifier, Password};

/// `[api]`
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct ApiSettings {
    pub access_token_minutes: u32,
    pub refresh_token_days: u32,
    pub change_ticket_minutes: u32,
}

impl Default for ApiSettings {
    fn default() -> Self {
        Self { access_token_minutes: 15, refresh_token_days: 30, change_ticket_minutes: 10 }
    }
}

impl ApiSettings {
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if !(1..=60).contains(&self.access_token_minutes) {
            out.push(("api.access_token_minutes", "must be between 1 and 60".to_owned()));
        }
        if !(1..=365).contains(&self.refresh_token_days) {
            out.push(("api.refresh_token_days", "must be between 1 and 365".to_owned()));
        }
        if !(1..=60).contains(&self.change_ticket_minutes) {
            out.push(("api.change_ticket_minutes", "must be between 1 and 60".to_owned()));
        }
        out
    }
}

/// What a successful sign-in or refresh returns.
#[derive(Debug)]
pub struct TokenPair {
    pub access_token: SecretString,
    pub refresh_token: SecretString,
    /// Seconds the access token lives.
    pub expires_in: i64,
}

#[derive(Debug)]
pub enum ApiLogin {
    Tokens(TokenPair),
    /// The password is a temporary one: only this ticket, to set the personal password.
    PasswordChangeRequired {
        change_ticket: SecretString,
        expires_in: i64,
    },
    /// The one answer to every credential failure.
    Refused,
    /// Too many failures for this identifier: try again after this many seconds.
    Throttled {
        retry_after: i64,
    },
    /// The temporary password was right but expired.
    TemporaryPasswordExpired,
    /// The password is right and the account has a second factor: this ticket, with a code,
    /// at `POST /api/v1/sessions/second-factor`.
    SecondFactorRequired {
        second_factor_ticket: SecretString,
        expires_in: i64,
    },
    /// The second-factor ticket is unknown, used or expired: sign in again.
    TicketExpired,
    /// The policy requires a second factor and the account has none: it must enrol one on the
    /// portal ("Mon compte") first.
    SecondFactorEnrolmentRequired,
}

#[derive(Debug)]
pub enum ApiChange {
    /// Changed; every other session and token ended; a fresh pair for this client.
    Changed(TokenPair),
    Refused(Vec<Violation>),
    /// Unknown, used or expired ticket, or wrong current password.
    Unauthorized,
    TemporaryPasswordExpired,
    /// Changed, but the policy requires a second factor and the account has none: no tokens
    /// until one is enrolled on the portal.
    ChangedEnrolmentRequired,
}

/// The holder of a live access token.
#[derive(Debug, Clone)]
pub struct ApiPrincipal {
    pub account: Account,
    pub token: ApiToken,
}

/// How a password change through the API proves who is asking.
#[derive(Debug)]
pub enum ApiProof<'a> {
    ChangeTicket(&'a str),
    AccessToken { principal: &'a ApiPrincipal, current_password: &'a Password },
}

/// One issuance: who, for which application, how they proved it.
struct Grant<'a> {
    account: &'a Account,
    family: String,
    client: &'a str,
    method: AuthMethod,
    ctx: &'a RequestContext,
    now: OffsetDateTime,
}

#[derive(Debug, Clone)]
pub struct ApiTokens {
    deps: Deps,
    settings: ApiSettings,
    sign_in: SignIn,
    passwords: Passwords,
    factors: SecondFactors,
}

impl ApiTokens {
    pub fn new(
        deps: Deps,
        settings: ApiSettings,
        sign_in: SignIn,
        passwords: Passwords,
        factors: SecondFactors,
    ) -> Self {
        Self { deps, settings, sign_in, passwords, factors }
    }

    /// Signs a desktop application in. Throttling counters are the same as the pages'.
    pub async fn sign_in(
        &self,
        identifier: &LoginIdentifier,
        password: &Password,
        client: &str,
        ctx: &RequestContext,
    ) -> Result<ApiLogin, AuthError> {
        // No captcha can be shown to an application: the delays still apply.
        Ok(match self.sign_in.check(identifier, password, true, ctx).await? {
            Check::Verified(verified) => {
                let now = self.deps.now();
                let mut tx = self.deps.store.begin().await?;
                if self.sign_in.needs_second_step(&verified.account).await? {
                    let ticket =
                        self.sign_in.second_step_ticket(tx.as_mut(), &verified, "api", Some(client), ctx, now).await?;
                    tx.commit().await?;
                    return Ok(ApiLogin::SecondFactorRequired {
                        second_factor_ticket: ticket,
                        expires_in: TICKET_LIFETIME.whole_seconds(),
                    });
                }
                self.sign_in.record(tx.as_mut(), &verified, AuthMethod::Password, "api", ctx, now).await?;
                let outcome = self.grant_in(tx.as_mut(), &verified, AuthMethod::Password, client, ctx, now).await?;
                tx.commit().await?;
                outcome
            }
            Check::Refused { .. } => ApiLogin::Refused,
            Check::Throttled { until, .. } => ApiLogin::Throttled { retry_after: retry_after(until, self.deps.now()) },
            Check::CaptchaFailed => ApiLogin::Throttled { retry_after: 60 },
            Check::TemporaryPasswordExpired => ApiLogin::TemporaryPasswordExpired,
        })
    }

    /// The second step of a desktop sign-in: the ticket `sign_in` gave and a code of the app or
    /// a recovery code. Grants what the password alone would have granted.
    pub async fn second_step(
        &self,
        ticket: &str,
        proof: Option<&FactorProof>,
        ctx: &RequestContext,
    ) -> Result<ApiLogin, AuthError> {
        let passed = match self.factors.check_step(ticket, "api", proof, ctx).await? {
            StepOutcome::Passed(passed) => passed,
            StepOutcome::Wrong => return Ok(ApiLogin::Refused),
            StepOutcome::Throttled { until } => {
                return Ok(ApiLogin::Throttled { retry_after: retry_after(until, self.deps.now()) });
            }
            StepOutcome::Expired => return Ok(ApiLogin::TicketExpired),
        };
        let now = self.deps.now();
        let mut tx = self.deps.store.begin().await?;
        match self.factors.commit_step(tx.as_mut(), &passed, "api", ctx, now).await? {
            Committed::Done => {}
            Committed::TicketGone => return Ok(ApiLogin::TicketExpired),
            Committed::ProofGone => {
                drop(tx);
                self.factors.count_wrong(&passed.verified.account, "api", ctx).await?;
                return Ok(ApiLogin::Refused);
            }
        }
        let client = passed.ticket.client_name.clone().unwrap_or_default();
        let outcome = self.grant_in(tx.as_mut(), &passed.verified, passed.method, &client, ctx, now).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    /// What a verified sign-in gets: a change ticket for a temporary password, else a pair.
    async fn grant_in(
        &self,
        tx: &mut dyn Tx,
        verified: &Verified,
        method: AuthMethod,
        client: &str,
        ctx: &RequestContext,
        now: OffsetDateTime,
    ) -> Result<ApiLogin, AuthError> {
        if !verified.credential.is_temporary() && self.factors.must_enrol(&verified.account, method).await? {
            return Ok(ApiLogin::SecondFactorEnrolmentRequired);
        }
        let grant = grant(&verified.account, client, method, ctx, now);
        Ok(if verified.credential.is_temporary() {
            let lifetime = Duration::minutes(i64::from(self.settings.change_ticket_minutes));
            let change_ticket = issue(tx, &grant, TokenKind::ChangeTicket, lifetime).await?;
            ApiLogin::PasswordChangeRequired { change_ticket, expires_in: lifetime.whole_seconds() }
        } else {
            ApiLogin::Tokens(self.issue_pair(tx, &grant).await?)
        })
    }

    /// The account behind a bearer access token, if it is live and the account active.
    pub async fn authenticate(&self, access_token: &str) -> Result<Option<ApiPrincipal>, AuthError> {
        let Some(token) = self.deps.store.api_token(&digest(access_token), TokenKind::Access).await? else {
            return Ok(None);
        };
        if !token.is_live(self.deps.now()) {
            return Ok(None);
        }
        let account = self.active_account(&token).await?;
        Ok(account.map(|account| ApiPrincipal { account, token }))
    }

    async fn active_account(&self, token: &ApiToken) -> Result<Option<Account>, AuthError> {
        Ok(self.deps.store.account_by_id(token.account_id).await?.filter(|a| a.status == AccountStatus::Active))
    }

    /// Rotates a refresh token. `None`: invalid grant (a reused token revokes its family).
    pub async fn refresh(&self, refresh_token: &str, ctx: &RequestContext) -> Result<Option<TokenPair>, AuthError> {
        let now = self.deps.now();
        let Some(token) = self.deps.store.api_token(&digest(refresh_token), TokenKind::Refresh).await? else {
            return Ok(None);
        };
        let mut tx = self.deps.store.begin().await?;
        if !tx.use_api_token(token.id, now).await? {
            if token.used_at.is_some() && token.revoked_at.is_none() {
                self.reused(tx, &token, ctx, now).await?;
            }
            return Ok(None);
        }
        let Some(account) = self.active_account(&token).await? else {
            return Ok(None);
        };
        let client = token.client_name.clone().unwrap_or_default();
        let grant = Grant { family: token.family.clone(), ..grant(&account, &client, token.auth_method, ctx, now) };
        let pair = self.issue_pair(tx.as_mut(), &grant).await?;
        tx.commit().await?;
        Ok(Some(pair))
    }

    /// A used refresh token came back: whoever replayed it, the whole sign-in ends.
    async fn reused(
        &self,
        mut tx: Box<dyn Tx>,
        token: &ApiToken,
        ctx: &RequestContext,
        now: OffsetDateTime,
    ) -> Result<(), AuthError> {
        let revoked = tx.revoke_token_family(token.account_id, &token.family, now).await?;
        let details = serde_json::json!({ "reason": "refresh_token_reused", "family_revoked": revoked });
        let event = AuditEvent::new(AuditAction::SessionEnded, Outcome::Failure, Some(token.account_id), ctx)
            .with_details(details);
        tx.append_audit(&event, now).await?;
        tx.commit().await?;
        tracing::warn!(account = %token.account_id, "refresh token reused: family revoked");
        Ok(())
    }

    /// Ends the family of this access token (`DELETE /api/v1/sessions/current`).
    pub async fn sign_out(&self, principal: &ApiPrincipal, ctx: &RequestContext) -> Result<(), AuthError> {
        let now = self.deps.now();
        let mut tx = self.deps.store.begin().await?;
        tx.revoke_token_family(principal.account.id, &principal.token.family, now).await?;
        tx.append_audit(&AuditEvent::about(AuditAction::Logout, Outcome::Success, &principal.account, ctx), now)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Ends one desktop sign-in of the account (from "Mon compte").
    pub async fn end_family(&self, account: &Account, family: &str, ctx: &RequestContext) -> Result<u64, AuthError> {
        let now = self.deps.now();
        let mut tx = self.deps.store.begin().await?;
        let ended = tx.revoke_token_family(account.id, family, now).await?;
        let details = serde_json::json!({ "ended": ended, "desktop": true });
        let event = AuditEvent::about(AuditAction::SessionEnded, Outcome::Success, account, ctx).with_details(details);
        tx.append_audit(&event, now).await?;
        tx.commit().await?;
        Ok(ended)
    }

    /// Sets the personal password from a desktop application. On success every session and
    /// token of the account ends and this client gets a fresh pair.
    pub async fn change_password(
        &self,
        proof: ApiProof<'_>,
        new: &Password,
        client: &str,
        ctx: &RequestContext,
    ) -> Result<ApiChange, AuthError> {
        let signed_in_with = match &proof {
            ApiProof::AccessToken { principal, .. } => Some(principal.token.auth_method),
            ApiProof::ChangeTicket(_) => None,
        };
        let Some((account, ticket, signed_in_as)) = self.prove(proof).await? else {
            return Ok(ApiChange::Unauthorized);
        };
        let Some(credential) = self.deps.store.password_credential(account.id).await? else {
            return Ok(ApiChange::Unauthorized);
        };
        if ticket.is_some() && credential.temporary_until.is_none_or(|until| until <= self.deps.now()) {
            return Ok(ApiChange::TemporaryPasswordExpired);
        }
        let violations = self.passwords.violations(&account, new, new).await?;
        if !violations.is_empty() {
            self.passwords.refused(&account, &violations, "api", ctx).await?;
            return Ok(ApiChange::Refused(violations));
        }
        let phc = self.deps.hasher.hash(new).await?;
        let now = self.deps.now();
        let mut tx = self.deps.store.begin().await?;
        if let Some(ticket) = &ticket
            && !tx.use_api_token(ticket.id, now).await?
        {
            return Ok(ApiChange::Unauthorized); // a concurrent request used the ticket first
        }
        self.passwords.write_in(tx.as_mut(), &account, phc, credential.is_temporary(), ctx, now).await?;
        tx.revoke_all_access(account.id, now).await?;
        // Without a name in this request, the application keeps the one it signed in with.
        let client = if client.is_empty() { signed_in_as.as_deref().unwrap_or_default() } else { client };
        let method = ticket.as_ref().map(|t| t.auth_method).or(signed_in_with).unwrap_or(AuthMethod::Password);
        if self.factors.must_enrol(&account, method).await? {
            tx.commit().await?;
            return Ok(ApiChange::ChangedEnrolmentRequired);
        }
        let pair = self.issue_pair(tx.as_mut(), &grant(&account, client, method, ctx, now)).await?;
        tx.commit().await?;
        Ok(ApiChange::Changed(pair))
    }

    /// The account a change proves, the ticket to use up (if any), and the application name it
    /// signed in with. `None`: unknown, used or expired ticket, or wrong current password.
    async fn prove(
        &self,
        proof: ApiProof<'_>,
    ) -> Result<Option<(Account, Option<ApiToken>, Option<String>)>, AuthError> {
        match proof {
            ApiProof::ChangeTicket(ticket) => {
                let now = self.deps.now();
                let token = self.deps.store.api_token(&digest(ticket), TokenKind::ChangeTicket).await?;
                let Some(token) = token.filter(|t| t.is_live(now)) else {
                    return Ok(None);
                };
                let account = self.active_account(&token).await?;
                Ok(account.map(|a| (a, Some(token.clone()), token.client_name.clone())))
            }
            ApiProof::AccessToken { principal, current_password } => {
                let Some(credential) = self.deps.store.password_credential(principal.account.id).await? else {
                    return Ok(None);
                };
                if !self.deps.hasher.verify(current_password, &credential.phc).await?.matches {
                    return Ok(None);
                }
                Ok(Some((principal.account.clone(), None, principal.token.client_name.clone())))
            }
        }
    }

    /// A token family for a certificate sign-in, in its transaction.
    pub(crate) async fn issue_certificate_pair(
        &self,
        tx: &mut dyn Tx,
        account: &Account,
        client: &str,
        ctx: &RequestContext,
        now: OffsetDateTime,
    ) -> Result<TokenPair, AuthError> {
        self.issue_pair(tx, &grant(account, client, AuthMethod::Certificate, ctx, now)).await
    }

    async fn issue_pair(&self, tx: &mut dyn Tx, grant: &Grant<'_>) -> Result<TokenPair, AuthError> {
        let access = Duration::minutes(i64::from(self.settings.access_token_minutes));
        let access_token = issue(tx, grant, TokenKind::Access, access).await?;
        let refresh = Duration::days(i64::from(self.settings.refresh_token_days));
        let refresh_token = issue(tx, grant, TokenKind::Refresh, refresh).await?;
        Ok(TokenPair { access_token, refresh_token, expires_in: access.whole_seconds() })
    }
}

/// A grant opening a new token family.
fn grant<'a>(
    account: &'a Account,
    client: &'a str,
    method: AuthMethod,
    ctx: &'a RequestContext,
    now: OffsetDateTime,
) -> Grant<'a> {
    Grant { account, family: generate_token(12).expose_secret().to_owned(), client, method, ctx, now }
}

fn retry_after(until: Option<OffsetDateTime>, now: OffsetDateTime) -> i64 {
    until.map_or(3600, |u| (u - now).whole_seconds().max(1))
}

async fn issue(
    tx: &mut dyn Tx,
    grant: &Grant<'_>,
    kind: TokenKind,
    lifetime: Duration,
) -> Result<SecretString, AuthError> {
    let token = generate_token(32);
    tx.insert_api_token(&NewApiToken {
        token_hash: digest(token.expose_secret()),
        account_id: grant.account.id,
        kind,
        family: grant.family.clone(),
        client_name: Some(grant.client.to_owned()).filter(|c| !c.is_empty()),
        auth_method: grant.method,
        ip: grant.ctx.ip.clone(),
        created_at: grant.now,
        expires_at: grant.now + lifetime,
    })
    .await?;
    Ok(token)
}
