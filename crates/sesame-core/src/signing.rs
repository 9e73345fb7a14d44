//! Signatures of the tokens Sésame issues (OpenID Connect ID tokens, logout tokens): ES256 and
//! RS256 keys, the JWS compact form, and the public keys as a JWK Set.
//!
//! ring signs with both. The rsa crate only generates RSA keys: its private-key operations have
//! a timing side channel (RUSTSEC-2023-0071), and generation is not one of them. A key's `kid`
//! is its RFC 7638 thumbprint, so the same key always has the same name on every node.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair as _, RsaKeyPair};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

/// The algorithms offered. RS256 because OpenID Connect Discovery requires it; ES256 because
/// it is shorter and faster. `none` is not one of them, ever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    Es256,
    Rs256,
}

impl Alg {
    pub const ALL: [Self; 2] = [Self::Es256, Self::Rs256];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Es256 => "ES256",
            Self::Rs256 => "RS256",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    #[error("cannot generate a {0} key: {1}")]
    Generate(&'static str, String),
    #[error("the stored {0} key is not a valid PKCS#8 key: {1}")]
    Rejected(&'static str, String),
    #[error("signing failed")]
    Sign,
}

/// A new private key, PKCS#8 DER: to be sealed at rest, never shown.
pub fn generate(alg: Alg) -> Result<Vec<u8>, SigningError> {
    match alg {
        Alg::Es256 => {
            let rng = SystemRandom::new();
            EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                .map(|doc| doc.as_ref().to_vec())
                .map_err(|e| SigningError::Generate("ES256", e.to_string()))
        }
        Alg::Rs256 => {
            use rsa::pkcs8::EncodePrivateKey as _;
            // The generator wants an infallible source: check first that the system has one, so
            // that a failure is an error here rather than a panic inside the crate.
            getrandom::fill(&mut [0u8; 32]).map_err(|e| SigningError::Generate("RS256", e.to_string()))?;
            let mut rng = rand_core::UnwrapErr(OsRandom);
            let key =
                rsa::RsaPrivateKey::new(&mut rng, 2048).map_err(|e| SigningError::Generate("RS256", e.to_string()))?;
            key.to_pkcs8_der()
                .map(|doc| doc.as_bytes().to_vec())
                .map_err(|e| SigningError::Generate("RS256", e.to_string()))
        }
    }
}

/// The operating system's random numbers, as the rsa crate's generator wants them.
struct OsRandom;

#[derive(Debug, thiserror::Error)]
#[error("the operating system gave no random numbers")]
struct NoRandom;

impl rand_core::TryRng for OsRandom {
    type Error = NoRandom;

    fn try_next_u32(&mut self) -> Result<u32, NoRandom> {
        getrandom::u32().map_err(|_| NoRandom)
    }

    fn try_next_u64(&mut self) -> Result<u64, NoRandom> {
        getrandom::u64().map_err(|_| NoRandom)
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), NoRandom> {
        getrandom::fill(dst).map_err(|_| NoRandom)
    }
}

impl rand_core::TryCryptoRng for OsRandom {}

enum Pair {
    Ec(EcdsaKeyPair),
    Rsa(RsaKeyPair),
}

/// A private key ready to sign, with its public half as a JWK.
pub struct Signer {
    alg: Alg,
    pair: Pair,
    jwk: Value,
    kid: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer").field("alg", &self.alg).field("kid", &self.kid).finish_non_exhaustive()
    }
}

impl Signer {
    pub fn from_pkcs8(alg: Alg, pkcs8: &[u8]) -> Result<Self, SigningError> {
        let rejected = |e: ring::error::KeyRejected| SigningError::Rejected(alg.as_str(), e.to_string());
        let (pair, public) = match alg {
            Alg::Es256 => {
                let rng = SystemRandom::new();
                let pair = EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8, &rng)
                    .map_err(rejected)?;
                // Uncompressed point: 0x04, then x and y (32 bytes each).
                let point = pair.public_key().as_ref();
                let public = json!({
                    "crv": "P-256", "kty": "EC",
                    "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
                });
                (Pair::Ec(pair), public)
            }
            Alg::Rs256 => {
                let pair = RsaKeyPair::from_pkcs8(pkcs8).map_err(rejected)?;
                let components = signature::RsaPublicKeyComponents::<Vec<u8>>::from(pair.public());
                let public = json!({
                    "e": URL_SAFE_NO_PAD.encode(strip_zeros(&components.e)), "kty": "RSA",
                    "n": URL_SAFE_NO_PAD.encode(strip_zeros(&components.n)),
                });
                (Pair::Rsa(pair), public)
            }
        };
        let kid = thumbprint(&public);
        let mut jwk = public;
        if let Value::Object(map) = &mut jwk {
            map.insert("kid".into(), json!(kid));
            map.insert("alg".into(), json!(alg.as_str()));
            map.insert("use".into(), json!("sig"));
        }
        Ok(Self { alg, pair, jwk, kid })
    }

