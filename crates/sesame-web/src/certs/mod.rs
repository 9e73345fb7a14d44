//! "Authentification par certificat client": verifying a client certificate and reading who it
//! names.
//!
//! The certificate reaches us in one of two ways: from our own TLS listener (the handshake
//! proved the client holds the key; see [`crate::tls`]), or from a reverse proxy that
//! terminated TLS and passes it in a header, believed only from configured proxy addresses.
//! Either way it is judged here, so that each refusal gets its own clear page: chain to a
//! configured CA, validity dates, key usage (digital signature) and extended key usage (client
//! authentication), revocation from CRL files.

use axum::extract::{ConnectInfo, FromRef, FromRequestParts};
use axum::http::request::Parts;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, UnixTime};
use sesame_core::Services;
use sesame_core::certificate::CertificateIdentity;
use sesame_core::types::NationalId;
use sha2::{Digest as _, Sha256};
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use time::OffsetDateTime;

use crate::error::WebError;
use crate::settings::IpNet;

mod header;
mod refusal;
mod settings;

pub use header::parse_header;
pub use refusal::Refusal;
pub use settings::{ClientCertificateSettings, IdentityRule, TlsSettings, Trust};

/// Judges client certificates; the trust can be replaced while running (SIGHUP, file change).
#[derive(Debug)]
pub struct Verifier {
    trust: RwLock<Arc<Trust>>,
    attribute_oid: &'static str,
    pattern: regex_lite::Regex,
    proxies: Vec<IpNet>,
    header: String,
}

impl Verifier {
    pub fn new(settings: &ClientCertificateSettings, trust: Trust) -> Result<Self, String> {
        let attribute_oid = match settings.identity.attribute.as_str() {
            "CN" => "2.5.4.3",
            "serialNumber" => "2.5.4.5",
            "OU" => "2.5.4.11",
            "O" => "2.5.4.10",
            "UID" => "0.9.2342.19200300.100.1.1",
            other => return Err(format!("unknown subject attribute '{other}' (use CN, serialNumber, UID, OU or O)")),
        };
        let pattern =
            regex_lite::Regex::new(&settings.identity.pattern).map_err(|e| format!("invalid identity pattern: {e}"))?;
        let proxies = settings.trusted_proxies.iter().map(|p| IpNet::parse(p)).collect::<Result<_, _>>()?;
        Ok(Self {
            trust: RwLock::new(Arc::new(trust)),
            attribute_oid,
            pattern,
            proxies,
            header: settings.header.to_lowercase(),
        })
    }

    pub fn reload(&self, trust: Trust) {
        if let Ok(mut t) = self.trust.write() {
            *t = Arc::new(trust);
        }
    }

    fn trust(&self) -> Arc<Trust> {
        self.trust.read().map(|t| Arc::clone(&t)).unwrap_or_default()
    }

