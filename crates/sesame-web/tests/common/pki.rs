//! A test PKI: an authority, its revocation list, a server certificate, client certificates.

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, CertifiedIssuer, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyIdMethod, KeyPair, KeyUsagePurpose, RevokedCertParams, SerialNumber,
};
use sesame_core::types::{Email, NationalId, PersonName};
use sesame_web::certs::{ClientCertificateSettings, TlsSettings};

use super::{Options, TestApp};
use std::path::PathBuf;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

/// The test clock's "now".
pub const NOW: OffsetDateTime = datetime!(2026-11-24 09:00 UTC);
pub const RPPS: &str = "10003456786";

pub struct Pki {
    pub dir: tempfile::TempDir,
    pub ca: CertifiedIssuer<'static, KeyPair>,
    pub other_ca: CertifiedIssuer<'static, KeyPair>,
    pub revoked_serial: u64,
}

pub struct ClientCert {
    /// The certificate then its key, PEM.
    pub pem: String,
    pub cert_pem: String,
    pub key_pem: String,
    pub der: Vec<u8>,
}

pub fn ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

impl Pki {
    pub fn new() -> Self {
        let pki = Self {
            dir: tempfile::tempdir().unwrap(),
            ca: ca("IGC Test - Authentification"),
            other_ca: ca("Autre AC"),
            revoked_serial: 666,
        };
        // Server certificate for the built-in HTTPS listener.
        let mut server = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        server.distinguished_name.push(DnType::CommonName, "sesame.test");
        let key = KeyPair::generate().unwrap();
        let cert = server.signed_by(&key, &pki.ca).unwrap();
        std::fs::write(pki.path("server.pem"), cert.pem()).unwrap();
        std::fs::write(pki.path("server-key.pem"), key.serialize_pem()).unwrap();
        std::fs::write(pki.path("ca.pem"), pki.ca.pem()).unwrap();
        // A revocation list naming one serial number.
        let crl = CertificateRevocationListParams {
            this_update: NOW - Duration::days(1),
            next_update: NOW + Duration::days(30),
            crl_number: SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs: vec![RevokedCertParams {
                serial_number: SerialNumber::from(pki.revoked_serial),
                revocation_time: NOW - Duration::hours(1),
                reason_code: None,
                invalidity_date: None,
            }],
            key_identifier_method: KeyIdMethod::Sha256,
        }
        .signed_by(&pki.ca)
        .unwrap();
        std::fs::write(pki.path("ca.crl.pem"), crl.pem().unwrap()).unwrap();
        pki
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn tls(&self) -> TlsSettings {
        TlsSettings {
            cert_file: Some(self.path("server.pem")),
            key_file: Some(self.path("server-key.pem")),
            client_ca_file: Some(self.path("ca.pem")),
            crl_files: vec![self.path("ca.crl.pem")],
        }
    }

    pub fn client(
        &self,
        cn: &str,
        serial: u64,
        issuer: Option<&CertifiedIssuer<'static, KeyPair>>,
        tweak: impl FnOnce(&mut CertificateParams),
    ) -> ClientCert {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, cn);
        params.distinguished_name.push(DnType::OrganizationName, "Cabinet du Parc");
        params.serial_number = Some(SerialNumber::from(serial));
        params.not_before = NOW - Duration::days(30);
        params.not_after = NOW + Duration::days(365);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        tweak(&mut params);
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, issuer.unwrap_or(&self.ca)).unwrap();
        ClientCert {
            pem: format!("{}{}", cert.pem(), key.serialize_pem()),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().to_vec(),
        }
    }
}

/// The portal over TLS (or, with `tls = false`, behind a proxy) with certificate sign-in, and
/// Jeanne Dupont's account holding the RPPS number.
pub async fn app(pki: &Pki, trusted_proxies: Vec<String>, tls: bool) -> TestApp {
    app_with(
        pki,
        ClientCertificateSettings { enabled: true, trusted_proxies, ..ClientCertificateSettings::default() },
        tls,
    )
    .await
}

pub async fn app_with(pki: &Pki, certificates: ClientCertificateSettings, tls: bool) -> TestApp {
    let mut tls_settings = pki.tls();
    if !tls {
        tls_settings.cert_file = None;
        tls_settings.key_file = None;
    }
    // Proxy mode has no server certificate but judges against the same CA and CRLs.
    let app = TestApp::start_with(Options {
        tls: Some(tls_settings),
        certificates: Some(certificates),
        ..Options::default()
    })
    .await;
    let request = sesame_core::accounts::CreateAccount {
        identifier: None,
        email: Email::parse("jeanne.dupont@example.fr").unwrap(),
        first_name: PersonName::parse("Jeanne", "first name").unwrap(),
        last_name: PersonName::parse("Dupont", "last name").unwrap(),
        national_id: Some(NationalId::parse(RPPS).unwrap()),
    };
    app.accounts.create_account(request, &sesame_core::audit::RequestContext::cli()).await.unwrap();
    app
}
