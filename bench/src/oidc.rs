//! The OpenID Connect scenarios, on the same server: (h) discovery and the JWK Set, (i) a code
//! exchanged at the token endpoint, each right after the authorization request that issues it,
//! (j) refresh, each client refreshing its own family token after token (rotation), (k) userinfo,
//! (l) the code exchange again for a client whose ID tokens are RS256. First-party confidential
//! clients, registered with the CLI as an operator would, ES256 unless said; every client of the
//! load is a professional signed in on the portal. Every exchange and refresh signs an ID token:
//! RSA-2048 signing, not the database, bounds an RS256 client.

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::load::{Outcome, client, cookie, drive, forms, post_login, status_of};
use crate::server::{PASSWORD, Running, Seeded, identifier};

const REDIRECT_URI: &str = "http://127.0.0.1:9/cb";
/// RFC 7636's example pair: PKCE is required, its cost is the server's SHA-256.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// The registered service and, per load client, a portal session and its latest tokens.
pub struct Service {
    alg: &'static str,
    client_id: String,
    secret: String,
    sessions: Arc<Vec<String>>,
    /// (refresh token, access token) of each load client's family.
    tokens: Arc<Vec<Mutex<(String, String)>>>,
}

impl Service {
    /// Registers the client with `sesame client create`, signs `clients` professionals in and
    /// gives each a token family.
    pub async fn setup(
        binary: &Path,
        running: &Running,
        seeded: &Seeded,
        clients: usize,
        alg: &'static str,
    ) -> Result<Self, String> {
        let mut command = Command::new(binary);
        if let Some(url) = &seeded.database_url {
            command.env("SESAME_DATABASE_URL", url);
        }
        let created = command
            .args(["client", "create", "--name", "Banc d'essai", "--first-party", "--json"])
            .args(["--redirect-uri", REDIRECT_URI, "--id-token-alg", alg])
            .current_dir(seeded.dir.path())
            .env("SESAME_LOG", "warn")
            .output()
            .map_err(|e| e.to_string())?;
        let json: serde_json::Value = serde_json::from_slice(&created.stdout)
            .map_err(|_| format!("sesame client create: {}", String::from_utf8_lossy(&created.stderr)))?;
        let field = |k: &str| json[k].as_str().map(str::to_owned).ok_or_else(|| format!("no {k} in {json}"));
        let (client_id, secret) = (field("client_id")?, field("client_secret")?);

        let http = client();
        let form = forms(running, 1).await;
        let mut sessions = Vec::new();
        for c in 0..clients {
            let id = identifier(u32::try_from(c).unwrap_or(0) % seeded.accounts.max(1) + 1);
            let response = post_login(&http, &running.base, &form[0], &id, PASSWORD).await?;
            let cookie = cookie(&response, "sesame_session").ok_or("no session after the login")?;
            sessions.push(cookie);
        }
        let mut service = Self { alg, client_id, secret, sessions: Arc::new(sessions), tokens: Arc::new(Vec::new()) };
        let mut tokens = Vec::new();
        for c in 0..clients {
            let answer = service.code_flow(&http, &running.base, c).await?;
            tokens.push(Mutex::new(pair(&answer.1)?));
        }
        service.tokens = Arc::new(tokens);
        Ok(service)
    }

    /// The authorization request in client `c`'s session, then the code's exchange: the
    /// exchange's status and its JSON.
    async fn code_flow(&self, http: &reqwest::Client, base: &str, c: usize) -> Result<(u16, String), String> {
        exchange(http, base, &self.client_id, &self.secret, &self.sessions[c]).await
    }
}

async fn exchange(
    http: &reqwest::Client,
    base: &str,
    client_id: &str,
    secret: &str,
    session: &str,
) -> Result<(u16, String), String> {
    let query = [
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT_URI),
        ("scope", "openid profile email"),
        ("state", "banc"),
        ("nonce", "banc"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ];
    let authorized = http
        .get(format!("{base}/oidc/authorize"))
        .query(&query)
        .header("cookie", session)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let location = authorized.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let code = location.split("code=").nth(1).and_then(|r| r.split('&').next()).ok_or("no code")?;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT_URI),
        ("code_verifier", VERIFIER),
    ];
    let answer = http
        .post(format!("{base}/oidc/token"))
        .basic_auth(client_id, Some(secret))
        .form(&form)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = answer.status().as_u16();
    Ok((status, answer.text().await.map_err(|e| e.to_string())?))
}

