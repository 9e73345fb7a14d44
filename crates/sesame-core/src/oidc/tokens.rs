//! The token endpoint's use cases (RFC 6749 section 3.2, OpenID Connect Core 3.1.3) and the
//! userinfo endpoint's: a client authenticated, a code exchanged once for an ID token, an
//! access token and a refresh token, a refresh token rotated, an access token read.
//!
//! Access and refresh tokens are opaque: 256 random bits, stored as their SHA-256 digest, so
//! that they can be revoked at once (a password change, a reset, a disabled account, a sign-out)
//! and are never readable by whoever copies the database. A code presented twice, or a refresh
//! token, revokes every token of its family.

use secrecy::{ExposeSecret as _, SecretString};
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use time::OffsetDateTime;

use crate::audit::{AuditAction, AuditEvent, Outcome, RequestContext};
use crate::client::{Client, ClientKind};
use crate::deps::Deps;
use crate::error::AuthError;
use crate::model::{Account, AccountStatus};
use crate::oidc::OidcSettings;
use crate::oidc::claims::{self, IdToken};
use crate::oidc::clients::{ClientError, Clients, secret_matches};
use crate::oidc::keys::SigningKeys;
use crate::secret::{digest, digest_secret, generate_token};
use crate::signing::{Alg, Signer};
use crate::store::{NewOidcToken, OidcToken, OidcTokenKind, StoreError, TakenCode, TokenGrant, Tx};
use std::sync::Arc;

mod inspect;

/// A refusal of the token endpoint (RFC 6749 5.2), or the store failing.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("{error}: {description}")]
    Refused { error: &'static str, description: &'static str },
    #[error(transparent)]
    Unavailable(#[from] AuthError),
}

impl From<StoreError> for TokenError {
    fn from(e: StoreError) -> Self {
        Self::Unavailable(e.into())
    }
}

fn refused(error: &'static str, description: &'static str) -> TokenError {
    TokenError::Refused { error, description }
}

fn invalid_grant(description: &'static str) -> TokenError {
    refused("invalid_grant", description)
}

/// What the token endpoint answers.
#[derive(Debug)]
pub struct Issued {
    pub access_token: SecretString,
    pub refresh_token: SecretString,
    pub id_token: String,
    pub expires_in: i64,
    /// The scopes granted, space-separated.
    pub scope: String,
}

/// What a valid access token lets the userinfo endpoint read.
#[derive(Debug)]
pub enum Bearer {
    Valid {
        account: Box<Account>,
        token: OidcToken,
    },
    /// Unknown, expired, revoked, or of an account that is no longer active.
    Invalid,
}

#[derive(Debug, Clone)]
pub struct Tokens {
    deps: Deps,
    settings: OidcSettings,
    clients: Clients,
    keys: SigningKeys,
    /// The public URL without its trailing slash: the `iss` of every token.
    issuer: String,
}

impl Tokens {
    pub fn new(deps: Deps, settings: &OidcSettings, public_url: &str, clients: Clients, keys: SigningKeys) -> Self {
        let issuer = public_url.trim_end_matches('/').to_owned();
        Self { deps, settings: settings.clone(), clients, keys, issuer }
    }

    /// RFC 6749 2.3: a confidential client proves itself with its secret (HTTP Basic or the
    /// form); a public client sends none and is held to PKCE instead.
    pub async fn authenticate(&self, client_id: &str, secret: Option<&str>) -> Result<Client, TokenError> {
        let client = match self.clients.get(client_id).await {
            Ok(client) => client,
            Err(ClientError::Auth(e)) => return Err(e.into()),
            Err(_) => return Err(refused("invalid_client", "unknown client")),
        };
        match (client.kind, secret) {
            (ClientKind::Confidential, Some(secret)) if secret_matches(&client, secret) => Ok(client),
            (ClientKind::Confidential, _) => Err(refused("invalid_client", "client authentication failed")),
            (ClientKind::Public, None) => Ok(client),
            (ClientKind::Public, Some(_)) => Err(refused("invalid_client", "a public client has no secret")),
        }
    }

    /// `grant_type=authorization_code`. The code is used up by the first exchange, whatever
    /// comes after; a second one revokes what the first gave.
    pub async fn exchange(
        &self,
        client: &Client,
        code: &str,
        redirect_uri: Option<&str>,
        verifier: Option<&str>,
        ctx: &RequestContext,
    ) -> Result<Issued, TokenError> {
        let now = self.deps.now();
        let signer = self.signer(client.id_token_alg).await?;
        let mut tx = self.deps.store.begin().await?;
        let Some(taken) = tx.take_code(&digest(code), now).await? else {
            return Err(invalid_grant("unknown code"));
        };
        if taken.code.client_id != client.client_id {
            return Err(invalid_grant("the code was issued to another client"));
        }
        if !taken.first_use {
            return Err(self.replayed_code(tx, &taken, now, ctx).await);
        }
        let account = self.checked_code(&taken, client, redirect_uri, verifier, now).await?;
        let grant = TokenGrant {
            code_id: taken.id,
            client_id: client.client_id.clone(),
            account_id: account.id,
            session_id: taken.code.session_id,
            offline: taken.code.scopes.split(' ').any(|s| s == "offline_access"),
            scopes: taken.code.scopes.clone(),
            auth_time: taken.code.auth_time,
            auth_method: taken.code.auth_method,
        };
        let request = Issue { account: &account, grant: &grant, nonce: taken.code.nonce.as_deref(), signer };
        let minted = self.issue(&mut *tx, request, grant.scopes.clone(), now).await?;
        let event = AuditEvent::about(AuditAction::OidcTokensIssued, Outcome::Success, &account, ctx)
            .with_details(serde_json::json!({ "client_id": client.client_id, "scopes": grant.scopes }));
        tx.append_audit(&event, now).await?;
        tx.commit().await?;
        minted.signed()
    }

