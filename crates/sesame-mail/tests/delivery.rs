//! The outbox worker against a real SMTP server started inside the test.

#![expect(clippy::unwrap_used, reason = "tests")]

use secrecy::SecretString;
use sesame_core::branding::Branding;
use sesame_core::clock::ManualClock;
use sesame_core::keys::Sealer;
use sesame_core::mail::{IssueReason, MailMessage, OutboxMail};
use sesame_core::store::Store;
use sesame_core::types::Email;
use sesame_mail::transport::Envelope;
use sesame_mail::{
    Catalogue, FileTransport, MailSettings, OutboxWorker, SmtpSecurity, SmtpSettings, SmtpTransport, Transport,
};
use sesame_store::{StoreOptions, connect_and_migrate};
use sesame_testkit::SmtpServer;
use std::collections::HashSet;
use std::net::TcpListener;
use std::sync::Arc;
use time::Duration;
use time::macros::datetime;

async fn sqlite_store(dir: &tempfile::TempDir) -> Arc<dyn Store> {
    let url = format!("sqlite://{}", dir.path().join("sesame.db").display());
    connect_and_migrate(&url, &StoreOptions::default(), Sealer::ephemeral()).await.unwrap()
}

fn mail(i: usize) -> OutboxMail {
    OutboxMail {
        account_id: None,
        to: Email::parse(&format!("user{i}@example.fr")).unwrap(),
        to_name: format!("Utilisateur {i}"),
        message: MailMessage::IdentifierIssued {
            first_name: "Jeanne".into(),
            last_name: format!("Dupont {i}"),
            identifier: format!("jdupont{i}"),
            reason: IssueReason::AccountCreated,
        },
    }
}

async fn enqueue(store: &Arc<dyn Store>, n: usize) {
    let mut tx = store.begin().await.unwrap();
    for i in 0..n {
        tx.enqueue_mail(&mail(i), datetime!(2026-11-24 10:00 UTC)).await.unwrap();
    }
    tx.commit().await.unwrap();
}

fn smtp_settings(port: u16) -> SmtpSettings {
    SmtpSettings {
        host: "127.0.0.1".into(),
        port: Some(port),
        security: SmtpSecurity::None,
        timeout_secs: 5,
        ..SmtpSettings::default()
    }
}

fn worker(store: &Arc<dyn Store>, clock: &Arc<ManualClock>, transport: Arc<dyn Transport>) -> OutboxWorker {
    let catalogue = Arc::new(Catalogue::new(Branding::default(), "http://localhost:8080"));
    let settings = MailSettings { from: "Portail <noreply@example.fr>".into(), ..MailSettings::default() };
    OutboxWorker::new(Arc::clone(store), clock.clone(), catalogue, transport, &settings)
}