    /// Judges a chain (leaf first) at `now`. On refusal, the identity is returned when the
    /// certificate could be read (for the audit trail).
    pub fn verify(
        &self,
        chain: &[Vec<u8>],
        now: OffsetDateTime,
    ) -> Result<CertificateIdentity, (Refusal, Option<CertificateIdentity>)> {
        let Some(leaf) = chain.first() else {
            return Err((Refusal::Missing, None));
        };
        let identity = self.identity(leaf).ok_or((Refusal::NotRecognised, None))?;
        let refuse = |r| Err((r, Some(identity.clone())));
        let trust = self.trust();
        let anchors: Vec<_> =
            trust.anchors.iter().filter_map(|der| webpki::anchor_from_trusted_cert(der).ok()).collect();
        let leaf_der = CertificateDer::from(leaf.as_slice());
        let Ok(end_entity) = webpki::EndEntityCert::try_from(&leaf_der) else {
            return refuse(Refusal::NotRecognised);
        };
        let intermediates: Vec<CertificateDer<'_>> =
            chain[1..].iter().map(|c| CertificateDer::from(c.as_slice())).collect();
        let crls: Vec<webpki::CertRevocationList<'_>> = trust
            .crls
            .iter()
            .filter_map(|c| webpki::BorrowedCertRevocationList::from_der(c).ok().map(webpki::CertRevocationList::from))
            .collect();
        let crl_refs: Vec<&webpki::CertRevocationList<'_>> = crls.iter().collect();
        let revocation = webpki::RevocationOptionsBuilder::new(&crl_refs).ok().map(|b| {
            b.with_depth(webpki::RevocationCheckDepth::Chain)
                .with_status_policy(webpki::UnknownStatusPolicy::Allow)
                .with_expiration_policy(webpki::ExpirationPolicy::Ignore)
                .build()
        });
        let seconds = u64::try_from(now.unix_timestamp()).unwrap_or_default();
        let time = UnixTime::since_unix_epoch(std::time::Duration::from_secs(seconds));
        let verified = end_entity.verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &anchors,
            &intermediates,
            time,
            webpki::KeyUsage::client_auth(),
            revocation,
            None,
        );
        match verified {
            Ok(_) => {}
            Err(webpki::Error::CertExpired { .. }) => return refuse(Refusal::Expired),
            Err(webpki::Error::CertNotValidYet { .. }) => return refuse(Refusal::NotYetValid),
            Err(webpki::Error::CertRevoked) => return refuse(Refusal::Revoked),
            Err(webpki::Error::RequiredEkuNotFoundContext(_)) => return refuse(Refusal::WrongUsage),
            #[expect(deprecated, reason = "older variant still produced in some paths")]
            Err(webpki::Error::RequiredEkuNotFound) => return refuse(Refusal::WrongUsage),
            Err(e) => {
                tracing::info!(error = %e, "client certificate not recognised");
                return refuse(Refusal::NotRecognised);
            }
        }
        if !digital_signature_allowed(leaf) {
            return refuse(Refusal::WrongUsage);
        }
        Ok(identity)
    }

    fn identity(&self, der: &[u8]) -> Option<CertificateIdentity> {
        let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
        let subject = cert.subject().to_string();
        let national_id = cert
            .subject()
            .iter_attributes()
            .filter(|a| a.attr_type().to_id_string() == self.attribute_oid)
            .filter_map(|a| a.as_str().ok())
            .find_map(|value| {
                let caps = self.pattern.captures(value)?;
                let found = caps.get(1).or_else(|| caps.get(0))?.as_str();
                NationalId::parse(found).ok()
            });
        let fingerprint = Sha256::digest(der).iter().map(|b| format!("{b:02x}")).collect();
        Some(CertificateIdentity { fingerprint, subject, national_id })
    }

    /// The chain of the request: from our TLS listener, or from a trusted proxy's header.
    pub fn chain_of(&self, parts: &Parts) -> Vec<Vec<u8>> {
        if let Some(info) = parts.extensions.get::<Arc<axum_server::tls::TlsInfo>>()
            && !info.peer_certificates.is_empty()
        {
            return info.peer_certificates.clone();
        }
        let Some(value) =
            parts.headers.get(self.header.as_str()).and_then(|v| v.to_str().ok()).filter(|v| !v.is_empty())
        else {
            return Vec::new();
        };
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
        if !peer.is_some_and(|ip| self.proxies.iter().any(|net| net.contains(ip))) {
            tracing::warn!(peer = ?peer, header = %self.header, "client certificate header from an untrusted address ignored");
            return Vec::new();
        }
        parse_header(value).into_iter().collect()
    }
}

fn digital_signature_allowed(der: &[u8]) -> bool {
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) else {
        return false;
    };
    match cert.key_usage() {
        Ok(Some(ku)) => ku.value.digital_signature(),
        Ok(None) => true, // no key usage extension: every usage allowed
        Err(_) => false,
    }
}

/// Certificate sign-in, when enabled: the verifier the router's state holds.
#[derive(Debug, Clone, Default)]
pub struct CertificateSignIn(pub Option<Arc<Verifier>>);

/// The chain presented with a request (possibly empty).
#[derive(Debug)]
pub struct PeerChain(pub Vec<Vec<u8>>);

impl<S: Send + Sync> FromRequestParts<S> for PeerChain
where
    CertificateSignIn: FromRef<S>,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let CertificateSignIn(verifier) = CertificateSignIn::from_ref(state);
        Ok(Self(verifier.map(|v| v.chain_of(parts)).unwrap_or_default()))
    }
}

/// The SHA-256 fingerprint (hex) and subject of the first certificate of a PEM or DER file's
/// bytes, for pinning from the command line.
pub fn describe(bytes: &[u8]) -> Result<(String, String), String> {
    let der = if bytes.starts_with(b"-----") {
        CertificateDer::from_pem_slice(bytes).map_err(|e| format!("not a PEM certificate: {e}"))?.to_vec()
    } else {
        bytes.to_vec()
    };
    let (_, cert) = x509_parser::parse_x509_certificate(&der).map_err(|e| format!("not an X.509 certificate: {e}"))?;
    let fingerprint = Sha256::digest(&der).iter().map(|b| format!("{b:02x}")).collect();
    Ok((fingerprint, cert.subject().to_string()))
}

/// Judges the chain of a request; a refusal is audited here and returned.
pub async fn judge(
    verifier: &Verifier,
    services: &Services,
    chain: &[Vec<u8>],
    ctx: &sesame_core::audit::RequestContext,
) -> Result<Result<CertificateIdentity, Refusal>, WebError> {
    match verifier.verify(chain, services.now()) {
        Ok(identity) => Ok(Ok(identity)),
        Err((refusal, identity)) => {
            services.certificates.refused(refusal.code(), identity.as_ref(), None, ctx).await?;
            Ok(Err(refusal))
        }
    }
}
