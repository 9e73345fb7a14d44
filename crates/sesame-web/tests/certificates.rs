//! "Authentification par certificat client" through a real TLS handshake (and through a
//! reverse proxy's header), with certificates made here by rcgen.

#![expect(clippy::unwrap_used, reason = "tests")]

mod common;

use common::TestApp;
use common::pki::{ClientCert, NOW, Pki, RPPS, app, app_with, ca};
use rcgen::{ExtendedKeyUsagePurpose, KeyUsagePurpose};
use sesame_web::certs::ClientCertificateSettings;
use time::Duration;

fn browser(pki: &Pki, cert: Option<&ClientCert>) -> reqwest::Client {
    sesame_testkit::install_crypto_provider();
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .add_root_certificate(reqwest::Certificate::from_pem(pki.ca.pem().as_bytes()).unwrap());
    if let Some(cert) = cert {
        builder = builder.identity(reqwest::Identity::from_pem(cert.pem.as_bytes()).unwrap());
    }
    builder.build().unwrap()
}

async fn try_with(app: &TestApp, pki: &Pki, cert: Option<&ClientCert>) -> common::Page {
    common::Page::of(browser(pki, cert).get(app.url("/connexion/certificat")).send().await.unwrap()).await
}

#[tokio::test]
async fn a_valid_card_signs_in_directly_and_the_session_says_certificate() {
    let pki = Pki::new();
    let app = app(&pki, Vec::new(), true).await;
    let login = common::Page::of(browser(&pki, None).get(app.url("/")).send().await.unwrap()).await;
    assert!(login.body.contains("Authentification par certificat client"), "offered on the login page");
    let cert = pki.client(&format!("Jeanne Dupont 8{RPPS}"), 1, None, |_| {});
    let b = browser(&pki, Some(&cert));
    let signed = common::Page::of(b.get(app.url("/connexion/certificat")).send().await.unwrap()).await;
    assert_eq!(signed.status, 303, "{}", signed.body);
    assert_eq!(signed.location(), Some("/services"), "no temporary-password step");
    let account = common::Page::of(b.get(app.url("/mon-compte")).send().await.unwrap()).await;
    assert!(account.body.contains("Certificat client"), "the session records the method");
    let events = app.store.audit_events(&Default::default()).await.unwrap();
    let success = events.iter().find(|e| e.action == "login_succeeded").unwrap();
    assert_eq!(success.details["method"], "certificate");
}

#[tokio::test]
async fn each_refusal_gets_its_own_page_and_an_audit_event() {
    let pki = Pki::new();
    let app = app(&pki, Vec::new(), true).await;
    let cn = format!("Jeanne Dupont 8{RPPS}");
    let other_ca = ca("Autre AC");
    let cases: Vec<(Option<ClientCert>, &str)> = vec![
        (None, "Aucun certificat présenté"),
        (Some(pki.client(&cn, 2, Some(&other_ca), |_| {})), "Certificat non reconnu"),
        (Some(pki.client(&cn, 3, None, |p| p.not_after = NOW - Duration::days(1))), "Certificat expiré"),
        (Some(pki.client(&cn, 4, None, |p| p.not_before = NOW + Duration::days(1))), "Certificat pas encore valide"),
        (Some(pki.client(&cn, pki.revoked_serial, None, |_| {})), "Certificat révoqué"),
        (
            Some(pki.client(&cn, 5, None, |p| p.extended_key_usages = vec![ExtendedKeyUsagePurpose::EmailProtection])),
            "Certificat non prévu pour l'authentification",
        ),
        (
            Some(pki.client(&cn, 6, None, |p| p.key_usages = vec![KeyUsagePurpose::KeyEncipherment])),
            "Certificat non prévu pour l'authentification",
        ),
        (Some(pki.client("Paul Martin 810101234564", 7, None, |_| {})), "Aucun compte n'est associé à ce certificat"),
    ];
    let _ = &pki.other_ca;
    for (cert, title) in &cases {
        let page = try_with(&app, &pki, cert.as_ref()).await;
        assert_eq!(page.status, 403, "{title}");
        assert!(page.body.contains(&format!("<h1>{title}</h1>")), "{title}: {}", page.body);
        assert!(page.set_cookie("__Host-sesame_session").is_none());
    }
    let refusals: Vec<String> = app
        .store
        .audit_events(&Default::default())
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "certificate_login_refused")
        .map(|e| e.details["reason"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        refusals,
        [
            "no_certificate",
            "not_recognised",
            "expired",
            "not_yet_valid",
            "revoked",
            "wrong_usage",
            "wrong_usage",
            "no_account"
        ]
    );
}

