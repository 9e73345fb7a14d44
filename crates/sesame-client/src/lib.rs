//! A typed client for Sésame's `/api/v1`: what a desktop application needs to sign a
//! professional in, including the first connection with a temporary password.
//!
//! ```no_run
//! # async fn demo() -> Result<(), sesame_client::Error> {
//! use sesame_client::{Client, SignIn};
//! let client = Client::new("https://portail.example.fr", "Therap-e autonome")?;
//! match client.sign_in("jdupont", "mot de passe").await? {
//!     SignIn::Tokens(tokens) => println!("{}", client.me(&tokens.access_token).await?.first_name),
//!     SignIn::PasswordChangeRequired { change_ticket, .. } => {
//!         client.set_first_password(&change_ticket, "une phrase bien à moi").await?;
//!     }
//!     SignIn::SecondFactorRequired { ticket, .. } => {
//!         // The code of the authenticator app, or a recovery code.
//!         let _next = client.second_factor(&ticket, "123456").await?;
//!     }
//! }
//! # Ok(()) }
//! ```

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Tokens as the server issues them.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: String,
    pub token_type: String,
    pub expires_in: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(Debug, Clone)]
pub enum SignIn {
    Tokens(Tokens),
    /// A temporary password: set the personal one with this ticket.
    PasswordChangeRequired {
        change_ticket: String,
        expires_in: i64,
        detail: String,
    },
    /// The password is right; the account has a second factor: send a code with this ticket
    /// to [`Client::second_factor`].
    SecondFactorRequired {
        ticket: String,
        expires_in: i64,
        detail: String,
    },
}

#[derive(Debug, Clone, Deserialize)]
pub struct Me {
    pub identifier: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub national_id: Option<String>,
    pub client: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PolicyRule {
    pub code: String,
    pub label: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RuleViolation {
    pub code: String,
    pub message: String,
}

/// An RFC 9457 problem from the server.
#[derive(Debug, Clone, Deserialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    /// A French sentence for the person.
    pub detail: String,
    #[serde(default)]
    pub change_ticket: Option<String>,
    #[serde(default)]
    pub second_factor_ticket: Option<String>,
    #[serde(default)]
    pub expires_in: Option<i64>,
    #[serde(default)]
    pub violations: Vec<RuleViolation>,
    /// From `Retry-After`, when throttled.
    #[serde(skip)]
    pub retry_after: Option<u64>,
}

impl Problem {
    /// The stable code: the last segment of the type (`invalid_credentials`, `throttled`…).
    pub fn code(&self) -> &str {
        self.kind.rsplit('/').next().unwrap_or(&self.kind)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}", .0.detail)]
    Problem(Box<Problem>),
    #[error("the server could not be reached: {0}")]
    Http(String),
    #[error("unexpected answer from the server: {0}")]
    Unexpected(String),
    #[error("invalid server address '{0}'")]
    InvalidUrl(String),
}

impl Error {
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            Self::Problem(p) => Some(p),
            _ => None,
        }
    }
}

/// A client of one Sésame server.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    name: String,
}

