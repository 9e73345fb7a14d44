//! The authorization request a sign-in was started for: kept in a cookie while the person signs
//! in (password, second step, first connection, card), so that "Mes services e-santé", where
//! every sign-in ends, sends them back to the service instead.
//!
//! The cookie holds when Sésame sent the person to sign in (in milliseconds) and the request's parameters. The way
//! back is always `/oidc/authorize?…` on this portal, re-checked there from scratch: a forged
//! cookie can send nobody elsewhere nor skip a check.

use axum::http::{HeaderMap, HeaderValue};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use time::OffsetDateTime;

use crate::request::CookieJar;

pub const COOKIE: &str = "sesame_oidc";
pub const AUTHORIZE_PATH: &str = "/oidc/authorize";
/// Time enough for a first connection.
const LIFETIME_SECS: u32 = 30 * 60;

/// A sign-in started for a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub asked_at: OffsetDateTime,
    /// The authorization request's parameters, URL-encoded.
    pub query: String,
}

impl Pending {
    /// Where to go once signed in.
    pub fn path(&self) -> String {
        format!("{AUTHORIZE_PATH}?{}", self.query)
    }
}

pub fn read(headers: &HeaderMap, jar: CookieJar) -> Option<Pending> {
    let value = jar.get(headers, COOKIE)?;
    let (at, query) = value.split_once('.')?;
    let asked_at = OffsetDateTime::from_unix_timestamp_nanos(at.parse::<i128>().ok()? * 1_000_000).ok()?;
    let query = String::from_utf8(URL_SAFE_NO_PAD.decode(query).ok()?).ok()?;
    Some(Pending { asked_at, query })
}

pub fn set(jar: CookieJar, pending: &Pending) -> HeaderValue {
    let millis = pending.asked_at.unix_timestamp_nanos() / 1_000_000;
    let value = format!("{millis}.{}", URL_SAFE_NO_PAD.encode(&pending.query));
    jar.scoped(COOKIE, Some(&value), "/", Some(LIFETIME_SECS))
}

pub fn clear(jar: CookieJar) -> HeaderValue {
    jar.set(COOKIE, None)
}
