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
use base64::Engine as _;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, UnixTime};
use serde::{Deserialize, Serialize};
use sesame_core::Services;
use sesame_core::certificate::CertificateIdentity;
use sesame_core::types::NationalId;
use sha2::{Digest as _, Sha256};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use time::OffsetDateTime;

use crate::error::WebError;
use crate::settings::IpNet;
use crate::state::CertificateSignIn;

/// `[client_certificate]`
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct ClientCertificateSettings {
    /// Offer "Authentification par certificat client".
    pub enabled: bool,
    /// Reverse proxies allowed to pass the client certificate in `header` (addresses or CIDR).
    pub trusted_proxies: Vec<String>,
    /// The header a trusted proxy fills: nginx's `$ssl_client_escaped_cert` (URL-escaped PEM)
    /// or RFC 9440 `Client-Cert` (`:base64-DER:`); both forms are understood.
    pub header: String,
    /// How to find the national identifier in the certificate.
    pub identity: IdentityRule,
}

impl Default for ClientCertificateSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            trusted_proxies: Vec::new(),
            header: "X-SSL-Client-Cert".into(),
            identity: IdentityRule::default(),
        }
    }
}

/// Where the health professional's national identifier (`idNat_PS`) is in the subject.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct IdentityRule {
    /// Subject attribute: `CN`, `serialNumber`, `UID`, `OU` or `O`.
    pub attribute: String,
    /// Regular expression; its first capture group (or whole match) is the identifier.
    pub pattern: String,
}

impl Default for IdentityRule {
    fn default() -> Self {
        Self { attribute: "CN".into(), pattern: r"(?:^|[^0-9])(8[0-9]{11}|0[0-9]{9})(?:[^0-9]|$)".into() }
    }
}

/// `[tls]`: built-in HTTPS, and the authorities and revocation lists client certificates are
/// judged against (in proxy mode too).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct TlsSettings {
    /// Server certificate chain (PEM); with `key_file`, Sésame serves HTTPS itself.
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    /// Certificate authorities of client certificates (PEM bundle).
    pub client_ca_file: Option<PathBuf>,
    /// Certificate revocation lists (PEM or DER), reloaded when they change.
    pub crl_files: Vec<PathBuf>,
}

/// Why a certificate was refused; each has its own page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No certificate came with the request.
    Missing,
    /// Not issued by a configured authority, or unreadable.
    NotRecognised,
    Expired,
    NotYetValid,
    Revoked,
    /// Not meant for client authentication (key usage or extended key usage).
    WrongUsage,
    /// Valid, but no active account is pinned to it or holds its national identifier.
    NoAccount,
}

impl Refusal {
    pub fn code(self) -> &'static str {
        match self {
            Self::Missing => "no_certificate",
            Self::NotRecognised => "not_recognised",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::Revoked => "revoked",
            Self::WrongUsage => "wrong_usage",
            Self::NoAccount => "no_account",
        }
    }

    /// The refusal page's title (also the API problem's `title`).
    pub fn title(self) -> &'static str {
        match self {
            Self::Missing => "Aucun certificat présenté",
            Self::NotRecognised => "Certificat non reconnu",
            Self::Expired => "Certificat expiré",
            Self::NotYetValid => "Certificat pas encore valide",
            Self::Revoked => "Certificat révoqué",
            Self::WrongUsage => "Certificat non prévu pour l'authentification",
            Self::NoAccount => "Aucun compte n'est associé à ce certificat",
        }
    }

    /// What happened and what to do, in French.
    pub fn explanation(self) -> &'static str {
        match self {
            Self::Missing => {
                "Votre navigateur n'a présenté aucun certificat. Insérez votre carte CPS dans le lecteur (ou installez votre certificat logiciel), choisissez-le quand le navigateur le propose, puis réessayez."
            }
            Self::NotRecognised => "Ce certificat n'a pas été délivré par une autorité reconnue par ce portail.",
            Self::Expired => {
                "Ce certificat a dépassé sa date de fin de validité. Utilisez une carte ou un certificat en cours de validité."
            }
            Self::NotYetValid => {
                "Ce certificat n'est pas encore entré en validité. Réessayez à partir de sa date de début de validité."
            }
            Self::Revoked => "Ce certificat a été révoqué par son autorité : il ne permet plus de se connecter.",
            Self::WrongUsage => {
                "Ce certificat n'est pas destiné à l'authentification d'une personne (usage « authentification client »)."
            }
            Self::NoAccount => {
                "Ce certificat est valide, mais aucun compte actif de ce portail ne lui correspond (identifiant national ou certificat associé par le support)."
            }
        }
    }
}

/// Authorities and revocation lists, as loaded from their files.
#[derive(Debug, Default)]
pub struct Trust {
    anchors: Vec<CertificateDer<'static>>,
    crls: Vec<CertificateRevocationListDer<'static>>,
}

impl Trust {
    pub fn load(settings: &TlsSettings) -> Result<Self, String> {
        let anchors = match &settings.client_ca_file {
            Some(path) => CertificateDer::pem_file_iter(path)
                .and_then(Iterator::collect::<Result<Vec<_>, _>>)
                .map_err(|e| format!("cannot read the client CA bundle {}: {e}", path.display()))?,
            None => Vec::new(),
        };
        let mut crls = Vec::new();
        for path in &settings.crl_files {
            crls.extend(read_crls(path)?);
        }
        Ok(Self { anchors, crls })
    }

    /// Trust in these authorities only, without revocation lists.
    pub fn from_anchors(anchors: Vec<CertificateDer<'static>>) -> Self {
        Self { anchors, crls: Vec::new() }
    }

    pub fn anchors(&self) -> &[CertificateDer<'static>] {
        &self.anchors
    }
}

fn read_crls(path: &Path) -> Result<Vec<CertificateRevocationListDer<'static>>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read the CRL {}: {e}", path.display()))?;
    if bytes.starts_with(b"-----") {
        CertificateRevocationListDer::pem_slice_iter(&bytes)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("{}: {e}", path.display()))
    } else {
        Ok(vec![CertificateRevocationListDer::from(bytes)])
    }
}

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

/// `Client-Cert: :base64-DER:` (RFC 9440), or nginx's URL-escaped PEM.
pub fn parse_header(value: &str) -> Option<Vec<u8>> {
    let value = value.trim();
    if let Some(b64) = value.strip_prefix(':').and_then(|v| v.strip_suffix(':')) {
        return base64::engine::general_purpose::STANDARD.decode(b64).ok();
    }
    let pem = percent_decode(value);
    CertificateDer::from_pem_slice(pem.as_bytes()).ok().map(|c| c.to_vec())
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&text[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
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
