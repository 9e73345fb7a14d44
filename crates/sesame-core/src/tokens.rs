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
use crate::factors::SecondFactors;
use crate::model::{Account, AccountStatus};
use crate::passwords::Passwords;
use crate::policy::Violation;
use crate::secret::{digest, generate_token};
use crate::session::{ApiToken, AuthMethod, NewApiToken, TokenKind};
use crate::signin::{Check, SignIn, TICKET_LIFETIME};
use crate::store::Tx;
use crate::types::{LoginIdentifier, Password};

mod change;
mod step;

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
        /// What this account can answer with here: `totp` if it has an app, `recovery_code`
        /// always (a security key needs a browser: the portal, or OpenID Connect).
        accepted: Vec<&'static str>,
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
                // Reads before the write transaction: on SQLite it holds the one writer.
                let second_step = self.sign_in.needs_second_step(&verified.account).await?;
                let accepted =
                    if second_step { self.factors.api_answers(&verified.account).await? } else { Vec::new() };
                let enrol = self.enrolment_required(&verified, AuthMethod::Password).await?;
                let mut tx = self.deps.store.begin().await?;
                if second_step {
                    let ticket =
                        self.sign_in.second_step_ticket(tx.as_mut(), &verified, "api", Some(client), ctx, now).await?;
                    tx.commit().await?;
                    return Ok(ApiLogin::SecondFactorRequired {
                        second_factor_ticket: ticket,
                        expires_in: TICKET_LIFETIME.whole_seconds(),
                        accepted,
                    });
                }
                self.sign_in.record(tx.as_mut(), &verified, AuthMethod::Password, "api", ctx, now).await?;
                let outcome = if enrol {
                    ApiLogin::SecondFactorEnrolmentRequired
                } else {
                    self.grant_in(tx.as_mut(), &verified, AuthMethod::Password, client, ctx, now).await?
                };
                tx.commit().await?;
                outcome
            }
            Check::Refused { .. } => ApiLogin::Refused,
            Check::Throttled { until, .. } => ApiLogin::Throttled { retry_after: retry_after(until, self.deps.now()) },
            Check::CaptchaFailed => ApiLogin::Throttled { retry_after: 60 },
            Check::TemporaryPasswordExpired => ApiLogin::TemporaryPasswordExpired,
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
