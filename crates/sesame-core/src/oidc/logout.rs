//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): a service sends the browser to
//! Sésame to sign out, and may name where to come back. The request is checked here; the web
//! layer signs out and redirects.
//!
//! A redirect goes only to a `post_logout_redirect_uri` registered exactly for the client, and
//! the client is known for sure only from an `id_token_hint` Sésame signed (or a `client_id` that
//! agrees with it). A forged or altered hint, a hint of another client, or an address not
//! registered: a French page, no redirect, nothing changed.

use serde_json::Value;

use crate::client::Client;
use crate::error::AuthError;
use crate::oidc::clients::{ClientError, Clients};
use crate::oidc::keys::SigningKeys;

/// A logout request found sound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutRequest {
    /// The service asking, if it said which.
    pub client_name: Option<String>,
    /// Where to send the browser afterwards, and the `state` to give back there.
    pub redirect: Option<String>,
    pub state: Option<String>,
    /// The `sid` of the ID token hint: the browser session the service knows of. A hint for
    /// the very session of the browser lets Sésame sign out without asking.
    pub hint_sid: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Logouts {
    clients: Clients,
    keys: SigningKeys,
    issuer: String,
}

impl Logouts {
    pub fn new(clients: Clients, keys: SigningKeys, public_url: &str) -> Self {
        Self { clients, keys, issuer: public_url.trim_end_matches('/').to_owned() }
    }

    /// The request checked: `Err` is the French reason to show (and not to redirect).
    pub async fn check(&self, params: &[(String, String)]) -> Result<Result<LogoutRequest, &'static str>, AuthError> {
        let one = |name: &str| params.iter().find(|(k, v)| k == name && !v.is_empty()).map(|(_, v)| v.as_str());
        let hint = match one("id_token_hint") {
            Some(token) => match self.keys.current().await?.verify(token) {
                Some(claims) if claims["iss"].as_str() == Some(self.issuer.as_str()) => Some(claims),
                _ => {
                    return Ok(Err(
                        "Le jeton d'identité transmis par le service n'a pas été émis par Sésame, ou a été modifié.",
                    ));
                }
            },
            None => None,
        };
        let hinted_client = hint.as_ref().and_then(audience);
        let client_id = match (hinted_client, one("client_id")) {
            (Some(a), Some(b)) if a != b => {
                return Ok(Err(
                    "Le jeton d'identité transmis a été émis pour un autre service que celui qui demande la déconnexion.",
                ));
            }
            (Some(a), _) => Some(a),
            (None, b) => b,
        };
        let client = match client_id {
            Some(id) => match self.clients.get(id).await {
                Ok(client) => Some(client),
                Err(ClientError::Auth(e)) => return Err(e),
                Err(_) => {
                    return Ok(Err("Le service qui demande la déconnexion n'est pas enregistré auprès de Sésame."));
                }
            },
            None => None,
        };
        let redirect = match one("post_logout_redirect_uri") {
            None => None,
            Some(uri) => match &client {
                Some(c) if registered(c, uri) => Some(uri.to_owned()),
                Some(_) => return Ok(Err("L'adresse de retour demandée n'est pas enregistrée pour ce service.")),
                None => {
                    return Ok(Err(
                        "L'adresse de retour ne peut être vérifiée : le service ne s'est pas fait connaître.",
                    ));
                }
            },
        };
        Ok(Ok(LogoutRequest {
            client_name: client.map(|c| c.name),
            redirect,
            state: one("state").map(str::to_owned),
            hint_sid: hint.as_ref().and_then(|c| c["sid"].as_str()).map(str::to_owned),
        }))
    }
}

/// The client an ID token was issued to: `aud` (a string, or a one-element array).
fn audience(claims: &Value) -> Option<&str> {
    match &claims["aud"] {
        Value::String(s) => Some(s),
        Value::Array(a) if a.len() == 1 => a[0].as_str(),
        _ => None,
    }
}

fn registered(client: &Client, uri: &str) -> bool {
    client.post_logout_redirect_uris.iter().any(|r| r == uri)
}
