//! An OpenID Connect client (a registered relying party) and the rules of its addresses.
//!
//! Redirect URIs are compared as strings, exactly (OpenID Connect Core 3.1.2.1, RFC 9700 4.1.3):
//! so that the string registered is the one browsers and libraries send, it must already be in
//! the normal form a URL parser gives it (lower-case scheme and host, a path). The one exception
//! is RFC 8252 7.3: a native application listening on a loopback IP address gets any port.

use time::OffsetDateTime;

use crate::signing::Alg;
use url::{Host, Url};

/// How a client proves itself at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientKind {
    /// A server that keeps a secret (`client_secret_basic` or `client_secret_post`).
    Confidential,
    /// A desktop or browser application that cannot keep one (`none`, PKCE required).
    Public,
}

impl ClientKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Confidential => "confidential",
            Self::Public => "public",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "confidential" => Some(Self::Confidential),
            "public" => Some(Self::Public),
            _ => None,
        }
    }
}

/// A redirect URI as registered: absolute, https (or http on a loopback address), no fragment,
/// no user information, in normal form; for a public client also a private-use scheme (RFC 8252
/// 7.1: a reverse domain name such as `fr.example.app:/callback`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectUri(String);

impl RedirectUri {
    pub fn parse(uri: &str, kind: ClientKind) -> Result<Self, String> {
        let url = Url::parse(uri).map_err(|e| format!("'{uri}' is not an absolute URI ({e})"))?;
        if url.fragment().is_some() {
            return Err(format!("'{uri}' must not have a fragment (#…)"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(format!("'{uri}' must not carry a user name or password"));
        }
        match url.scheme() {
            "https" => {}
            "http" if is_loopback(&url) => {}
            "http" => return Err(format!("'{uri}' must use https (http only on 127.0.0.1, [::1] or localhost)")),
            scheme if kind == ClientKind::Public && scheme.contains('.') => {}
            _ => {
                return Err(format!(
                    "'{uri}' must use https{}",
                    if kind == ClientKind::Public {
                        ", or a reverse-domain scheme such as fr.example.app:"
                    } else {
                        ""
                    }
                ));
            }
        }
        if url.as_str() != uri {
            return Err(format!("'{uri}' is not in normal form: register it as '{}'", url.as_str()));
        }
        Ok(Self(uri.to_owned()))
    }

    /// A URI registered earlier, as the store gives it back: not checked again, so that a rule
    /// made stricter later cannot make a client unreadable (or undeletable).
    pub fn stored(uri: String) -> Self {
        Self(uri)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether a request's `redirect_uri` is this one: the same string, or, for a public
    /// client registered on a loopback IP address, the same but for the port.
    pub fn matches(&self, requested: &str, kind: ClientKind) -> bool {
        if requested == self.0 {
            return true;
        }
        if kind != ClientKind::Public {
            return false;
        }
        let (Ok(registered), Ok(mut asked)) = (Url::parse(&self.0), Url::parse(requested)) else {
            return false;
        };
        let loopback_ip = matches!(registered.host(), Some(Host::Ipv4(ip)) if ip.is_loopback())
            || matches!(registered.host(), Some(Host::Ipv6(ip)) if ip.is_loopback());
        if registered.scheme() != "http" || !loopback_ip || asked.as_str() != requested {
            return false;
        }
        if asked.set_port(registered.port()).is_err() {
            return false;
        }
        asked == registered
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        Some(Host::Domain(d)) => d == "localhost",
        None => false,
    }
}

/// Checks a post-logout redirect URI or a back-channel logout URI: https, or http on a
/// loopback address; no fragment; normal form.
pub fn check_web_uri(uri: &str) -> Result<(), String> {
    RedirectUri::parse(uri, ClientKind::Confidential).map(|_| ())
}

/// A client to register, checked.
#[derive(Debug, Clone)]
pub struct NewClient {
    pub client_id: String,
    pub name: String,
    pub kind: ClientKind,
    pub redirect_uris: Vec<RedirectUri>,
    pub post_logout_redirect_uris: Vec<String>,
    pub backchannel_logout_uri: Option<String>,
    pub first_party: bool,
    pub require_second_factor: bool,
    pub require_pkce: bool,
    /// How its ID tokens are signed (`id_token_signed_response_alg`, RS256 unless asked).
    pub id_token_alg: Alg,
    /// SHA-256 of the secret; `None` for a public client.
    pub secret_digest: Option<Vec<u8>>,
}

/// A registered client, as the store gives it back.
#[derive(Debug, Clone)]
pub struct Client {
    pub client_id: String,
    pub name: String,
    pub kind: ClientKind,
    pub redirect_uris: Vec<RedirectUri>,
    pub post_logout_redirect_uris: Vec<String>,
    pub backchannel_logout_uri: Option<String>,
    /// Part of the portal's own services: no consent page.
    pub first_party: bool,
    /// Every sign-in for it has two factors (a step-up when the session has a password only).
    pub require_second_factor: bool,
    /// PKCE (S256) even though it is confidential; always for a public client.
    pub require_pkce: bool,
    /// How its ID tokens are signed (`id_token_signed_response_alg`).
    pub id_token_alg: Alg,
    pub secret_digest: Option<Vec<u8>>,
    pub created_at: OffsetDateTime,
    pub secret_rotated_at: Option<OffsetDateTime>,
}

impl NewClient {
    /// The client as it stands once written at `now`.
    pub fn registered(self, now: OffsetDateTime) -> Client {
        Client {
            client_id: self.client_id,
            name: self.name,
            kind: self.kind,
            redirect_uris: self.redirect_uris,
            post_logout_redirect_uris: self.post_logout_redirect_uris,
            backchannel_logout_uri: self.backchannel_logout_uri,
            first_party: self.first_party,
            require_second_factor: self.require_second_factor,
            require_pkce: self.require_pkce,
            id_token_alg: self.id_token_alg,
            secret_digest: self.secret_digest,
            created_at: now,
            secret_rotated_at: None,
        }
    }
}

impl Client {
    /// The registered redirect URI a request's `redirect_uri` is, if any.
    pub fn redirect_uri(&self, requested: &str) -> Option<&RedirectUri> {
        self.redirect_uris.iter().find(|r| r.matches(requested, self.kind))
    }

    pub fn needs_pkce(&self) -> bool {
        self.require_pkce || self.kind == ClientKind::Public
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;
    use ClientKind::{Confidential, Public};

    #[test]
    fn a_redirect_uri_is_https_absolute_without_fragment_in_normal_form() {
        assert!(RedirectUri::parse("https://rdv.normand-esante.fr/oidc/callback", Confidential).is_ok());
        assert!(RedirectUri::parse("https://rdv.example/cb?tenant=caen", Confidential).is_ok());
        for bad in [
            "/oidc/callback",
            "https://rdv.example/cb#top",
            "https://user:pass@rdv.example/cb",
            "http://rdv.example/cb",
            "ftp://rdv.example/cb",
            "https://RDV.example/cb",
            "https://rdv.example",
            "fr.example.app:/callback",
        ] {
            assert!(RedirectUri::parse(bad, Confidential).is_err(), "{bad}");
        }
        let error = RedirectUri::parse("https://rdv.example", Confidential).unwrap_err();
        assert!(error.contains("register it as 'https://rdv.example/'"), "{error}");
    }

    #[test]
    fn http_only_on_loopback_and_private_schemes_only_for_public_clients() {
        for ok in ["http://127.0.0.1/cb", "http://[::1]:8400/cb", "http://localhost:3000/cb"] {
            assert!(RedirectUri::parse(ok, Confidential).is_ok(), "{ok}");
        }
        assert!(RedirectUri::parse("fr.normand-esante.therape:/callback", Public).is_ok());
        assert!(RedirectUri::parse("therape:/callback", Public).is_err(), "a scheme without a domain");
    }

    #[test]
    fn matching_is_exact_but_for_the_port_of_a_public_loopback_ip() {
        let registered = RedirectUri::parse("https://rdv.example/cb", Confidential).unwrap();
        assert!(registered.matches("https://rdv.example/cb", Confidential));
        for near in [
            "https://rdv.example/cb/",
            "https://rdv.example/CB",
            "https://rdv.example/cb?x=1",
            "https://rdv.example/c",
            "https://rdv.example/cbx",
            "https://rdv.example:443/cb",
            "https://RDV.example/cb",
        ] {
            assert!(!registered.matches(near, Confidential), "{near}");
            assert!(!registered.matches(near, Public), "{near}");
        }
        let loopback = RedirectUri::parse("http://127.0.0.1/cb", Public).unwrap();
        assert!(loopback.matches("http://127.0.0.1:53122/cb", Public));
        assert!(!loopback.matches("http://127.0.0.1:53122/cb", Confidential), "only public clients");
        assert!(!loopback.matches("http://127.0.0.1:53122/other", Public));
        assert!(!loopback.matches("http://127.0.0.1:53122/cb?x=1", Public));
        assert!(!loopback.matches("http://localhost:53122/cb", Public));
        let named = RedirectUri::parse("http://localhost/cb", Public).unwrap();
        assert!(!named.matches("http://localhost:53122/cb", Public), "RFC 8252 8.3: IP literals, not localhost");
        let v6 = RedirectUri::parse("http://[::1]/cb", Public).unwrap();
        assert!(v6.matches("http://[::1]:9000/cb", Public));
    }
}
