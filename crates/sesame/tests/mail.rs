//! E-mail through a real SMTP server: `mail test`, outage then `mail flush`.

#![expect(clippy::unwrap_used, reason = "tests")]

mod common;

use common::Sesame;
use sesame_testkit::SmtpServer;
use std::net::TcpListener;

fn with_smtp(port: u16) -> Sesame {
    Sesame::new()
        .env("SESAME_MAIL__TRANSPORT", "smtp")
        .env("SESAME_MAIL__SMTP__HOST", "127.0.0.1")
        .env("SESAME_MAIL__SMTP__PORT", port.to_string())
        .env("SESAME_MAIL__SMTP__SECURITY", "none")
        .env("SESAME_MAIL__SMTP__TIMEOUT_SECS", "3")
        .env("SESAME_MAIL__FROM", "Norm'uni <ne-pas-repondre@norm-uni.fr>")
        .env("SESAME_BRANDING__PORTAL_NAME", "Norm'uni")
        .env("SESAME_BRANDING__ORGANISATION_NAME", "Normand'e-santé")
        .env("SESAME_BRANDING__SUPPORT_PHONE", "02 50 53 70 01")
}

#[test]
fn mail_test_sends_one_message_through_smtp() {
    let server = SmtpServer::start();
    let run = with_smtp(server.addr.port()).run(&["mail", "test", "--to", "ops@example.fr"]).ok();
    assert!(run.stdout.contains("Test message sent to ops@example.fr (SMTP 127.0.0.1:"), "{}", run.stdout);
    let got = server.wait_for(1);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].subject(), "Norm'uni : message de test");
    let text = got[0].text().replace("\r\n", "\n");
    assert!(text.contains("Normand'e-santé\nTél : 02 50 53 70 01"), "{text}");
}

#[test]
fn mail_test_reports_an_unreachable_relay_and_bad_recipients() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let run = with_smtp(port).run(&["mail", "test", "--to", "ops@example.fr"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("the test message could not be sent"), "{}", run.stderr);
    with_smtp(port).run(&["mail", "test", "--to", "nope"]).bad_input();
}

#[test]
fn accounts_created_while_smtp_is_down_are_delivered_once_it_is_back() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let sesame = with_smtp(port).env("SESAME_MAIL__RETRY_BASE_SECS", "1");
    let run = sesame
        .run(&["account", "create", "--email", "jeanne@example.fr", "--first-name", "Jeanne", "--last-name", "Dupont"])
        .ok();
    assert!(
        run.stdout.contains("Queued two e-mails (identifier, temporary password); delivery failed for now"),
        "{}",
        run.stdout
    );
    // Right after the failed attempt nothing is due: the backoff delay runs.
    let flush = sesame.run(&["mail", "flush"]).ok();
    assert!(
        flush.stdout.contains("Delivered 0, deferred 0, dropped 0; 2 message(s) still queued."),
        "{}",
        flush.stdout
    );
    // Once due, the relay is still down: the flush fails and keeps them.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let flush = sesame.run(&["mail", "flush"]);
    assert_eq!(flush.code, 1, "{}", flush.stdout);
    assert!(flush.stderr.contains("2 message(s) could not be delivered and stay queued"), "{}", flush.stderr);

    let server = SmtpServer::start_on(TcpListener::bind(("127.0.0.1", port)).unwrap(), None);
    std::thread::sleep(std::time::Duration::from_millis(2100)); // past the second (2 s) backoff
    let flush = sesame.run(&["mail", "flush"]).ok();
    assert!(
        flush.stdout.contains("Delivered 2, deferred 0, dropped 0; 0 message(s) still queued."),
        "{}",
        flush.stdout
    );
    sesame.run(&["mail", "flush"]).ok();
    let got = server.wait_for(2);
    assert_eq!(got.len(), 2, "both delivered, neither twice");
    assert_eq!(got[0].subject(), "Norm'uni : votre identifiant de connexion");
    assert_eq!(got[1].subject(), "Norm'uni : votre mot de passe provisoire");
    assert!(got.iter().all(|m| m.to == ["jeanne@example.fr"]));
}