#[tokio::test]
async fn an_smtp_outage_loses_nothing_and_doubles_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(&dir).await;
    let clock = Arc::new(ManualClock::new(datetime!(2026-11-24 10:00 UTC)));
    // A port nobody listens on: the relay is down.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let transport = Arc::new(SmtpTransport::new(&smtp_settings(port)).unwrap());
    let worker = worker(&store, &clock, transport);
    enqueue(&store, 3).await;

    let report = worker.flush().await.unwrap();
    assert_eq!((report.sent, report.deferred), (0, 3));
    assert_eq!(store.pending_mail_count().await.unwrap(), 3, "nothing is lost while SMTP is down");
    assert_eq!(worker.flush().await.unwrap().deferred, 0, "not retried before the backoff delay");

    // The relay comes back on the same port.
    let server = SmtpServer::start_on(TcpListener::bind(("127.0.0.1", port)).unwrap(), None);
    clock.advance(Duration::seconds(30));
    let report = worker.flush().await.unwrap();
    assert_eq!((report.sent, report.deferred), (3, 0));
    assert_eq!(store.pending_mail_count().await.unwrap(), 0);

    clock.advance(Duration::days(1));
    assert_eq!(worker.flush().await.unwrap().sent, 0);
    let received = server.wait_for(3);
    assert_eq!(received.len(), 3, "each message delivered exactly once");
    let subjects: Vec<_> = received.iter().map(sesame_testkit::ReceivedMail::subject).collect();
    assert!(subjects.iter().all(|s| s == "Portail e-santé : votre identifiant de connexion"), "{subjects:?}");
    assert!(received[0].text().contains("Votre identifiant de connexion est : jdupont0"));
    assert!(received[0].html().contains("<strong"));
    assert_eq!(received[0].to, ["user0@example.fr"]);

    // The audit trail records the first deferral and the delivery.
    let actions: Vec<_> =
        store.audit_events(&Default::default()).await.unwrap().into_iter().map(|e| e.action).collect();
    assert_eq!(actions.iter().filter(|a| *a == "mail_deferred").count(), 3);
    assert_eq!(actions.iter().filter(|a| *a == "mail_sent").count(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_on_postgres_send_each_message_once() {
    let url = sesame_testkit::postgres_database_url().await;
    // Nodes of a cluster share the key file.
    let sealer = Sealer::ephemeral();
    let store = connect_and_migrate(&url, &StoreOptions::default(), sealer.clone()).await.unwrap();
    let clock = Arc::new(ManualClock::new(datetime!(2026-11-24 10:00 UTC)));
    let server = SmtpServer::start();
    enqueue(&store, 30).await;
    let transport: Arc<dyn Transport> = Arc::new(SmtpTransport::new(&smtp_settings(server.addr.port())).unwrap());
    // Two "nodes": separate pools on the same database, flushing at the same time.
    let other_store = connect_and_migrate(&url, &StoreOptions::default(), sealer).await.unwrap();
    let (a, b) = (worker(&store, &clock, Arc::clone(&transport)), worker(&other_store, &clock, transport));
    // Bounded, and telling what each side waits for if it ever stalls.
    let flushed =
        tokio::time::timeout(std::time::Duration::from_secs(60), async { tokio::join!(a.flush(), b.flush()) });
    let Ok((ra, rb)) = flushed.await else {
        let pending = store.pending_mail_count().await;
        panic!(
            "the two workers did not finish in 60 s: {} message(s) received, pending: {pending:?}",
            server.received().len()
        );
    };
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(ra.sent + rb.sent, 30);
    let received = server.wait_for(30);
    assert_eq!(received.len(), 30);
    let recipients: HashSet<_> = received.iter().flat_map(|m| m.to.clone()).collect();
    assert_eq!(recipients.len(), 30, "no message sent twice");
}

#[tokio::test]
async fn starttls_and_authentication_are_used_when_configured() {
    let (server, ca_pem) = SmtpServer::start_tls(("sesame".into(), "relay-secret".into()));
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("relay-ca.pem");
    std::fs::write(&ca_file, ca_pem).unwrap();
    let good = SmtpSettings {
        security: SmtpSecurity::Starttls,
        username: Some("sesame".into()),
        password: Some(SecretString::from("relay-secret")),
        ca_file: Some(ca_file),
        ..smtp_settings(server.addr.port())
    };
    let wrong_password = SmtpSettings { password: Some(SecretString::from("wrong")), ..good.clone() };
    let untrusted = SmtpSettings { ca_file: None, ..good.clone() };
    let catalogue = Catalogue::new(Branding::default(), "http://localhost:8080");
    let rendered = catalogue.render(&MailMessage::Test).unwrap();
    let message =
        sesame_mail::message::build("noreply@example.fr", "a@example.fr", "", &rendered, std::time::SystemTime::now())
            .unwrap();
    let envelope = Envelope { outbox_id: None, kind: "test" };

    let err = SmtpTransport::new(&wrong_password).unwrap().send(&message, envelope).await.unwrap_err();
    assert!(!err.to_string().contains("wrong"), "the password never appears in errors: {err}");
    assert!(
        SmtpTransport::new(&untrusted).unwrap().send(&message, envelope).await.is_err(),
        "an unknown certificate is refused"
    );
    assert!(server.received().is_empty());
    SmtpTransport::new(&good).unwrap().send(&message, envelope).await.unwrap();
    let received = server.wait_for(1);
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].subject(), "Portail e-santé : message de test");
}

#[tokio::test]
async fn the_file_transport_writes_private_complete_eml_files() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(&dir).await;
    let clock = Arc::new(ManualClock::new(datetime!(2026-11-24 10:00 UTC)));
    let outbox = dir.path().join("outbox");
    let worker = worker(&store, &clock, Arc::new(FileTransport::new(&outbox)));
    enqueue(&store, 2).await;
    assert_eq!(worker.flush().await.unwrap().sent, 2);
    let mut files: Vec<_> = std::fs::read_dir(&outbox).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    assert_eq!(files.len(), 2, "{files:?}");
    for f in &files {
        assert!(f.extension().is_some_and(|e| e == "eml"));
        assert_eq!(std::fs::metadata(f).unwrap().permissions().mode() & 0o777, 0o600);
        let raw = std::fs::read(f).unwrap();
        let parsed = mail_parser::MessageParser::default().parse(&raw).unwrap();
        assert_eq!(parsed.subject(), Some("Portail e-santé : votre identifiant de connexion"));
    }
    assert!(files[0].file_name().unwrap().to_string_lossy().ends_with("-000001-identifier_issued.eml"));
}

