//! What every handler reads from a request: cookies, the client's address, CSRF proof.

use axum::extract::{ConnectInfo, FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sesame_core::audit::{Actor, RequestContext};
use sha2::{Digest, Sha256};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use crate::settings::WebSettings;

pub const SESSION_COOKIE: &str = "sesame_session";
pub const CSRF_COOKIE: &str = "sesame_csrf";

/// Reads and writes the portal's cookies: `__Host-` prefixed and `Secure` over HTTPS (no
/// subdomain can set them), `HttpOnly` and `SameSite=Lax` always.
#[derive(Debug, Clone, Copy)]
pub struct CookieJar {
    https: bool,
}

impl CookieJar {
    pub fn new(https: bool) -> Self {
        Self { https }
    }

    /// The cookie's name as sent.
    pub fn name(&self, base: &str) -> String {
        if self.https { format!("__Host-{base}") } else { base.to_owned() }
    }

    /// The value of one of our cookies, if the request carries it.
    pub fn get<'a>(&self, headers: &'a HeaderMap, base: &str) -> Option<&'a str> {
        cookie(headers, &self.name(base))
    }

    /// `Set-Cookie` for a value the browser keeps until it closes (`None`: delete it).
    pub fn set(&self, base: &str, value: Option<&str>) -> HeaderValue {
        self.scoped(base, value, "/", None)
    }

    /// `Set-Cookie` with a path (`/` whenever the `__Host-` prefix is used, which requires it)
    /// and an optional lifetime in seconds.
    pub fn scoped(&self, base: &str, value: Option<&str>, path: &str, max_age: Option<u32>) -> HeaderValue {
        let name = self.name(base);
        let secure = if self.https { "; Secure" } else { "" };
        let path = if self.https { "/" } else { path };
        let text = match (value, max_age) {
            (Some(v), Some(age)) => format!("{name}={v}; Path={path}; HttpOnly; SameSite=Lax; Max-Age={age}{secure}"),
            (Some(v), None) => format!("{name}={v}; Path={path}; HttpOnly; SameSite=Lax{secure}"),
            (None, _) => format!("{name}=; Path={path}; HttpOnly; SameSite=Lax; Max-Age=0{secure}"),
        };
        HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("invalid=; Max-Age=0"))
    }
}

/// The value of a cookie, if the request carries it.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Where the request comes from, for the audit trail and per-address limits.
#[derive(Debug, Clone)]
pub struct Client {
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
}

impl Client {
    pub fn context(&self, actor: Actor) -> RequestContext {
        RequestContext {
            actor,
            ip: self.ip.map(|ip| ip.to_string()),
            user_agent: self.user_agent.clone(),
            request_id: self.request_id.clone(),
        }
    }

    pub fn ip_text(&self) -> String {
        self.ip.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Client
where
    Arc<WebSettings>: FromRef<S>,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let settings = Arc::<WebSettings>::from_ref(state);
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
        let ip = peer.map(|peer| client_ip(peer, &parts.headers, &settings));
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().filter(|c| !c.is_control()).take(200).collect());
        // Set by the request-id layer before any handler runs.
        // A proxy may have set it: keep it only if it looks like an identifier.
        let request_id = parts
            .headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .filter(|id| id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b)))
            .map(str::to_owned);
        Ok(Self { ip, user_agent, request_id })
    }
}

/// The peer, or, when the peer is a trusted proxy, the right-most address of
/// `X-Forwarded-For` that is not itself a trusted proxy.
fn client_ip(peer: IpAddr, headers: &HeaderMap, settings: &WebSettings) -> IpAddr {
    let trusted = |ip: &IpAddr| settings.trusted_proxies.iter().any(|net| net.contains(*ip));
    if !trusted(&peer) {
        return peer;
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    forwarded.into_iter().rev().find(|ip| !trusted(ip)).unwrap_or(peer)
}

/// The token a form must carry: derived from the browser's CSRF cookie, which a cross-site
/// page can neither read nor set (`SameSite`, `HttpOnly`, `__Host-` over HTTPS).
pub fn csrf_token(cookie_value: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(format!("sesame-csrf:{cookie_value}").as_bytes()))
}

/// Checks a state-changing request: the form token matches the cookie, and the browser says
/// the request comes from our own pages (`Sec-Fetch-Site`, `Origin`).
pub fn csrf_ok(headers: &HeaderMap, settings: &WebSettings, form_token: &str) -> bool {
    let jar = CookieJar::new(settings.https());
    let same_site = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_none_or(|site| matches!(site, "same-origin" | "none"));
    // Browsers send `Origin: null` for same-origin posts from pages with
    // `Referrer-Policy: no-referrer` (ours): that says nothing either way, the token decides.
    let same_origin = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|origin| origin == "null" || origin == settings.origin());
    let token_ok = jar.get(headers, CSRF_COOKIE).is_some_and(|c| {
        let expected = csrf_token(c);
        expected.len() == form_token.len()
            && expected.bytes().zip(form_token.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    });
    same_site && same_origin && token_ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::IpNet;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).expect("header"));
        }
        h
    }

    #[test]
    fn forwarded_addresses_are_believed_only_from_trusted_proxies() {
        let settings =
            WebSettings { trusted_proxies: vec![IpNet::parse("10.0.0.0/8").expect("net")], ..WebSettings::default() };
        let h = headers(&[("x-forwarded-for", "198.51.100.9, 203.0.113.5, 10.0.0.2")]);
        assert_eq!(
            client_ip("10.0.0.1".parse().expect("ip"), &h, &settings),
            "203.0.113.5".parse::<IpAddr>().expect("ip")
        );
        assert_eq!(
            client_ip("192.0.2.1".parse().expect("ip"), &h, &settings),
            "192.0.2.1".parse::<IpAddr>().expect("ip")
        );
    }

    #[test]
    fn origin_null_says_nothing_and_the_token_decides() {
        let settings = WebSettings { public_url: "http://localhost:8080".into(), ..WebSettings::default() };
        let token = csrf_token("abc");
        assert!(csrf_ok(&headers(&[("cookie", "sesame_csrf=abc"), ("origin", "null")]), &settings, &token));
        assert!(!csrf_ok(&headers(&[("cookie", "sesame_csrf=xyz"), ("origin", "null")]), &settings, &token));
    }

    #[test]
    fn csrf_needs_the_matching_cookie_and_a_same_origin_request() {
        let settings = WebSettings { public_url: "http://localhost:8080".into(), ..WebSettings::default() };
        let token = csrf_token("abc");
        assert!(csrf_ok(&headers(&[("cookie", "sesame_csrf=abc")]), &settings, &token));
        assert!(!csrf_ok(&headers(&[("cookie", "sesame_csrf=xyz")]), &settings, &token));
        assert!(!csrf_ok(&headers(&[]), &settings, &token));
        assert!(!csrf_ok(
            &headers(&[("cookie", "sesame_csrf=abc"), ("origin", "https://evil.example")]),
            &settings,
            &token
        ));
        assert!(!csrf_ok(
            &headers(&[("cookie", "sesame_csrf=abc"), ("sec-fetch-site", "cross-site")]),
            &settings,
            &token
        ));
        assert!(csrf_ok(
            &headers(&[("cookie", "sesame_csrf=abc"), ("origin", "http://localhost:8080")]),
            &settings,
            &token
        ));
    }
}
