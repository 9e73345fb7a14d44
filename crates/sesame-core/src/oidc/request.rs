//! An authorization request (OpenID Connect Core 3.1.2.1, RFC 6749 4.1.1, RFC 7636) checked
//! before anything is shown: the pure rules, from the request's parameters and the client they
//! name.
//!
//! Two kinds of refusal, as RFC 6749 4.1.2.1 orders: while the client or its redirect URI is not
//! established, nothing may be sent to that URI (a French page says what is wrong); once it is,
//! every other problem goes back to the service as `error` (with `state` and `iss`).

use crate::client::Client;

/// What a service may ask for. Unknown scopes are ignored (RFC 6749 3.3 lets the provider grant
/// less than asked); the ID token and userinfo then say only what was granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    OpenId,
    /// Names and `preferred_username` (the identifier).
    Profile,
    /// The e-mail address.
    Email,
    /// The national health identifier (`idnat_ps`: RPPS or ADELI), for services that need it.
    Sante,
    /// A refresh token that outlives the browser session.
    OfflineAccess,
}

impl Scope {
    pub const ALL: [Self; 5] = [Self::OpenId, Self::Profile, Self::Email, Self::Sante, Self::OfflineAccess];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::OpenId => "openid",
            Self::Profile => "profile",
            Self::Email => "email",
            Self::Sante => "sante",
            Self::OfflineAccess => "offline_access",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// The authentication context classes Sésame tells apart (`acr`).
pub const ACR_ONE_FACTOR: &str = "urn:sesame:acr:1fa";
/// Two factors: password and a second factor, or the card and its PIN.
pub const ACR_TWO_FACTORS: &str = "urn:sesame:acr:2fa";

/// Longest `state` and `nonce` accepted (they come back verbatim in a URL and a token).
const MAX_ECHOED: usize = 1024;

/// A request whose every parameter was checked.
#[derive(Debug, Clone)]
pub struct AuthorizationRequest {
    pub client: Client,
    /// The redirect URI as the service sent it (it matched one registered).
    pub redirect_uri: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    /// Granted scopes, sorted, `openid` first.
    pub scopes: Vec<Scope>,
    /// The PKCE S256 challenge.
    pub code_challenge: Option<String>,
    pub prompt_none: bool,
    pub prompt_login: bool,
    pub prompt_consent: bool,
    /// Seconds: a sign-in older than this must be made again.
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
    /// Two factors are needed: the client requires them, or `acr_values` asks for them.
    pub two_factors: bool,
}

/// Why a request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestError {
    /// Nothing may go to the redirect URI: shown to the person, in French.
    Page(&'static str),
    /// Sent back to the service (RFC 6749 4.1.2.1).
    Redirect(Redirect),
}

/// An error response for the service, to the redirect URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    pub redirect_uri: String,
    pub state: Option<String>,
    pub error: &'static str,
    pub description: String,
}

pub const NO_CLIENT: &str = "Le service qui vous a envoyé ici ne s'est pas identifié (client_id manquant).";
pub const UNKNOWN_CLIENT: &str = "Le service qui vous a envoyé ici n'est pas enregistré auprès de Sésame.";
pub const NO_REDIRECT_URI: &str =
    "Le service qui vous a envoyé ici n'a pas indiqué son adresse de retour (redirect_uri).";
pub const BAD_REDIRECT_URI: &str = "L'adresse de retour demandée par le service n'est pas celle qu'il a enregistrée : par sécurité, vous n'y êtes pas renvoyé.";

/// The request's parameters, each name with every value it was given (a repeated parameter is an
/// error, RFC 6749 3.1).
pub type Params = [(String, String)];

/// A parameter given more than once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repeated;

/// The one value of `name`: `Err` if it is repeated.
pub fn single<'a>(params: &'a Params, name: &str) -> Result<Option<&'a str>, Repeated> {
    let mut values = params.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let first = values.next();
    if values.next().is_some() { Err(Repeated) } else { Ok(first.filter(|v| !v.is_empty())) }
}

/// The `client_id` asked for, to look the client up: `Err` with the page to show when there is
/// none, or more than one.
pub fn client_id(params: &Params) -> Result<&str, RequestError> {
    single(params, "client_id").ok().flatten().ok_or(RequestError::Page(NO_CLIENT))
}

