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
use crate::auth::{AuthError, AuthService, Check};
use crate::credentials;
use crate::model::{Account, AccountStatus};
use crate::policy::Violation;
use crate::secret::{digest, generate_token};
use crate::session::{ApiToken, AuthMethod, NewApiToken, TokenKind};
use crate::store::Tx;
use crate::types::Password;

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
    /// Too many failures for this identifier (or address): try again after this many seconds.
    Throttled {
        retry_after: i64,
    },
    /// The temporary password was right but expired.
    TemporaryPasswordExpired,
}

#[derive(Debug)]
pub enum ApiChange {
    /// Changed; every other session and token ended; a fresh pair for this client.
    Changed(TokenPair),
    Refused(Vec<Violation>),
    /// Unknown, used or expired ticket, or wrong current password.
    Unauthorized,
    TemporaryPasswordExpired,
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

impl AuthService {
    /// Signs a desktop application in. Throttling counters are the same as the pages'.
    pub async fn api_login(
        &self,
        identifier: &str,
        password: &Password,
        client: &str,
        settings: &ApiSettings,
        ctx: &RequestContext,
    ) -> Result<ApiLogin, AuthError> {
        // No captcha can be shown to an application: the delays still apply.
        Ok(match self.check_password(identifier, password, true, ctx).await? {
            Check::Verified(verified) => {
                let now = self.now();
                let mut tx = self.store().begin().await?;
                self.record_sign_in(tx.as_mut(), &verified, "api", ctx, now).await?;
                let family = new_family();
                let account = &verified.account;
                let outcome = if verified.credential.is_temporary() {
                    let minutes = i64::from(settings.change_ticket_minutes);
                    let ticket = issue(
                        tx.as_mut(),
                        account,
                        TokenKind::ChangeTicket,
                        &family,
                        client,
                        AuthMethod::Password,
                        ctx,
                        now,
                        Duration::minutes(minutes),
                    )
                    .await?;
                    ApiLogin::PasswordChangeRequired { change_ticket: ticket, expires_in: minutes * 60 }
                } else {
                    ApiLogin::Tokens(issue_pair(tx.as_mut(), account, &family, client, settings, ctx, now).await?)
                };
                tx.commit().await?;
                outcome
            }
            Check::Refused { .. } => ApiLogin::Refused,
            Check::Throttled { until, .. } => ApiLogin::Throttled { retry_after: retry_after(until, self.now()) },
            Check::CaptchaFailed => ApiLogin::Throttled { retry_after: 60 },
            Check::TemporaryPasswordExpired => ApiLogin::TemporaryPasswordExpired,
        })
    }

    /// The account behind a bearer access token, if it is live and the account active.
    pub async fn api_authenticate(&self, access_token: &str) -> Result<Option<ApiPrincipal>, AuthError> {
        let Some(token) = self.store().api_token(&digest(access_token), TokenKind::Access).await? else {
            return Ok(None);
        };
        if !token.is_live(self.now()) {
            return Ok(None);
        }
        let account = self.store().account_by_id(token.account_id).await?.filter(|a| a.status == AccountStatus::Active);
        Ok(account.map(|account| ApiPrincipal { account, token }))
    }

    /// Rotates a refresh token. `None`: invalid grant (a reused token revokes its family).
    pub async fn api_refresh(
        &self,
        refresh_token: &str,
        settings: &ApiSettings,
        ctx: &RequestContext,
    ) -> Result<Option<TokenPair>, AuthError> {
        let now = self.now();
        let Some(token) = self.store().api_token(&digest(refresh_token), TokenKind::Refresh).await? else {
            return Ok(None);
        };
        let mut tx = self.store().begin().await?;
        if !tx.use_api_token(token.id, now).await? {
            if token.used_at.is_some() && token.revoked_at.is_none() {
                let revoked = tx.revoke_token_family(token.account_id, &token.family, now).await?;
                let details = serde_json::json!({ "reason": "refresh_token_reused", "family_revoked": revoked });
                tx.append_audit(
                    &AuditEvent::new(AuditAction::SessionEnded, Outcome::Failure, Some(token.account_id), ctx)
                        .with_details(details),
                    now,
                )
                .await?;
                tx.commit().await?;
                tracing::warn!(account = %token.account_id, "refresh token reused: family revoked");
            }
            return Ok(None);
        }
        let Some(account) =
            self.store().account_by_id(token.account_id).await?.filter(|a| a.status == AccountStatus::Active)
        else {
            return Ok(None);
        };
        let client = token.client_name.clone().unwrap_or_default();
        let pair = issue_pair(tx.as_mut(), &account, &token.family, &client, settings, ctx, now).await?;
        tx.commit().await?;
        Ok(Some(pair))
    }