    pub fn alg(&self) -> Alg {
        self.alg
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK (`kty`, its parameters, `kid`, `alg`, `use`).
    pub fn jwk(&self) -> &Value {
        &self.jwk
    }

    /// `claims` as a JWS in compact form, with `alg`, `kid` and `typ` (e.g. `JWT`, or
    /// `logout+jwt` for a logout token) in its header.
    pub fn sign(&self, typ: &str, claims: &Value) -> Result<String, SigningError> {
        let header = json!({ "alg": self.alg.as_str(), "kid": self.kid, "typ": typ });
        let input =
            format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
        let rng = SystemRandom::new();
        let signature = match &self.pair {
            Pair::Ec(pair) => pair.sign(&rng, input.as_bytes()).map_err(|_| SigningError::Sign)?.as_ref().to_vec(),
            Pair::Rsa(pair) => {
                let mut out = vec![0; pair.public().modulus_len()];
                pair.sign(&signature::RSA_PKCS1_SHA256, &rng, input.as_bytes(), &mut out)
                    .map_err(|_| SigningError::Sign)?;
                out
            }
        };
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }
}

impl Signer {
    /// Whether `signature` over `input` was made by this key (a token Sésame issued, sent back).
    pub fn verifies(&self, input: &[u8], signature: &[u8]) -> bool {
        match &self.pair {
            Pair::Ec(pair) => signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, pair.public_key())
                .verify(input, signature)
                .is_ok(),
            Pair::Rsa(pair) => signature::RsaPublicKeyComponents::<Vec<u8>>::from(pair.public())
                .verify(&signature::RSA_PKCS1_2048_8192_SHA256, input, signature)
                .is_ok(),
        }
    }
}

/// A compact JWS taken apart, not verified: its header, its claims, what was signed, the
/// signature. `None` if it is not one.
#[derive(Debug)]
pub struct Jws<'a> {
    pub header: Value,
    pub claims: Value,
    pub signed: &'a str,
    pub signature: Vec<u8>,
}

impl<'a> Jws<'a> {
    pub fn parse(token: &'a str) -> Option<Self> {
        let (signed, signature) = token.rsplit_once('.')?;
        let (header, claims) = signed.split_once('.')?;
        let json =
            |part: &str| URL_SAFE_NO_PAD.decode(part).ok().and_then(|b| serde_json::from_slice::<Value>(&b).ok());
        Some(Self {
            header: json(header)?,
            claims: json(claims)?,
            signed,
            signature: URL_SAFE_NO_PAD.decode(signature).ok()?,
        })
    }
}

/// The JWK Set of these public keys (`/jwks`).
pub fn jwk_set<'a>(signers: impl IntoIterator<Item = &'a Signer>) -> Value {
    json!({ "keys": signers.into_iter().map(Signer::jwk).collect::<Vec<_>>() })
}

