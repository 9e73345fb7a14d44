//! The authorization endpoint's use case: given a checked request and the browser's session,
//! whether the person must sign in (again), consent, or gets a code; and the code and consent
//! written, audited.

use secrecy::SecretString;
use time::{Duration, OffsetDateTime};

use crate::audit::{AuditAction, AuditEvent, Outcome, RequestContext};
use crate::deps::Deps;
use crate::error::AuthError;
use crate::oidc::request::{AuthorizationRequest, Scope};
use crate::secret::{digest_secret, generate_token};
use crate::sessions::SignedIn;
use crate::store::{Consent, NewCode};

/// How long a code may wait for its exchange (the 60 seconds; RFC 6749 advises 10
/// minutes at most).
pub const CODE_LIFETIME: Duration = Duration::seconds(60);

/// What the endpoint does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Send the person to "Je me connecte", then back here. `again`: even though a session
    /// exists (`prompt=login`, `max_age`, or two factors needed).
    SignIn { again: bool },
    /// The session has a password only and the service asks for two factors: the second step
    /// of the account (a step-up), then back here.
    SecondStep,
    /// Back to the service with this error (RFC 6749 4.1.2.1, OpenID Connect Core 3.1.2.6).
    Refuse { error: &'static str, description: &'static str },
    /// Ask the person.
    Consent,
    /// Issue a code.
    Grant,
}

/// The rules, in the order OpenID Connect Core 3.1.2.3 applies them. `signed_in_for_it` is when
/// Sésame sent the person to sign in for this very request (a sign-in made strictly after it
/// satisfies `prompt=login` and `max_age`); `has_second_factor` whether the account could make a second
/// step at all.
pub fn decide(
    request: &AuthorizationRequest,
    user: Option<&SignedIn>,
    signed_in_for_it: Option<OffsetDateTime>,
    has_second_factor: bool,
    consented: bool,
    now: OffsetDateTime,
) -> Decision {
    let sign_in = |again: bool| {
        if request.prompt_none {
            Decision::Refuse { error: "login_required", description: "the person must sign in" }
        } else {
            Decision::SignIn { again }
        }
    };
    let Some(user) = user.filter(|u| !u.session.must_change_password) else {
        return sign_in(false);
    };
    let auth_time = user.session.created_at;
    let fresh = signed_in_for_it.is_some_and(|asked| auth_time > asked);
    if request.prompt_login && !fresh {
        return sign_in(true);
    }
    if request.max_age.is_some_and(|max| now - auth_time > Duration::seconds(max)) && !fresh {
        return sign_in(true);
    }
    if request.two_factors && !user.session.auth_method.is_multi_factor() {
        if !has_second_factor || fresh {
            return Decision::Refuse {
                error: "unmet_authentication_requirements",
                description: "this service needs two factors, and the account has no second factor",
            };
        }
        return if request.prompt_none {
            Decision::Refuse { error: "interaction_required", description: "this service needs a second step" }
        } else {
            Decision::SecondStep
        };
    }
    if request.client.first_party || (consented && !request.prompt_consent) {
        return Decision::Grant;
    }
    if request.prompt_none {
        return Decision::Refuse { error: "consent_required", description: "the person has not consented yet" };
    }
    Decision::Consent
}

/// The scopes as stored and compared: space-separated, sorted.
pub fn scope_string(scopes: &[Scope]) -> String {
    scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")
}

/// Whether a stored consent covers every scope asked.
pub fn covers(consented: &str, asked: &[Scope]) -> bool {
    asked.iter().all(|s| consented.split(' ').any(|c| c == s.as_str()))
}

#[derive(Debug, Clone)]
pub struct Authorizations {
    deps: Deps,
}

impl Authorizations {
    pub fn new(deps: Deps) -> Self {
        Self { deps }
    }

    /// Whether the account already let this client have these scopes.
    pub async fn consented(&self, user: &SignedIn, request: &AuthorizationRequest) -> Result<bool, AuthError> {
        let stored = self.deps.store.consent(user.account.id, &request.client.client_id).await?;
        Ok(stored.is_some_and(|s| covers(&s, &request.scopes)))
    }

    /// Whether the account has a confirmed second factor.
    pub async fn has_second_factor(&self, user: &SignedIn) -> Result<bool, AuthError> {
        let factors = self.deps.store.second_factors_of(user.account.id).await?;
        Ok(factors.iter().any(|f| f.confirmed_at.is_some()))
    }

    /// Issues a code for the request (and records the consent given, if any).
    pub async fn grant(
        &self,
        request: &AuthorizationRequest,
        user: &SignedIn,
        consent_given: bool,
        ctx: &RequestContext,
    ) -> Result<SecretString, AuthError> {
        let now = self.deps.now();
        let code = generate_token(32);
        let scopes = scope_string(&request.scopes);
        let row = NewCode {
            code_hash: digest_secret(&code),
            client_id: request.client.client_id.clone(),
            account_id: user.account.id,
            session_id: user.session.id,
            redirect_uri: request.redirect_uri.clone(),
            scopes: scopes.clone(),
            nonce: request.nonce.clone(),
            code_challenge: request.code_challenge.clone(),
            auth_time: user.session.created_at,
            auth_method: user.session.auth_method,
            expires_at: now + CODE_LIFETIME,
        };
        let details = serde_json::json!({ "client_id": request.client.client_id, "scopes": scopes });
        let mut tx = self.deps.store.begin().await?;
        if consent_given {
            tx.save_consent(user.account.id, &request.client.client_id, &scopes, now).await?;
            let event = AuditEvent::about(AuditAction::ConsentGranted, Outcome::Success, &user.account, ctx);
            tx.append_audit(&event.with_details(details.clone()), now).await?;
        }
        tx.insert_code(&row, now).await?;
        let event = AuditEvent::about(AuditAction::AuthorizationCodeIssued, Outcome::Success, &user.account, ctx);
        tx.append_audit(&event.with_details(details), now).await?;
        tx.commit().await?;
        Ok(code)
    }

    /// The person said no: recorded, nothing granted.
    pub async fn deny(
        &self,
        request: &AuthorizationRequest,
        user: &SignedIn,
        ctx: &RequestContext,
    ) -> Result<(), AuthError> {
        let event = AuditEvent::about(AuditAction::ConsentDenied, Outcome::Success, &user.account, ctx)
            .with_details(serde_json::json!({ "client_id": request.client.client_id }));
        self.deps.audit(event).await
    }

    /// "Applications autorisées".
    pub async fn consents(&self, user: &SignedIn) -> Result<Vec<Consent>, AuthError> {
        Ok(self.deps.store.consents_of(user.account.id).await?)
    }

    /// Withdraws a consent from "Mon compte": the service asks again next time.
    pub async fn withdraw(&self, user: &SignedIn, client_id: &str, ctx: &RequestContext) -> Result<bool, AuthError> {
        let now = self.deps.now();
        let mut tx = self.deps.store.begin().await?;
        if !tx.delete_consent(user.account.id, client_id).await? {
            return Ok(false);
        }
        let event = AuditEvent::about(AuditAction::ConsentWithdrawn, Outcome::Success, &user.account, ctx)
            .with_details(serde_json::json!({ "client_id": client_id }));
        tx.append_audit(&event, now).await?;
        tx.commit().await?;
        Ok(true)
    }
}
