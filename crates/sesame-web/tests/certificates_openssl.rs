//! Client certificates over the built-in HTTPS, with clients that are not rustls: curl (OpenSSL 3)
//! and Python's `ssl` module (OpenSSL too, another TLS client stack). The rustls-only tests once
//! passed while every OpenSSL client failed the handshake (the CertificateRequest listed the
//! authorities' names without their outer DER SEQUENCE).

#![expect(clippy::unwrap_used, reason = "tests")]

mod common;

use common::TestApp;
use common::pki::{ClientCert, NOW, Pki, RPPS, app, ca};
use std::path::PathBuf;
use time::Duration;

/// What curl saw: status, headers (lower-case names), body.
struct Reply {
    status: u16,
    headers: String,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.lines().find_map(|line| {
            let (k, v) = line.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

fn write(pki: &Pki, name: &str, contents: &str) -> PathBuf {
    let path = pki.path(name);
    std::fs::write(&path, contents).unwrap();
    path
}

/// `curl` verifying the server against the test authority, presenting `cert` if given.
async fn curl(app: &TestApp, pki: &Pki, cert: Option<&ClientCert>, method: &str, path: &str) -> Reply {
    static CALLS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let tag = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let headers = pki.path(&format!("headers-{tag}"));
    let mut command = tokio::process::Command::new("curl");
    command
        .args(["--silent", "--show-error", "--http1.1", "--max-time", "20"])
        .arg("--cacert")
        .arg(pki.path("ca.pem"))
        .arg("--dump-header")
        .arg(&headers)
        .args(["--write-out", "%{http_code}", "--request", method]);
    if let Some(cert) = cert {
        command.arg("--cert").arg(write(pki, &format!("client-{tag}.pem"), &cert.cert_pem));
        command.arg("--key").arg(write(pki, &format!("client-{tag}-key.pem"), &cert.key_pem));
    }
    if method == "POST" {
        command.args(["--header", "content-type: application/json", "--data", r#"{"client":"curl"}"#]);
    }
    let output = command.arg(app.url(path)).output().await.expect("curl is installed (apt-get install curl)");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "curl failed: {}", String::from_utf8_lossy(&output.stderr));
    let (body, status) = stdout.split_at(stdout.len() - 3);
    Reply {
        status: status.parse().unwrap(),
        headers: std::fs::read_to_string(&headers).unwrap(),
        body: body.replace("&#x2f;", "/").replace("&#x27;", "'"),
    }
}

fn card(pki: &Pki, serial: u64) -> ClientCert {
    pki.client(&format!("Jeanne Dupont 8{RPPS}"), serial, None, |_| {})
}

#[tokio::test]
async fn curl_without_a_certificate_reaches_the_login_page() {
    let pki = Pki::new();
    let app = app(&pki, Vec::new(), true).await;
    let page = curl(&app, &pki, None, "GET", "/").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Je me connecte"));
    assert!(page.body.contains("Authentification par certificat client"));
}

#[tokio::test]
async fn curl_with_a_valid_card_signs_in_on_the_page_and_the_api() {
    let pki = Pki::new();
    let app = app(&pki, Vec::new(), true).await;
    let signed = curl(&app, &pki, Some(&card(&pki, 21)), "GET", "/connexion/certificat").await;
    assert_eq!(signed.status, 303, "{}", signed.body);
    assert_eq!(signed.header("location"), Some("/services"));
    assert!(signed.header("set-cookie").is_some_and(|c| c.starts_with("__Host-sesame_session=")));

    let api = curl(&app, &pki, Some(&card(&pki, 22)), "POST", "/api/v1/sessions/certificate").await;
    assert_eq!(api.status, 201, "{}", api.body);
    let tokens: serde_json::Value = serde_json::from_str(&api.body).unwrap();
    assert_eq!(tokens["token_type"], "Bearer");
    assert!(tokens["access_token"].as_str().is_some_and(|t| t.len() >= 43));
}

#[tokio::test]
async fn curl_with_a_card_of_another_authority_or_an_expired_one_gets_its_french_page() {
    let pki = Pki::new();
    let app = app(&pki, Vec::new(), true).await;
    let other = ca("Autre AC");
    let foreign = pki.client(&format!("Jeanne Dupont 8{RPPS}"), 23, Some(&other), |_| {});
    let page = curl(&app, &pki, Some(&foreign), "GET", "/connexion/certificat").await;
    assert_eq!(page.status, 403);
    assert!(page.body.contains("<h1>Certificat non reconnu</h1>"), "{}", page.body);
    assert!(page.header("set-cookie").is_none_or(|c| !c.contains("sesame_session=")));

    let expired = pki.client(&format!("Jeanne Dupont 8{RPPS}"), 24, None, |p| p.not_after = NOW - Duration::days(1));
    let page = curl(&app, &pki, Some(&expired), "GET", "/connexion/certificat").await;
    assert_eq!(page.status, 403);
    assert!(page.body.contains("<h1>Certificat expiré</h1>"), "{}", page.body);
    let api = curl(&app, &pki, Some(&expired), "POST", "/api/v1/sessions/certificate").await;
    assert_eq!(api.status, 401);
    assert_eq!(api.header("content-type"), Some("application/problem+json"));
    assert!(api.body.contains("certificate_refused"));
}

/// Python's `ssl` with `requests`-like use of `urllib`: what a desktop script would do.
const PYTHON_CLIENT: &str = r#"
import json, ssl, sys, urllib.request
url, ca, cert, key = sys.argv[1:5]
context = ssl.create_default_context(cafile=ca)
if cert:
    context.load_cert_chain(cert, key)
request = urllib.request.Request(url, data=b'{"client":"python"}', method="POST",
                                 headers={"content-type": "application/json"})
try:
    with urllib.request.urlopen(request, context=context) as reply:
        print(reply.status, json.load(reply).get("token_type"))
except urllib.error.HTTPError as refused:
    print(refused.code, json.load(refused).get("type"))
"#;

async fn python(app: &TestApp, pki: &Pki, cert: Option<&ClientCert>) -> String {
    let (cert_path, key_path) = match cert {
        Some(c) => (
            write(pki, "py-client.pem", &c.cert_pem).display().to_string(),
            write(pki, "py-client-key.pem", &c.key_pem).display().to_string(),
        ),
        None => (String::new(), String::new()),
    };
    let output = tokio::process::Command::new("python3")
        .args(["-c", PYTHON_CLIENT, &app.url("/api/v1/sessions/certificate")])
        .arg(pki.path("ca.pem"))
        .args([cert_path, key_path])
        .output()
        .await
        .expect("python3 is installed");
    assert!(output.status.success(), "python failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

#[tokio::test]
async fn python_ssl_signs_in_through_the_api_with_a_card_and_is_refused_without() {
    let pki = Pki::new();
    let app = app(&pki, Vec::new(), true).await;
    assert_eq!(python(&app, &pki, Some(&card(&pki, 25))).await, "201 Bearer");
    assert_eq!(python(&app, &pki, None).await, "401 /api/v1/problems/certificate_refused");
}
