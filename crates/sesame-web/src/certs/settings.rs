//! `[client_certificate]` and `[tls]`, and the trust they name, as loaded from their files.

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

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

/// Authorities and revocation lists, as loaded from their files.
#[derive(Debug, Default)]
pub struct Trust {
    pub(super) anchors: Vec<CertificateDer<'static>>,
    pub(super) crls: Vec<CertificateRevocationListDer<'static>>,
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