fn temporary_password_mail() -> OutboxMail {
    OutboxMail {
        account_id: None,
        to: Email::parse("jeanne@example.fr").unwrap(),
        to_name: "Jeanne Dupont".into(),
        message: MailMessage::TemporaryPassword {
            first_name: "Jeanne".into(),
            last_name: "Dupont".into(),
            temporary_password: "Xk7pQ2mN9rT4vW8yZ3bC".into(),
            valid_until: datetime!(2026-12-01 10:00 UTC),
            valid_days: 7,
            reason: IssueReason::AccountCreated,
        },
    }
}

#[tokio::test]
async fn a_message_sealed_with_a_key_this_node_lacks_waits_then_is_dropped_never_sent_garbled() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("sesame.db").display());
    // Node A seals; node B has another key file (a mistake, or the key was lost).
    let a = connect_and_migrate(&url, &StoreOptions::default(), Sealer::ephemeral()).await.unwrap();
    let b = connect_and_migrate(&url, &StoreOptions::default(), Sealer::ephemeral()).await.unwrap();
    let mut tx = a.begin().await.unwrap();
    tx.enqueue_mail(&temporary_password_mail(), datetime!(2026-11-24 10:00 UTC)).await.unwrap();
    tx.commit().await.unwrap();
    let clock = Arc::new(ManualClock::new(datetime!(2026-11-24 10:00 UTC)));
    let server = SmtpServer::start();
    let transport: Arc<dyn Transport> = Arc::new(SmtpTransport::new(&smtp_settings(server.addr.port())).unwrap());
    let node_b = worker(&b, &clock, Arc::clone(&transport));

    // Within the grace period it may be another node's fresh key: retried, not dropped.
    let report = node_b.flush().await.unwrap();
    assert_eq!((report.sent, report.deferred, report.dropped), (0, 1, 0));
    clock.advance(sesame_mail::worker::UNREADABLE_GRACE + Duration::minutes(1));
    let report = node_b.flush().await.unwrap();
    assert_eq!((report.sent, report.deferred, report.dropped), (0, 0, 1), "dropped after the grace period");
    assert_eq!(b.pending_mail_count().await.unwrap(), 0);
    clock.advance(Duration::days(1));
    assert_eq!(worker(&a, &clock, transport).flush().await.unwrap().sent, 0, "a dropped message stays dropped");
    assert!(server.received().is_empty(), "nothing was sent garbled");
    let events = b.audit_events(&Default::default()).await.unwrap();
    let dropped = events.iter().find(|e| e.action == "mail_dropped").expect("audited");
    assert_eq!(dropped.details["kind"], "temporary_password");
    assert!(dropped.details["reason"].as_str().unwrap().contains("not in the key ring"));
}

#[tokio::test]
async fn nodes_sharing_the_key_file_open_each_others_messages() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("sesame.db").display());
    let shared = Sealer::ephemeral();
    let a = connect_and_migrate(&url, &StoreOptions::default(), shared.clone()).await.unwrap();
    let b = connect_and_migrate(&url, &StoreOptions::default(), shared).await.unwrap();
    let mut tx = a.begin().await.unwrap();
    tx.enqueue_mail(&temporary_password_mail(), datetime!(2026-11-24 10:00 UTC)).await.unwrap();
    tx.commit().await.unwrap();
    let clock = Arc::new(ManualClock::new(datetime!(2026-11-24 10:00 UTC)));
    let server = SmtpServer::start();
    let transport: Arc<dyn Transport> = Arc::new(SmtpTransport::new(&smtp_settings(server.addr.port())).unwrap());
    assert_eq!(worker(&b, &clock, transport).flush().await.unwrap().sent, 1);
    let got = server.wait_for(1);
    assert!(got[0].text().contains("Xk7pQ2mN9rT4vW8yZ3bC"), "opened intact by the other node");
}