impl Client {
    /// `base_url`: the portal's public URL; `name`: the application, shown in "Mon compte".
    pub fn new(base_url: &str, name: &str) -> Result<Self, Error> {
        let base = base_url.trim_end_matches('/').to_owned();
        if !(base.starts_with("https://") || base.starts_with("http://")) || base.len() <= "https://".len() {
            return Err(Error::InvalidUrl(base_url.to_owned()));
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .user_agent(format!("{name} (sesame-client)"))
            .build()
            .map_err(|e| Error::Http(e.to_string()))?;
        Ok(Self { http, base, name: name.to_owned() })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn send<T: serde::de::DeserializeOwned>(&self, request: reqwest::RequestBuilder) -> Result<T, Error> {
        let response = request.send().await.map_err(|e| Error::Http(e.to_string()))?;
        if response.status().is_success() {
            return response.json::<T>().await.map_err(|e| Error::Unexpected(e.to_string()));
        }
        Err(problem_of(response).await)
    }

    /// `POST /api/v1/sessions`.
    pub async fn sign_in(&self, identifier: &str, password: &str) -> Result<SignIn, Error> {
        let body = serde_json::json!({ "identifier": identifier, "password": password, "client": self.name });
        match self.send::<Tokens>(self.http.post(self.url("/api/v1/sessions")).json(&body)).await {
            Ok(tokens) => Ok(SignIn::Tokens(tokens)),
            Err(Error::Problem(p)) if p.code() == "password_change_required" => Ok(SignIn::PasswordChangeRequired {
                change_ticket: p.change_ticket.clone().unwrap_or_default(),
                expires_in: p.expires_in.unwrap_or_default(),
                detail: p.detail.clone(),
            }),
            Err(e) => Self::second_factor_or(e),
        }
    }

    fn second_factor_or(e: Error) -> Result<SignIn, Error> {
        match e {
            Error::Problem(p) if p.code() == "second_factor_required" => Ok(SignIn::SecondFactorRequired {
                ticket: p.second_factor_ticket.clone().unwrap_or_default(),
                expires_in: p.expires_in.unwrap_or_default(),
                detail: p.detail.clone(),
            }),
            e => Err(e),
        }
    }

    /// `POST /api/v1/sessions/second-factor`: the ticket of [`SignIn::SecondFactorRequired`]
    /// and a code of the authenticator app (or a recovery code). A temporary password still
    /// gives [`SignIn::PasswordChangeRequired`] after it.
    pub async fn second_factor(&self, ticket: &str, code: &str) -> Result<SignIn, Error> {
        let body = serde_json::json!({ "second_factor_ticket": ticket, "code": code });
        match self.send::<Tokens>(self.http.post(self.url("/api/v1/sessions/second-factor")).json(&body)).await {
            Ok(tokens) => Ok(SignIn::Tokens(tokens)),
            Err(Error::Problem(p)) if p.code() == "password_change_required" => Ok(SignIn::PasswordChangeRequired {
                change_ticket: p.change_ticket.clone().unwrap_or_default(),
                expires_in: p.expires_in.unwrap_or_default(),
                detail: p.detail.clone(),
            }),
            Err(e) => Err(e),
        }
    }

    /// `POST /api/v1/password` with the change ticket of a first connection.
    pub async fn set_first_password(&self, change_ticket: &str, new_password: &str) -> Result<Tokens, Error> {
        let body =
            serde_json::json!({ "change_ticket": change_ticket, "new_password": new_password, "client": self.name });
        self.send(self.http.post(self.url("/api/v1/password")).json(&body)).await
    }

    /// `POST /api/v1/password` with an access token and the current password.
    pub async fn change_password(
        &self,
        access_token: &str,
        current: &str,
        new_password: &str,
    ) -> Result<Tokens, Error> {
        let body = serde_json::json!({ "current_password": current, "new_password": new_password });
        self.send(self.http.post(self.url("/api/v1/password")).bearer_auth(access_token).json(&body)).await
    }

    /// `POST /api/v1/tokens/refresh`.
    pub async fn refresh(&self, refresh_token: &str) -> Result<Tokens, Error> {
        let body = serde_json::json!({ "refresh_token": refresh_token });
        self.send(self.http.post(self.url("/api/v1/tokens/refresh")).json(&body)).await
    }

    /// `GET /api/v1/me`.
    pub async fn me(&self, access_token: &str) -> Result<Me, Error> {
        self.send(self.http.get(self.url("/api/v1/me")).bearer_auth(access_token)).await
    }

    /// `GET /api/v1/password-policy`.
    pub async fn password_policy(&self) -> Result<Vec<PolicyRule>, Error> {
        self.send(self.http.get(self.url("/api/v1/password-policy"))).await
    }

    /// `DELETE /api/v1/sessions/current`.
    pub async fn sign_out(&self, access_token: &str) -> Result<(), Error> {
        let response = self
            .http
            .delete(self.url("/api/v1/sessions/current"))
            .bearer_auth(access_token)
            .send()
            .await
            .map_err(|e| Error::Http(e.to_string()))?;
        if response.status().is_success() { Ok(()) } else { Err(problem_of(response).await) }
    }
}

async fn problem_of(response: reqwest::Response) -> Error {
    let status = response.status();
    let retry_after = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
    match response.json::<Problem>().await {
        Ok(mut p) => {
            p.retry_after = retry_after;
            Error::Problem(Box::new(p))
        }
        Err(_) => Error::Unexpected(format!("status {status}")),
    }
}