#[tokio::test]
async fn a_disabled_account_is_refused_and_a_pinned_certificate_signs_in() {
    let pki = Pki::new();
    let app = app(&pki, Vec::new(), true).await;
    let jeanne = app.accounts.find("jdupont").await.unwrap();
    // A software certificate without national identifier, pinned by fingerprint.
    let soft = pki.client("Secrétariat du cabinet", 8, None, |_| {});
    assert_eq!(try_with(&app, &pki, Some(&soft)).await.status, 403);
    let fingerprint: String = {
        use sha2::Digest as _;
        sha2::Sha256::digest(&soft.der).iter().map(|b| format!("{b:02x}")).collect()
    };
    app.accounts
        .pin_certificate(
            &jeanne,
            &fingerprint,
            "CN=Secrétariat du cabinet",
            true,
            &sesame_core::audit::RequestContext::cli(),
        )
        .await
        .unwrap();
    assert_eq!(try_with(&app, &pki, Some(&soft)).await.location(), Some("/services"));
    assert!(app.mails().await.iter().any(|(_, m)| m.kind() == "certificate_bound"), "the holder is told");
    app.accounts
        .set_status(jeanne.id, sesame_core::model::AccountStatus::Disabled, &sesame_core::audit::RequestContext::cli())
        .await
        .unwrap();
    let card = pki.client(&format!("Jeanne Dupont 8{RPPS}"), 9, None, |_| {});
    let refused = try_with(&app, &pki, Some(&card)).await;
    assert!(refused.body.contains("Aucun compte n'est associé à ce certificat"));
}

#[tokio::test]
async fn the_desktop_api_signs_in_over_mutual_tls() {
    let pki = Pki::new();
    let app = app(&pki, Vec::new(), true).await;
    let cert = pki.client(&format!("Jeanne Dupont 8{RPPS}"), 10, None, |_| {});
    let reply = browser(&pki, Some(&cert))
        .post(app.url("/api/v1/sessions/certificate"))
        .header("content-type", "application/json")
        .body(r#"{"client":"Therap-e autonome"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 201);
    let no_cert = browser(&pki, None)
        .post(app.url("/api/v1/sessions/certificate"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(no_cert.status(), 401);
    assert_eq!(no_cert.headers()["content-type"], "application/problem+json");
}

fn nginx_header(cert: &ClientCert) -> String {
    let pem = cert.pem.split("-----END CERTIFICATE-----").next().unwrap().to_owned() + "-----END CERTIFICATE-----\n";
    pem.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }
        })
        .collect()
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_header_signs_in_and_from_anyone_else_it_is_ignored() {
    use base64::Engine as _;
    let pki = Pki::new();
    let cert = pki.client(&format!("Jeanne Dupont 8{RPPS}"), 11, None, |_| {});
    let trusted = app(&pki, vec!["127.0.0.1".into()], false).await;
    let plain = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let nginx = plain
        .get(trusted.url("/connexion/certificat"))
        .header("X-SSL-Client-Cert", nginx_header(&cert))
        .send()
        .await
        .unwrap();
    assert_eq!(nginx.status(), 303, "nginx's escaped PEM");
    let rfc9440 = format!(":{}:", base64::engine::general_purpose::STANDARD.encode(&cert.der));
    let settings = ClientCertificateSettings {
        enabled: true,
        trusted_proxies: vec!["127.0.0.1".into()],
        header: "Client-Cert".into(),
        ..Default::default()
    };
    let rfc_app = app_with(&pki, settings, false).await;
    let rfc = plain.get(rfc_app.url("/connexion/certificat")).header("Client-Cert", rfc9440).send().await.unwrap();
    assert_eq!(rfc.status(), 303, "RFC 9440 Client-Cert");

    let untrusted = app(&pki, vec!["10.0.0.0/8".into()], false).await;
    let forged = plain
        .get(untrusted.url("/connexion/certificat"))
        .header("X-SSL-Client-Cert", nginx_header(&cert))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    assert!(forged.text().await.unwrap().contains("Aucun certificat présenté"), "the header is ignored");
}