    /// Ends the family of this access token (`DELETE /api/v1/sessions/current`).
    pub async fn api_logout(&self, principal: &ApiPrincipal, ctx: &RequestContext) -> Result<(), AuthError> {
        let now = self.now();
        let mut tx = self.store().begin().await?;
        tx.revoke_token_family(principal.account.id, &principal.token.family, now).await?;
        tx.append_audit(&AuditEvent::about(AuditAction::Logout, Outcome::Success, &principal.account, ctx), now)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Ends one desktop sign-in of the account (from "Mon compte").
    pub async fn end_api_session(
        &self,
        account: &Account,
        family: &str,
        ctx: &RequestContext,
    ) -> Result<u64, AuthError> {
        let now = self.now();
        let mut tx = self.store().begin().await?;
        let ended = tx.revoke_token_family(account.id, family, now).await?;
        let details = serde_json::json!({ "ended": ended, "desktop": true });
        tx.append_audit(
            &AuditEvent::about(AuditAction::SessionEnded, Outcome::Success, account, ctx).with_details(details),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(ended)
    }

    /// Sets the personal password from a desktop application. On success every session and
    /// token of the account ends and this client gets a fresh pair.
    pub async fn api_change_password(
        &self,
        proof: ApiProof<'_>,
        new: &Password,
        client: &str,
        settings: &ApiSettings,
        ctx: &RequestContext,
    ) -> Result<ApiChange, AuthError> {
        let now = self.now();
        let proof_client = match &proof {
            ApiProof::ChangeTicket(_) => None,
            ApiProof::AccessToken { principal, .. } => principal.token.client_name.clone(),
        };
        let (account, ticket) = match proof {
            ApiProof::ChangeTicket(ticket) => {
                let Some(token) =
                    self.store().api_token(&digest(ticket), TokenKind::ChangeTicket).await?.filter(|t| t.is_live(now))
                else {
                    return Ok(ApiChange::Unauthorized);
                };
                let Some(account) =
                    self.store().account_by_id(token.account_id).await?.filter(|a| a.status == AccountStatus::Active)
                else {
                    return Ok(ApiChange::Unauthorized);
                };
                (account, Some(token))
            }
            ApiProof::AccessToken { principal, current_password } => {
                let Some(credential) = self.store().password_credential(principal.account.id).await? else {
                    return Ok(ApiChange::Unauthorized);
                };
                if !self.hasher().verify(current_password, &credential.phc).await?.matches {
                    return Ok(ApiChange::Unauthorized);
                }
                (principal.account.clone(), None)
            }
        };
        let Some(credential) = self.store().password_credential(account.id).await? else {
            return Ok(ApiChange::Unauthorized);
        };
        let proof_client = proof_client.or_else(|| ticket.as_ref().and_then(|t| t.client_name.clone()));
        if ticket.is_some() && credential.temporary_until.is_none_or(|until| until <= now) {
            return Ok(ApiChange::TemporaryPasswordExpired);
        }
        let violations =
            credentials::violations(&**self.store(), self.hasher(), self.policy(), self.branding(), &account, new, new)
                .await?;
        if !violations.is_empty() {
            let codes: Vec<&str> = violations.iter().map(|v| v.rule.code()).collect();
            self.audit(
                AuditEvent::about(AuditAction::PasswordChangeRefused, Outcome::Failure, &account, ctx)
                    .with_details(serde_json::json!({ "rules": codes, "channel": "api" })),
            )
            .await?;
            return Ok(ApiChange::Refused(violations));
        }
        let phc = self.hasher().hash(new).await?;
        let now = self.now();
        let mut tx = self.store().begin().await?;
        if let Some(ticket) = &ticket
            && !tx.use_api_token(ticket.id, now).await?
        {
            return Ok(ApiChange::Unauthorized); // a concurrent request used the ticket first
        }
        self.write_new_password(tx.as_mut(), &account, phc, credential.is_temporary(), ctx, now).await?;
        tx.revoke_all_access(account.id, now).await?;
        // Without a name in this request, the application keeps the one it signed in with.
        let inherited = match &proof_client {
            Some(name) if client.is_empty() => name.as_str(),
            _ => client,
        };
        let pair = issue_pair(tx.as_mut(), &account, &new_family(), inherited, settings, ctx, now).await?;
        tx.commit().await?;
        Ok(ApiChange::Changed(pair))
    }
}

impl AuthService {
    /// A token family for a certificate sign-in.
    pub(crate) async fn issue_certificate_tokens(
        &self,
        tx: &mut dyn Tx,
        account: &Account,
        client: &str,
        settings: &ApiSettings,
        ctx: &RequestContext,
        now: OffsetDateTime,
    ) -> Result<TokenPair, AuthError> {
        issue_pair_with(tx, account, &new_family(), client, AuthMethod::Certificate, settings, ctx, now).await
    }
}

fn new_family() -> String {
    generate_token(12).expose_secret().to_owned()
}

fn retry_after(until: Option<OffsetDateTime>, now: OffsetDateTime) -> i64 {
    until.map_or(3600, |u| (u - now).whole_seconds().max(1))
}

#[expect(clippy::too_many_arguments, reason = "one private step shared by every issuance")]
async fn issue(
    tx: &mut dyn Tx,
    account: &Account,
    kind: TokenKind,
    family: &str,
    client: &str,
    method: AuthMethod,
    ctx: &RequestContext,
    now: OffsetDateTime,
    lifetime: Duration,
) -> Result<SecretString, AuthError> {
    let token = generate_token(32);
    tx.insert_api_token(&NewApiToken {
        token_hash: digest(token.expose_secret()),
        account_id: account.id,
        kind,
        family: family.to_owned(),
        client_name: Some(client.to_owned()).filter(|c| !c.is_empty()),
        auth_method: method,
        ip: ctx.ip.clone(),
        created_at: now,
        expires_at: now + lifetime,
    })
    .await?;
    Ok(token)
}

async fn issue_pair(
    tx: &mut dyn Tx,
    account: &Account,
    family: &str,
    client: &str,
    settings: &ApiSettings,
    ctx: &RequestContext,
    now: OffsetDateTime,
) -> Result<TokenPair, AuthError> {
    issue_pair_with(tx, account, family, client, AuthMethod::Password, settings, ctx, now).await
}

#[expect(clippy::too_many_arguments, reason = "one private step shared by every issuance")]
async fn issue_pair_with(
    tx: &mut dyn Tx,
    account: &Account,
    family: &str,
    client: &str,
    method: AuthMethod,
    settings: &ApiSettings,
    ctx: &RequestContext,
    now: OffsetDateTime,
) -> Result<TokenPair, AuthError> {
    let access_minutes = i64::from(settings.access_token_minutes);
    let access = Duration::minutes(access_minutes);
    let access_token = issue(tx, account, TokenKind::Access, family, client, method, ctx, now, access).await?;
    let refresh_days = Duration::days(i64::from(settings.refresh_token_days));
    let refresh_token = issue(tx, account, TokenKind::Refresh, family, client, method, ctx, now, refresh_days).await?;
    Ok(TokenPair { access_token, refresh_token, expires_in: access_minutes * 60 })
}