/// Checks the request against the client `client_id` named (`None`: not registered).
pub fn check(params: &Params, client: Option<Client>) -> Result<AuthorizationRequest, RequestError> {
    let client = client.ok_or(RequestError::Page(UNKNOWN_CLIENT))?;
    let redirect_uri = match single(params, "redirect_uri") {
        Ok(Some(uri)) => uri,
        Ok(None) => return Err(RequestError::Page(NO_REDIRECT_URI)),
        Err(Repeated) => return Err(RequestError::Page(BAD_REDIRECT_URI)),
    };
    if client.redirect_uri(redirect_uri).is_none() {
        return Err(RequestError::Page(BAD_REDIRECT_URI));
    }
    // From here on, errors go back to the service. A repeated state is not echoed.
    let state = single(params, "state").ok().flatten().map(str::to_owned);
    let back = |error: &'static str, description: &str| {
        RequestError::Redirect(Redirect {
            redirect_uri: redirect_uri.to_owned(),
            state: state.clone(),
            error,
            description: description.to_owned(),
        })
    };
    let mut seen = std::collections::HashSet::new();
    if let Some((name, _)) = params.iter().find(|(k, _)| !seen.insert(k.as_str())) {
        return Err(back("invalid_request", &format!("the parameter '{name}' is repeated")));
    }
    let get = |name: &str| single(params, name).ok().flatten();
    if get("request").is_some() {
        return Err(back("request_not_supported", "request objects are not supported"));
    }
    if get("request_uri").is_some() {
        return Err(back("request_uri_not_supported", "request_uri is not supported"));
    }
    match get("response_type") {
        None => return Err(back("invalid_request", "response_type is required")),
        Some("code") => {}
        Some(_) => {
            return Err(back(
                "unsupported_response_type",
                "only the authorization code flow (response_type=code) is offered",
            ));
        }
    }
    if get("response_mode").is_some_and(|m| m != "query") {
        return Err(back("invalid_request", "only response_mode=query is offered"));
    }
    let scopes = scopes(get("scope")).ok_or_else(|| back("invalid_scope", "the scope must include openid"))?;
    let code_challenge =
        pkce(get("code_challenge"), get("code_challenge_method"), &client).map_err(|d| back("invalid_request", d))?;
    let (prompt_none, prompt_login, prompt_consent) = prompt(get("prompt")).map_err(|d| back("invalid_request", d))?;
    let max_age = match get("max_age") {
        None => None,
        Some(v) => Some(
            v.parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| back("invalid_request", "max_age must be a number of seconds"))?,
        ),
    };
    let nonce = get("nonce").map(str::to_owned);
    if state.as_ref().is_some_and(|s| s.len() > MAX_ECHOED) || nonce.as_ref().is_some_and(|n| n.len() > MAX_ECHOED) {
        return Err(back("invalid_request", "state and nonce are limited to 1024 characters"));
    }
    let asks_two = get("acr_values").is_some_and(|v| v.split(' ').any(|acr| acr == ACR_TWO_FACTORS));
    Ok(AuthorizationRequest {
        two_factors: client.require_second_factor || asks_two,
        redirect_uri: redirect_uri.to_owned(),
        state,
        nonce,
        scopes,
        code_challenge,
        prompt_none,
        prompt_login,
        prompt_consent,
        max_age,
        login_hint: get("login_hint").map(str::to_owned),
        client,
    })
}

/// The scopes granted, `openid` required; unknown ones dropped.
fn scopes(asked: Option<&str>) -> Option<Vec<Scope>> {
    let mut scopes: Vec<Scope> = asked?.split(' ').filter_map(Scope::parse).collect();
    scopes.sort();
    scopes.dedup();
    scopes.first().is_some_and(|s| *s == Scope::OpenId).then_some(scopes)
}

/// RFC 7636, S256 only: `plain` would give the verifier away to whoever sees the request.
fn pkce(challenge: Option<&str>, method: Option<&str>, client: &Client) -> Result<Option<String>, &'static str> {
    match (challenge, method) {
        (None, None) if client.needs_pkce() => {
            Err("PKCE is required: send code_challenge with code_challenge_method=S256")
        }
        (None, None) => Ok(None),
        (None, Some(_)) => Err("code_challenge_method without code_challenge"),
        (Some(_), None | Some("plain")) => Err("only code_challenge_method=S256 is accepted"),
        (Some(_), Some(m)) if m != "S256" => Err("only code_challenge_method=S256 is accepted"),
        (Some(c), Some(_)) => {
            // BASE64URL(SHA-256(verifier)): 43 characters of the URL-safe alphabet.
            let valid = c.len() == 43 && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if valid {
                Ok(Some(c.to_owned()))
            } else {
                Err("code_challenge must be the base64url SHA-256 of the verifier (43 characters)")
            }
        }
    }
}

/// `prompt`: none, login, consent (select_account is accepted and means nothing here: one
/// account per browser). `none` with anything else is an error.
fn prompt(value: Option<&str>) -> Result<(bool, bool, bool), &'static str> {
    let values: Vec<&str> = value.unwrap_or_default().split(' ').filter(|v| !v.is_empty()).collect();
    let none = values.contains(&"none");
    if none && values.len() > 1 {
        return Err("prompt=none cannot be combined with other values");
    }
    if values.iter().any(|v| !matches!(*v, "none" | "login" | "consent" | "select_account")) {
        return Err("prompt accepts none, login, consent and select_account");
    }
    Ok((none, values.contains(&"login"), values.contains(&"consent")))
}
