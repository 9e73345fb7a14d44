//! `sesame serve` as an operator starts it.

#![expect(clippy::unwrap_used, reason = "tests")]

mod common;

use common::{Sesame, start};
use std::net::TcpListener;
use std::time::{Duration, Instant};

#[tokio::test]
async fn serve_answers_health_readiness_and_french_error_pages_with_hardened_headers() {
    let sesame = Sesame::new();
    let server = start(&sesame);
    assert!(sesame.path("data/sesame.db").exists(), "the database is created and migrated at start");
    let client = reqwest::Client::new();
    let health = client.get(format!("{}/healthz", server.base)).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let ready = client.get(format!("{}/readyz", server.base)).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let missing = client.get(format!("{}/nothing-here", server.base)).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    let headers = missing.headers().clone();
    let request_id = headers["x-request-id"].to_str().unwrap().to_owned();
    let body = missing.text().await.unwrap();
    assert!(body.contains("lang=\"fr\"") && body.contains("Page introuvable"), "{body}");
    assert!(body.contains(&request_id), "the page carries the request id");
    assert!(headers["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let wrong_method = client.post(format!("{}/healthz", server.base)).send().await.unwrap();
    assert_eq!(wrong_method.status(), 405);
}

#[tokio::test]
async fn serve_delivers_mail_queued_by_another_process() {
    let sesame = Sesame::new().env("SESAME_MAIL__POLL_INTERVAL_SECS", "1");
    let _server = start(&sesame);
    // Queue with the file transport pointed elsewhere failing: write into the outbox table only.
    let url = sesame.sqlite_url();
    // A message without a secret: any key ring will do.
    let sealer = sesame_core::keys::Sealer::ephemeral();
    let store = sesame_store::connect(&url, &sesame_store::StoreOptions::default(), sealer).await.unwrap();
    let mut tx = store.begin().await.unwrap();
    tx.enqueue_mail(
        &sesame_core::mail::OutboxMail {
            account_id: None,
            to: sesame_core::types::Email::parse("ops@example.fr").unwrap(),
            to_name: String::new(),
            message: sesame_core::mail::MailMessage::Test,
        },
        time::OffsetDateTime::now_utc(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while sesame.outbox().is_empty() {
        assert!(Instant::now() < deadline, "the running server's worker did not deliver");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[test]
fn serve_refuses_a_busy_port_with_a_clear_message() {
    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let sesame = Sesame::new().env("SESAME_LISTEN", format!("127.0.0.1:{port}"));
    let run = sesame.run(&["serve"]).bad_input();
    assert!(run.stderr.contains(&format!("cannot listen on 127.0.0.1:{port}")), "{}", run.stderr);
    assert!(!sesame.path("data").exists(), "nothing was created");
}
