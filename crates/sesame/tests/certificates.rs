//! `sesame serve` over HTTPS with client certificates, revocation reloaded on SIGHUP, and
//! certificates pinned from the command line.

#![expect(clippy::unwrap_used, reason = "tests")]

mod common;

use common::{Sesame, read_eml, start};
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, CertifiedIssuer, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyIdMethod, KeyPair, KeyUsagePurpose, RevokedCertParams, SerialNumber,
};
use time::{Duration, OffsetDateTime};

fn crl(ca: &CertifiedIssuer<'static, KeyPair>, revoked: &[u64]) -> String {
    let now = OffsetDateTime::now_utc();
    CertificateRevocationListParams {
        this_update: now - Duration::hours(1),
        next_update: now + Duration::days(30),
        crl_number: SerialNumber::from(u64::try_from(now.unix_timestamp()).unwrap()),
        issuing_distribution_point: None,
        revoked_certs: revoked
            .iter()
            .map(|s| RevokedCertParams {
                serial_number: SerialNumber::from(*s),
                revocation_time: now - Duration::minutes(5),
                reason_code: None,
                invalidity_date: None,
            })
            .collect(),
        key_identifier_method: KeyIdMethod::Sha256,
    }
    .signed_by(ca)
    .unwrap()
    .pem()
    .unwrap()
}

fn client(ca: &CertifiedIssuer<'static, KeyPair>, cn: &str, serial: u64) -> (String, String) {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, cn);
    params.serial_number = Some(SerialNumber::from(serial));
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, ca).unwrap();
    (cert.pem(), key.serialize_pem())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_a_card_then_revoked_by_a_reloaded_crl() {
    let sesame = Sesame::new();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, "IGC Test");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let server = CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap().signed_by(&server_key, &ca).unwrap();
    std::fs::write(sesame.path("ca.pem"), ca.pem()).unwrap();
    std::fs::write(sesame.path("server.pem"), server.pem()).unwrap();
    std::fs::write(sesame.path("server-key.pem"), server_key.serialize_pem()).unwrap();
    std::fs::write(sesame.path("ca.crl"), crl(&ca, &[])).unwrap();
    std::fs::write(
        sesame.path("sesame.toml"),
        "[tls]\ncert_file = \"server.pem\"\nkey_file = \"server-key.pem\"\nclient_ca_file = \"ca.pem\"\ncrl_files = [\"ca.crl\"]\n\n[client_certificate]\nenabled = true\n",
    )
    .unwrap();
    let sesame = sesame.env("SESAME_CONFIG", "sesame.toml");
    sesame.run(&["config", "check"]).ok();
    sesame
        .run(&[
            "account",
            "create",
            "--email",
            "jeanne@example.fr",
            "--first-name",
            "Jeanne",
            "--last-name",
            "Dupont",
            "--national-id",
            "10003456786",
        ])
        .ok();
    let mut server = start(&sesame);
    let base = server.base.replace("http://", "https://");
    let (cert, key) = client(&ca, "DUPONT Jeanne 810003456786", 42);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let browser = reqwest::Client::builder()
        .use_rustls_tls()
        .redirect(reqwest::redirect::Policy::none())
        .add_root_certificate(reqwest::Certificate::from_pem(ca.pem().as_bytes()).unwrap())
        .identity(reqwest::Identity::from_pem(format!("{cert}{key}").as_bytes()).unwrap())
        .build()
        .unwrap();
    let signed = browser.get(format!("{base}/connexion/certificat")).send().await.unwrap();
    assert_eq!(signed.status(), 303);
    assert_eq!(signed.headers()["location"], "/services");
    assert!(signed.headers()["set-cookie"].to_str().unwrap().starts_with("sesame_session="));

    // The CA revokes the card; the operator sends SIGHUP; the next sign-in is refused.
    std::fs::write(sesame.path("ca.crl"), crl(&ca, &[42])).unwrap();
    let pid = server.child.id().to_string();
    assert!(std::process::Command::new("kill").args(["-HUP", &pid]).status().unwrap().success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let page = browser.get(format!("{base}/connexion/certificat")).send().await.unwrap();
        if page.status() == 403 {
            assert!(page.text().await.unwrap().contains("Certificat révoqué"));
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the CRL was not reloaded");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let _ = server.child.kill();
}

#[test]
fn certificates_are_pinned_and_unpinned_from_the_command_line() {
    let sesame = Sesame::new();
    let ca = CertifiedIssuer::self_signed(
        {
            let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
            p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            p
        },
        KeyPair::generate().unwrap(),
    )
    .unwrap();
    let (cert, _) = client(&ca, "Secrétariat du cabinet", 7);
    std::fs::write(sesame.path("soft.pem"), &cert).unwrap();
    sesame
        .run(&["account", "create", "--email", "jeanne@example.fr", "--first-name", "Jeanne", "--last-name", "Dupont"])
        .ok();
    let bound = sesame.run(&["account", "bind-certificate", "jdupont", "--certificate", "soft.pem"]).ok();
    assert!(bound.stdout.contains("now signs in to jdupont"), "{}", bound.stdout);
    let show = sesame.run(&["account", "show", "jdupont"]).ok();
    let line = show.stdout.lines().find(|l| l.starts_with("Certificate:")).unwrap().to_owned();
    assert!(line.contains("Secrétariat du cabinet"));
    let fingerprint = line.rsplit("SHA-256 ").next().unwrap().trim_end_matches(')').to_owned();
    let mails = sesame.outbox();
    let (subject, text) = read_eml(mails.last().unwrap());
    assert_eq!(subject, "Portail e-santé : un certificat a été associé à votre compte");
    assert!(text.contains(&fingerprint));
    // Pinning the same certificate to another account is refused.
    sesame
        .run(&["account", "create", "--email", "paul@example.fr", "--first-name", "Paul", "--last-name", "Martin"])
        .ok();
    let twice = sesame.run(&["account", "bind-certificate", "pmartin", "--certificate", "soft.pem"]).bad_input();
    assert!(twice.stderr.contains("certificate"), "{}", twice.stderr);
    sesame.run(&["account", "bind-certificate", "jdupont", "--certificate", "missing.pem"]).bad_input();
    sesame.run(&["account", "unbind-certificate", "jdupont", "--fingerprint", &fingerprint]).ok();
    assert!(!sesame.run(&["account", "show", "jdupont"]).ok().stdout.contains("Certificate:"));
    sesame.run(&["account", "unbind-certificate", "jdupont", "--fingerprint", &fingerprint]).bad_input();
}
