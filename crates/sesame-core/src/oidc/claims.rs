//! What Sésame's tokens say about a person: the ID token's claims and the userinfo document,
//! each claim given only for the scope that asks for it. Pure.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};
use sha2::{Digest as _, Sha256};
use time::{Duration, OffsetDateTime};

use crate::model::{Account, AccountId};
use crate::oidc::request::{ACR_ONE_FACTOR, ACR_TWO_FACTORS};
use crate::session::{AuthMethod, SessionId};
use crate::store::TokenGrant;

/// The `sub` of an account: the same for every service and for ever (the account's number is
/// never given to another), without telling how many accounts there are.
pub fn subject(account: AccountId) -> String {
    opaque("sesame subject", account.0)
}

/// The `sid` of a browser session, as ID tokens and logout tokens carry it.
pub fn session_id(session: SessionId) -> String {
    opaque("sesame session", session.0)
}

fn opaque(label: &str, id: i64) -> String {
    let mut hash = Sha256::new();
    hash.update(label.as_bytes());
    hash.update(id.to_be_bytes());
    URL_SAFE_NO_PAD.encode(&hash.finalize()[..16])
}

/// `acr`: how strongly the person signed in.
pub fn acr(method: AuthMethod) -> &'static str {
    if method.is_multi_factor() { ACR_TWO_FACTORS } else { ACR_ONE_FACTOR }
}

/// `at_hash` (OpenID Connect Core 3.1.3.6): the left half of the access token's SHA-256, for
/// both ES256 and RS256.
pub fn at_hash(access_token: &str) -> String {
    URL_SAFE_NO_PAD.encode(&Sha256::digest(access_token.as_bytes())[..16])
}

/// An ID token to sign.
#[derive(Debug)]
pub struct IdToken<'a> {
    pub issuer: &'a str,
    pub account: &'a Account,
    pub grant: &'a TokenGrant,
    pub nonce: Option<&'a str>,
    /// Of the access token issued with it.
    pub at_hash: String,
    pub now: OffsetDateTime,
    pub lifetime: Duration,
}

impl IdToken<'_> {
    pub fn claims(&self) -> Value {
        let mut claims = person(self.account, &self.grant.scopes);
        let mut add = |name: &str, value: Value| {
            claims.insert(name.to_owned(), value);
        };
        add("iss", json!(self.issuer));
        add("aud", json!(self.grant.client_id));
        add("azp", json!(self.grant.client_id));
        add("iat", json!(self.now.unix_timestamp()));
        add("exp", json!((self.now + self.lifetime).unix_timestamp()));
        add("auth_time", json!(self.grant.auth_time.unix_timestamp()));
        add("acr", json!(acr(self.grant.auth_method)));
        add("amr", json!(self.grant.auth_method.amr()));
        add("sid", json!(session_id(self.grant.session_id)));
        add("at_hash", json!(self.at_hash));
        if let Some(nonce) = self.nonce {
            add("nonce", json!(nonce));
        }
        Value::Object(claims)
    }
}

/// The userinfo document (OpenID Connect Core 5.3): `sub`, and the claims of the scopes granted.
pub fn userinfo(account: &Account, scopes: &str) -> Value {
    Value::Object(person(account, scopes))
}

/// `sub` and the standard claims of `profile`, `email` and Sésame's `sante`.
fn person(account: &Account, scopes: &str) -> Map<String, Value> {
    let granted = |scope: &str| scopes.split(' ').any(|s| s == scope);
    let mut claims = Map::new();
    claims.insert("sub".to_owned(), json!(subject(account.id)));
    if granted("profile") {
        let (given, family) = (account.first_name.as_str(), account.last_name.as_str());
        claims.insert("name".to_owned(), json!(format!("{given} {family}")));
        claims.insert("given_name".to_owned(), json!(given));
        claims.insert("family_name".to_owned(), json!(family));
        claims.insert("preferred_username".to_owned(), json!(account.identifier.as_str()));
        claims.insert("updated_at".to_owned(), json!(account.updated_at.unix_timestamp()));
    }
    if granted("email") {
        claims.insert("email".to_owned(), json!(account.email.as_str()));
        // The identifier and the temporary password were sent there, and the account was
        // opened with them: the person reads this mailbox.
        claims.insert("email_verified".to_owned(), json!(true));
    }
    if granted("sante") {
        let id = account.national_id.as_ref().map(crate::types::NationalId::id_nat_ps);
        claims.insert("idnat_ps".to_owned(), json!(id));
    }
    claims
}