    /// Everything a first exchange must match; the account it is for.
    async fn checked_code(
        &self,
        taken: &TakenCode,
        client: &Client,
        redirect_uri: Option<&str>,
        verifier: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<Account, TokenError> {
        let code = &taken.code;
        if code.expires_at <= now {
            return Err(invalid_grant("the code has expired"));
        }
        if redirect_uri != Some(code.redirect_uri.as_str()) {
            return Err(invalid_grant("redirect_uri differs from the authorization request's"));
        }
        match (&code.code_challenge, verifier) {
            (Some(challenge), Some(verifier)) if pkce_matches(challenge, verifier) => {}
            (Some(_), _) => return Err(invalid_grant("the PKCE code_verifier does not match the code_challenge")),
            (None, Some(_)) => return Err(invalid_grant("a code_verifier was sent for a code issued without PKCE")),
            (None, None) if client.needs_pkce() => return Err(invalid_grant("this client must use PKCE")),
            (None, None) => {}
        }
        if !taken.session_alive {
            return Err(invalid_grant("the session the code was issued in has ended"));
        }
        self.active_account(code.account_id).await
    }

    async fn active_account(&self, id: crate::model::AccountId) -> Result<Account, TokenError> {
        match self.deps.store.account_by_id(id).await? {
            Some(account) if account.status == AccountStatus::Active => Ok(account),
            _ => Err(invalid_grant("the account is not active")),
        }
    }

    /// A code presented again: whoever holds it, thief or owner, loses what it gave.
    async fn replayed_code(
        &self,
        mut tx: Box<dyn Tx>,
        taken: &TakenCode,
        now: OffsetDateTime,
        ctx: &RequestContext,
    ) -> TokenError {
        let revoked = async {
            let revoked = tx.revoke_oidc_family(taken.id, now).await?;
            let account = self.deps.store.account_by_id(taken.code.account_id).await?;
            let details = serde_json::json!({ "client_id": taken.code.client_id, "tokens_revoked": revoked });
            let event = AuditEvent::about_maybe(AuditAction::OidcCodeReused, Outcome::Failure, account.as_ref(), ctx);
            tx.append_audit(&event.with_details(details), now).await?;
            tx.commit().await
        };
        match revoked.await {
            Ok(()) => invalid_grant("the code has already been used"),
            Err(e) => e.into(),
        }
    }

    /// `grant_type=refresh_token`: the token is used up and replaced; presented again, it
    /// revokes its whole family. `scope` may narrow the new access token's scopes.
    pub async fn refresh(
        &self,
        client: &Client,
        refresh_token: &str,
        scope: Option<&str>,
        ctx: &RequestContext,
    ) -> Result<Issued, TokenError> {
        let now = self.deps.now();
        let token = match self.deps.store.oidc_token(&digest(refresh_token), now).await? {
            Some(t) if t.kind == OidcTokenKind::Refresh && t.grant.client_id == client.client_id => t,
            _ => return Err(invalid_grant("unknown refresh token")),
        };
        let scope = narrowed(&token.grant.scopes, scope)?;
        // Read before the transaction: the writer is held for writes only.
        let signer = self.signer(client.id_token_alg).await?;
        let account = self.deps.store.account_by_id(token.grant.account_id).await?;
        let mut tx = self.deps.store.begin().await?;
        if token.used_at.is_some() || (token.revoked_at.is_none() && !tx.use_oidc_token(token.id, now).await?) {
            return Err(self.replayed_refresh(tx, &token, now, ctx).await);
        }
        if !token.is_live(now) {
            return Err(invalid_grant("the refresh token has expired or was revoked"));
        }
        let Some(account) = account.filter(|a| a.status == AccountStatus::Active) else {
            return Err(invalid_grant("the account is not active"));
        };
        let request = Issue { account: &account, grant: &token.grant, nonce: None, signer };
        let minted = self.issue(&mut *tx, request, scope, now).await?;
        let event = AuditEvent::about(AuditAction::OidcTokensRefreshed, Outcome::Success, &account, ctx)
            .with_details(serde_json::json!({ "client_id": client.client_id, "scopes": minted.scope }));
        tx.append_audit(&event, now).await?;
        tx.commit().await?;
        minted.signed()
    }

    async fn replayed_refresh(
        &self,
        mut tx: Box<dyn Tx>,
        token: &OidcToken,
        now: OffsetDateTime,
        ctx: &RequestContext,
    ) -> TokenError {
        let revoked = async {
            let revoked = tx.revoke_oidc_family(token.grant.code_id, now).await?;
            let account = self.deps.store.account_by_id(token.grant.account_id).await?;
            let details = serde_json::json!({ "client_id": token.grant.client_id, "tokens_revoked": revoked });
            let event =
                AuditEvent::about_maybe(AuditAction::OidcRefreshReused, Outcome::Failure, account.as_ref(), ctx);
            tx.append_audit(&event.with_details(details), now).await?;
            tx.commit().await
        };
        match revoked.await {
            Ok(()) => invalid_grant("the refresh token has already been used"),
            Err(e) => e.into(),
        }
    }

    /// Writes a new access token and refresh token of the family; the ID token's claims, to
    /// sign once the transaction commits.
    async fn issue(
        &self,
        tx: &mut dyn Tx,
        request: Issue<'_>,
        scope: String,
        now: OffsetDateTime,
    ) -> Result<Minted, TokenError> {
        let lifetime = self.settings.access_token_lifetime();
        let access_token = generate_token(32);
        let refresh_token = generate_token(32);
        let access_grant = TokenGrant { scopes: scope.clone(), ..request.grant.clone() };
        for (token, kind, grant, expires_at) in [
            (&access_token, OidcTokenKind::Access, access_grant, now + lifetime),
            (
                &refresh_token,
                OidcTokenKind::Refresh,
                request.grant.clone(),
                now + self.settings.refresh_token_lifetime(),
            ),
        ] {
            let row = NewOidcToken { token_hash: digest_secret(token), kind, grant, expires_at };
            tx.insert_oidc_token(&row, now).await?;
        }
        let id_token = IdToken {
            issuer: &self.issuer,
            account: request.account,
            grant: &TokenGrant { scopes: scope.clone(), ..request.grant.clone() },
            nonce: request.nonce,
            at_hash: claims::at_hash(access_token.expose_secret()),
            now,
            lifetime,
        };
        let claims = id_token.claims();
        let expires_in = lifetime.whole_seconds();
        Ok(Minted { access_token, refresh_token, claims, signer: request.signer, expires_in, scope })
    }

    /// The key of the client's algorithm: RS256 (what every relying party accepts, OpenID
    /// Connect Discovery 3) unless it registered ES256. Both hash with SHA-256, as `at_hash` does.
    /// Found before anything is written: a missing key refuses with nothing issued.
    async fn signer(&self, alg: Alg) -> Result<Arc<Signer>, TokenError> {
        let keys = self.keys.current().await?;
        let signer = keys.signer(alg).ok_or_else(|| AuthError::Internal(format!("no {} signing key", alg.as_str())))?;
        Ok(Arc::clone(signer))
    }
}

struct Issue<'a> {
    account: &'a Account,
    grant: &'a TokenGrant,
    nonce: Option<&'a str>,
    signer: Arc<Signer>,
}

