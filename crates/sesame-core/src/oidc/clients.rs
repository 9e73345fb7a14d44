//! Registering the portal's services as OpenID Connect clients, from the command line: a
//! random `client_id`, and for a confidential client a random secret shown once and stored as
//! its digest. Every change is audited with the operator as actor.

use secrecy::{ExposeSecret as _, SecretString};
use subtle::ConstantTimeEq as _;

use crate::audit::{AuditAction, AuditEvent, Outcome, RequestContext};
use crate::client::{Client, ClientKind, NewClient, RedirectUri, check_web_uri};
use crate::deps::Deps;
use crate::error::AuthError;
use crate::secret::{digest, generate_token};
use crate::signing::Alg;

/// What an operator asks for.
#[derive(Debug, Clone, Default)]
pub struct ClientRequest {
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub public: bool,
    pub post_logout_redirect_uris: Vec<String>,
    pub backchannel_logout_uri: Option<String>,
    pub first_party: bool,
    pub require_second_factor: bool,
    /// Let a confidential client go without PKCE (a library too old for it); never a public one.
    pub pkce_optional: bool,
    /// `RS256` (the default) or `ES256`: how its ID tokens are signed.
    pub id_token_alg: Option<String>,
}

/// A client just registered, or given a new secret: the secret, in clear, this once.
#[derive(Debug)]
pub struct Created {
    pub client: Client,
    pub secret: Option<SecretString>,
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Each problem of the request, for the operator.
    #[error("{}", .0.join("; "))]
    Invalid(Vec<String>),
    #[error("no client '{0}'")]
    Unknown(String),
    #[error("client '{0}' is public: it has no secret")]
    Public(String),
    #[error(transparent)]
    Auth(#[from] AuthError),
}

impl From<crate::store::StoreError> for ClientError {
    fn from(e: crate::store::StoreError) -> Self {
        Self::Auth(e.into())
    }
}

#[derive(Debug, Clone)]
pub struct Clients {
    deps: Deps,
}

impl Clients {
    pub fn new(deps: Deps) -> Self {
        Self { deps }
    }

    /// Registers a client after checking every address; nothing is stored if one is wrong.
    pub async fn create(&self, request: &ClientRequest, ctx: &RequestContext) -> Result<Created, ClientError> {
        let kind = if request.public { ClientKind::Public } else { ClientKind::Confidential };
        let mut client = checked(request, kind)?;
        let secret = (kind == ClientKind::Confidential).then(|| generate_token(32));
        client.secret_digest = secret.as_ref().map(|s| digest(s.expose_secret()));
        let now = self.deps.now();
        let mut tx = self.deps.store.begin().await?;
        tx.insert_client(&client, now).await?;
        tx.append_audit(&event(AuditAction::ClientCreated, &client.client_id, &client.name, ctx), now).await?;
        tx.commit().await?;
        // Built from what was written, not read back: a failed read must not lose the secret.
        Ok(Created { client: client.registered(now), secret })
    }

    pub async fn list(&self) -> Result<Vec<Client>, ClientError> {
        Ok(self.deps.store.oidc_clients().await?)
    }

    pub async fn get(&self, client_id: &str) -> Result<Client, ClientError> {
        self.deps.store.oidc_client(client_id).await?.ok_or_else(|| ClientError::Unknown(client_id.to_owned()))
    }

    /// A new secret for a confidential client: the old one stops working at once.
    pub async fn rotate_secret(&self, client_id: &str, ctx: &RequestContext) -> Result<Created, ClientError> {
        let client = self.get(client_id).await?;
        if client.kind == ClientKind::Public {
            return Err(ClientError::Public(client_id.to_owned()));
        }
        let secret = generate_token(32);
        let now = self.deps.now();
        let mut tx = self.deps.store.begin().await?;
        if !tx.set_client_secret(client_id, &digest(secret.expose_secret()), now).await? {
            return Err(ClientError::Unknown(client_id.to_owned()));
        }
        tx.append_audit(&event(AuditAction::ClientSecretRotated, client_id, &client.name, ctx), now).await?;
        tx.commit().await?;
        let client = Client { secret_rotated_at: Some(now), ..client };
        Ok(Created { client, secret: Some(secret) })
    }

    /// Removes a client: what it was issued stops working with it.
    pub async fn delete(&self, client_id: &str, ctx: &RequestContext) -> Result<(), ClientError> {
        let client = self.get(client_id).await?;
        let now = self.deps.now();
        let mut tx = self.deps.store.begin().await?;
        if !tx.delete_client(client_id).await? {
            return Err(ClientError::Unknown(client_id.to_owned()));
        }
        tx.append_audit(&event(AuditAction::ClientDeleted, client_id, &client.name, ctx), now).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Whether `secret` is this confidential client's, in constant time.
pub fn secret_matches(client: &Client, secret: &str) -> bool {
    client.secret_digest.as_deref().is_some_and(|stored| bool::from(stored.ct_eq(&digest(secret))))
}

/// The request checked: every problem listed at once.
fn checked(request: &ClientRequest, kind: ClientKind) -> Result<NewClient, ClientError> {
    let mut problems = Vec::new();
    let name = request.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        problems.push("--name must be 1 to 100 characters, without control characters".to_owned());
    }
    if request.redirect_uris.is_empty() {
        problems.push("at least one --redirect-uri is required".to_owned());
    }
    let mut redirect_uris = Vec::new();
    for uri in &request.redirect_uris {
        match RedirectUri::parse(uri, kind) {
            Ok(r) if !redirect_uris.contains(&r) => redirect_uris.push(r),
            Ok(_) => {}
            Err(e) => problems.push(format!("--redirect-uri {e}")),
        }
    }
    for uri in &request.post_logout_redirect_uris {
        if let Err(e) = check_web_uri(uri) {
            problems.push(format!("--post-logout-redirect-uri {e}"));
        }
    }
    if let Some(uri) = &request.backchannel_logout_uri
        && let Err(e) = check_web_uri(uri)
    {
        problems.push(format!("--backchannel-logout-uri {e}"));
    }
    if request.pkce_optional && kind == ClientKind::Public {
        problems.push("a public client always uses PKCE: drop --pkce-optional".to_owned());
    }
    let id_token_alg = match request.id_token_alg.as_deref() {
        None => Alg::Rs256,
        Some(asked) => Alg::parse(&asked.to_ascii_uppercase()).unwrap_or_else(|| {
            problems.push(format!("--id-token-alg '{asked}': choose RS256 or ES256"));
            Alg::Rs256
        }),
    };
    if !problems.is_empty() {
        return Err(ClientError::Invalid(problems));
    }
    Ok(NewClient {
        client_id: new_client_id(),
        name,
        kind,
        redirect_uris,
        post_logout_redirect_uris: request.post_logout_redirect_uris.clone(),
        backchannel_logout_uri: request.backchannel_logout_uri.clone(),
        first_party: request.first_party,
        require_second_factor: request.require_second_factor,
        require_pkce: !request.pkce_optional,
        id_token_alg,
        secret_digest: None,
    })
}

/// 128 random bits in lower-case hex: safe in a URL, a shell and a configuration file, and
/// never read as an option by a command line (base64url may start with '-').
fn new_client_id() -> String {
    let mut bytes = [0u8; 16];
    crate::secret::fill_random(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn event(action: AuditAction, client_id: &str, name: &str, ctx: &RequestContext) -> AuditEvent {
    AuditEvent::new(action, Outcome::Success, None, ctx)
        .with_details(serde_json::json!({ "client_id": client_id, "name": name }))
}