/// RFC 7638: SHA-256 of the required members, in lexicographic order, without spaces.
fn thumbprint(public: &Value) -> String {
    let members = match public["kty"].as_str() {
        Some("EC") => json!({ "crv": public["crv"], "kty": "EC", "x": public["x"], "y": public["y"] }),
        _ => json!({ "e": public["e"], "kty": "RSA", "n": public["n"] }),
    };
    // serde_json writes an object's members sorted (no preserve_order feature) and compact.
    URL_SAFE_NO_PAD.encode(Sha256::digest(members.to_string().as_bytes()))
}

fn strip_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len().saturating_sub(1));
    &bytes[first..]
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;
    use ring::signature::{RsaPublicKeyComponents, UnparsedPublicKey};

    fn parts(jws: &str) -> (Value, Vec<u8>, Vec<u8>) {
        let mut it = jws.split('.');
        let (h, c, s) = (it.next().unwrap(), it.next().unwrap(), it.next().unwrap());
        let header = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).unwrap()).unwrap();
        (header, format!("{h}.{c}").into_bytes(), URL_SAFE_NO_PAD.decode(s).unwrap())
    }

    #[test]
    fn es256_tokens_verify_against_the_published_jwk() {
        let signer = Signer::from_pkcs8(Alg::Es256, &generate(Alg::Es256).unwrap()).unwrap();
        let jws = signer.sign("JWT", &json!({ "sub": "jdupont" })).unwrap();
        let (header, input, sig) = parts(&jws);
        assert_eq!(header, json!({ "alg": "ES256", "kid": signer.kid(), "typ": "JWT" }));
        let jwk = signer.jwk();
        let mut point = vec![4];
        point.extend(URL_SAFE_NO_PAD.decode(jwk["x"].as_str().unwrap()).unwrap());
        point.extend(URL_SAFE_NO_PAD.decode(jwk["y"].as_str().unwrap()).unwrap());
        let key = UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point);
        assert!(key.verify(&input, &sig).is_ok());
        assert!(key.verify(b"another.message", &sig).is_err());
    }

    #[test]
    fn rs256_tokens_verify_against_the_published_jwk() {
        let signer = Signer::from_pkcs8(Alg::Rs256, &generate(Alg::Rs256).unwrap()).unwrap();
        let jws = signer.sign("logout+jwt", &json!({ "sid": "s" })).unwrap();
        let (header, input, sig) = parts(&jws);
        assert_eq!(header["alg"], "RS256");
        assert_eq!(header["typ"], "logout+jwt");
        let jwk = signer.jwk();
        let n = URL_SAFE_NO_PAD.decode(jwk["n"].as_str().unwrap()).unwrap();
        assert_eq!(n.len(), 256, "2048 bits, no leading zero");
        let e = URL_SAFE_NO_PAD.decode(jwk["e"].as_str().unwrap()).unwrap();
        assert_eq!(e, [1, 0, 1]);
        let key = RsaPublicKeyComponents { n, e };
        assert!(key.verify(&signature::RSA_PKCS1_2048_8192_SHA256, &input, &sig).is_ok());
    }

    #[test]
    fn the_kid_is_the_rfc_7638_thumbprint() {
        // RFC 7638 section 3.1's example key and its thumbprint.
        let public = json!({
            "kty": "RSA", "e": "AQAB",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
        });
        assert_eq!(thumbprint(&public), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    }

    #[test]
    fn a_key_that_is_not_pkcs8_is_refused() {
        assert!(matches!(Signer::from_pkcs8(Alg::Es256, b"garbage"), Err(SigningError::Rejected("ES256", _))));
        let ec = generate(Alg::Es256).unwrap();
        assert!(Signer::from_pkcs8(Alg::Rs256, &ec).is_err(), "an EC key is no RSA key");
        assert_eq!(Alg::parse("none"), None);
    }
}