/// Tokens written in a transaction, their ID token signed once it has committed: signing (RSA
/// above all) holds no database lock.
struct Minted {
    access_token: SecretString,
    refresh_token: SecretString,
    claims: Value,
    signer: Arc<Signer>,
    expires_in: i64,
    scope: String,
}

impl Minted {
    fn signed(self) -> Result<Issued, TokenError> {
        let id_token = self.signer.sign("JWT", &self.claims).map_err(|e| AuthError::Internal(e.to_string()))?;
        let Self { access_token, refresh_token, expires_in, scope, .. } = self;
        Ok(Issued { access_token, refresh_token, id_token, expires_in, scope })
    }
}

/// RFC 7636 4.6, S256 only: BASE64URL(SHA256(verifier)) == challenge, the verifier being 43 to
/// 128 unreserved characters.
pub fn pkce_matches(challenge: &str, verifier: &str) -> bool {
    use base64::Engine as _;
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    well_formed && bool::from(subtle::ConstantTimeEq::ct_eq(computed.as_bytes(), challenge.as_bytes()))
}

/// RFC 6749 6: a refresh may ask for fewer scopes, never more.
fn narrowed(granted: &str, asked: Option<&str>) -> Result<String, TokenError> {
    let Some(asked) = asked else { return Ok(granted.to_owned()) };
    let mut scopes: Vec<&str> = asked.split(' ').filter(|s| !s.is_empty()).collect();
    if scopes.is_empty() || !scopes.iter().all(|s| granted.split(' ').any(|g| g == *s)) {
        return Err(refused("invalid_scope", "a refresh may only ask for scopes already granted"));
    }
    let order = |s: &&str| granted.split(' ').position(|g| g == *s);
    scopes.sort_by_key(order);
    scopes.dedup();
    Ok(scopes.join(" "))
}