/// (refresh token, access token) of a token response.
fn pair(json: &str) -> Result<(String, String), String> {
    let v: serde_json::Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
    let get = |k: &str| v[k].as_str().map(str::to_owned).ok_or_else(|| format!("no {k}"));
    Ok((get("refresh_token")?, get("access_token")?))
}

fn with_target(mut outcome: Outcome, target: &str) -> Outcome {
    outcome.notes.push(format!("target on this machine (issue 16): {target}"));
    outcome
}

pub async fn discovery(running: &Running, clients: usize, duration: Duration) -> Outcome {
    let (http, base) = (client(), running.base.clone());
    let outcome = drive(running, "(h) GET OpenID discovery and JWKS", clients, duration, &[200], move |_, n| {
        let path = if n % 2 == 0 { "/.well-known/openid-configuration" } else { "/oidc/jwks" };
        let (http, url) = (http.clone(), format!("{base}{path}"));
        async move { status_of(http.get(url)).await }
    })
    .await;
    with_target(outcome, "≥ 25,000/s")
}

pub async fn code_exchange(running: &Running, service: &Service, duration: Duration) -> Outcome {
    let (http, base) = (client(), running.base.clone());
    let (client_id, secret, sessions) =
        (service.client_id.clone(), service.secret.clone(), Arc::clone(&service.sessions));
    let name = if service.alg == "ES256" {
        "(i) OpenID code exchange, ES256 client"
    } else {
        "(l) OpenID code exchange, RS256 client"
    };
    let mut outcome = drive(running, name, sessions.len(), duration, &[200], move |c, _| {
        let (http, base, client_id, secret, sessions) =
            (http.clone(), base.clone(), client_id.clone(), secret.clone(), Arc::clone(&sessions));
        async move { exchange(&http, &base, &client_id, &secret, &sessions[c]).await.map(|(status, _)| status) }
    })
    .await;
    outcome.notes.push("each exchange also makes its GET /oidc/authorize: twice the requests counted".into());
    with_target(outcome, "≥ 3,000 exchanges/s")
}

pub async fn refresh(running: &Running, service: &Service, duration: Duration) -> Outcome {
    let (http, base) = (client(), running.base.clone());
    let (client_id, secret, tokens) = (service.client_id.clone(), service.secret.clone(), Arc::clone(&service.tokens));
    let clients = tokens.len();
    let name = format!("(j) OpenID refresh (rotation), {} client", service.alg);
    let outcome = drive(running, &name, clients, duration, &[200], move |c, _| {
        let (http, base, client_id, secret, tokens) =
            (http.clone(), base.clone(), client_id.clone(), secret.clone(), Arc::clone(&tokens));
        async move {
            let current = tokens[c].lock().map_err(|e| e.to_string())?.0.clone();
            let form = [("grant_type", "refresh_token"), ("refresh_token", current.as_str())];
            let answer = http
                .post(format!("{base}/oidc/token"))
                .basic_auth(&client_id, Some(&secret))
                .form(&form)
                .send()
                .await
                .map_err(|e| e.to_string())?;
            let status = answer.status().as_u16();
            if status == 200 {
                let next = pair(&answer.text().await.map_err(|e| e.to_string())?)?;
                *tokens[c].lock().map_err(|e| e.to_string())? = next;
            }
            Ok(status)
        }
    })
    .await;
    with_target(outcome, "≥ 5,000/s")
}

pub async fn userinfo(running: &Running, service: &Service, duration: Duration) -> Outcome {
    let (http, base) = (client(), running.base.clone());
    let tokens = Arc::clone(&service.tokens);
    let clients = tokens.len();
    let outcome = drive(running, "(k) GET OpenID userinfo", clients, duration, &[200], move |c, _| {
        let (http, url, tokens) = (http.clone(), format!("{base}/oidc/userinfo"), Arc::clone(&tokens));
        async move {
            let access = tokens[c].lock().map_err(|e| e.to_string())?.1.clone();
            status_of(http.get(url).bearer_auth(access)).await
        }
    })
    .await;
    with_target(outcome, "≥ 15,000/s")
}
