//! Secrets at rest, from the outside: while e-mails wait for an SMTP relay that is down, neither
//! the temporary password nor the reset link's token is anywhere in the database's bytes (file,
//! WAL, `sesame backup`, `pg_dump`); once the relay is back both e-mails arrive intact. And the
//! key file: created private, required when named, rotated and pruned.

#![expect(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use common::{Server, Sesame, start};
use sesame_testkit::SmtpServer;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

const JEANNE: &[&str] = &[
    "account",
    "create",
    "--email",
    "jeanne.dupont@example.fr",
    "--first-name",
    "Jeanne",
    "--last-name",
    "Dupont",
    "--show-password",
];

/// A portal whose SMTP relay (on `port`) is down for now; no captcha, quick retries.
fn with_relay_down(port: u16) -> Sesame {
    Sesame::new()
        .env("SESAME_MAIL__TRANSPORT", "smtp")
        .env("SESAME_MAIL__SMTP__HOST", "127.0.0.1")
        .env("SESAME_MAIL__SMTP__PORT", port.to_string())
        .env("SESAME_MAIL__SMTP__SECURITY", "none")
        .env("SESAME_MAIL__SMTP__TIMEOUT_SECS", "2")
        .env("SESAME_MAIL__RETRY_BASE_SECS", "1")
        .env("SESAME_MAIL__RETRY_MAX_SECS", "1")
        .env("SESAME_MAIL__POLL_INTERVAL_SECS", "1")
        .env("SESAME_CAPTCHA__ENABLED", "false")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// Creates Jeanne's account (its e-mails cannot leave) and returns her temporary password.
fn create_jeanne(sesame: &Sesame) -> String {
    let run = sesame.run(JEANNE).ok();
    assert!(run.stdout.contains("delivery failed for now"), "{}", run.stdout);
    run.stdout.lines().find_map(|l| l.strip_prefix("Temporary password: ")).expect("--show-password").to_owned()
}

/// "Mot de passe oublié" through the running server.
async fn request_reset(server: &Server) {
    let browser = reqwest::Client::builder().cookie_store(true).build().unwrap();
    let form = browser.get(format!("{}/mot-de-passe-oublie", server.base)).send().await.unwrap().text().await.unwrap();
    let start = form.find("name=\"csrf\" value=\"").unwrap() + 19;
    let csrf = &form[start..start + form[start..].find('"').unwrap()];
    let sent = browser
        .post(format!("{}/mot-de-passe-oublie", server.base))
        .form(&[("csrf", csrf), ("identifiant", "jdupont")])
        .send()
        .await
        .unwrap();
    assert!(sent.text().await.unwrap().contains("Votre demande de changement de mot de passe est prise en compte"));
}

/// The token of the reset link in a delivered e-mail.
fn token_in(text: &str) -> String {
    let after = &text[text.find("jeton=").expect("a reset link") + 6..];
    after.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect()
}

/// Waits for the three e-mails (identifier, temporary password, reset link) and returns the
/// temporary password and the token they carry.
fn delivered_secrets(relay: &SmtpServer) -> (String, String) {
    let got = relay.wait_for(3);
    assert_eq!(got.len(), 3, "{:?}", got.iter().map(|m| m.subject()).collect::<Vec<_>>());
    let text = |subject: &str| {
        got.iter().find(|m| m.subject().contains(subject)).map(|m| m.text().replace("\r\n", "\n")).expect(subject)
    };
    let password_mail = text("mot de passe provisoire");
    let password = common::temporary_password_in(&password_mail);
    (password, token_in(&text("changement de mot de passe")))
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sqlite_no_queued_secret_is_in_the_database_wal_or_a_backup() {
    let port = free_port();
    let sesame = with_relay_down(port);
    let temporary = create_jeanne(&sesame);
    let key = sesame.path("data/secrets.key");
    assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600, "a private key file");
    let server = start(&sesame);
    request_reset(&server).await;
    // Everything is queued: take the bytes now, while the messages wait.
    sesame.run(&["backup", "copy.db"]).ok();
    let snapshots = [
        ("database", read(&sesame.path("data/sesame.db"))),
        ("WAL", read(&sesame.path("data/sesame.db-wal"))),
        ("backup", read(&sesame.path("copy.db"))),
    ];
    assert!(snapshots.iter().all(|(_, b)| !b.is_empty()), "the files were read");
    for (name, bytes) in &snapshots {
        assert!(!contains(bytes, &temporary), "the temporary password is in the {name}");
    }

    let relay = SmtpServer::start_on(TcpListener::bind(("127.0.0.1", port)).unwrap(), None);
    let (password, token) = delivered_secrets(&relay);
    assert_eq!(password, temporary, "the temporary password arrives intact");
    assert_eq!(token.len(), 43, "a whole 256-bit token: {token}");
    for (name, bytes) in &snapshots {
        assert!(!contains(bytes, &token), "the reset token is in the {name}");
    }
    // Nor afterwards.
    for file in ["data/sesame.db", "data/sesame.db-wal"] {
        let bytes = read(&sesame.path(file));
        assert!(!contains(&bytes, &temporary) && !contains(&bytes, &token), "{file} after delivery");
    }
    // And the link works: the token opened out of its seal is the real one.
    let plain = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let opened = plain.get(format!("{}/mot-de-passe-oublie/lien?jeton={token}", server.base)).send().await.unwrap();
    assert_eq!(opened.status(), 303);
}

fn pg_dump() -> std::path::PathBuf {
    if let Ok(bin) = std::env::var("SESAME_PG_BIN") {
        return Path::new(&bin).join("pg_dump");
    }
    let mut found: Vec<_> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.filter_map(Result::ok).map(|e| e.path().join("bin/pg_dump")).filter(|p| p.exists()).collect())
        .unwrap_or_default();
    found.sort();
    found.pop().unwrap_or_else(|| "pg_dump".into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_no_queued_secret_is_in_a_pg_dump() {
    let url = sesame_testkit::postgres_database_url().await;
    let port = free_port();
    let sesame = with_relay_down(port).env("SESAME_DATABASE_URL", &url).env("SESAME_SECRETS__KEY_FILE", "cluster.key");
    // A named key file must exist: the first node creates it, the others get a copy.
    let refused = sesame.run(JEANNE).bad_input();
    assert!(
        refused.stderr.contains("cluster.key does not exist: create it with `sesame secrets rotate`"),
        "{}",
        refused.stderr
    );
    assert!(sesame.run(&["secrets", "rotate"]).ok().stdout.contains("New sealing key"));
    let temporary = create_jeanne(&sesame);
    let server = start(&sesame);
    request_reset(&server).await;
    let dump = std::process::Command::new(pg_dump()).arg("--dbname").arg(&url).output().expect("pg_dump runs");
    assert!(dump.status.success(), "{}", String::from_utf8_lossy(&dump.stderr));
    assert!(contains(&dump.stdout, "outbox"), "the dump holds the outbox");
    assert!(!contains(&dump.stdout, &temporary), "the temporary password is in the dump");

    let relay = SmtpServer::start_on(TcpListener::bind(("127.0.0.1", port)).unwrap(), None);
    let (password, token) = delivered_secrets(&relay);
    assert_eq!(password, temporary);
    assert!(!contains(&dump.stdout, &token), "the reset token is in the dump");
}

#[test]
fn a_lost_key_leaves_messages_unopened_and_says_what_to_do() {
    let port = free_port();
    let sesame = with_relay_down(port);
    create_jeanne(&sesame);
    let status = sesame.run(&["secrets", "status"]).ok();
    assert!(status.stdout.contains("seals and opens; 1 sealed secret(s)"), "{}", status.stdout);
    // The key file is lost: the next command makes a new one, which cannot open the old seal.
    std::fs::remove_file(sesame.path("data/secrets.key")).unwrap();
    let status = sesame.run(&["secrets", "status"]);
    assert_eq!(status.code, 1, "{}", status.stdout);
    assert!(status.stdout.contains("NOT IN THE KEY FILE; 1 sealed secret(s)"), "{}", status.stdout);
    assert!(status.stderr.contains("issue new temporary passwords"), "{}", status.stderr);
    // Delivery never sends it garbled: it waits (another node may hold the key), then is dropped.
    let relay = SmtpServer::start_on(TcpListener::bind(("127.0.0.1", port)).unwrap(), None);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let flush = sesame.run(&["mail", "flush"]);
    assert_eq!(flush.code, 1, "{}", flush.stdout);
    assert!(flush.stdout.contains("Delivered 1, deferred 1, dropped 0"), "{}", flush.stdout);
    let got = relay.wait_for(1);
    assert_eq!(got.len(), 1, "only the identifier e-mail, which holds no secret");
    assert!(got[0].subject().contains("identifiant"));
    assert!(flush.stderr.contains("not in the key ring"), "the reason is logged: {}", flush.stderr);
}

#[test]
fn rotation_reseals_queued_secrets_and_prune_keeps_the_new_key_only() {
    let port = free_port();
    let sesame = with_relay_down(port);
    let temporary = create_jeanne(&sesame);
    let first = std::fs::read_to_string(sesame.path("data/secrets.key")).unwrap();
    let old_id = first.lines().find(|l| !l.starts_with('#')).unwrap().split(' ').next().unwrap().to_owned();
    let rotated = sesame.run(&["secrets", "rotate"]).ok();
    assert!(rotated.stdout.contains("Re-sealed 1 sealed secret(s)"), "{}", rotated.stdout);
    assert!(rotated.stdout.contains(&format!("Older key(s) {old_id} kept")), "{}", rotated.stdout);
    let status = sesame.run(&["secrets", "status"]).ok().stdout;
    assert!(status.contains(&format!("{old_id}  opens only; 0 sealed secret(s)")), "{status}");
    assert!(status.contains("seals and opens; 1 sealed secret(s)"), "{status}");
    assert!(sesame.run(&["secrets", "prune"]).bad_input().stderr.contains("add --yes"));
    let pruned = sesame.run(&["secrets", "prune", "--yes"]).ok();
    assert!(pruned.stdout.contains(&format!("Removed {old_id}")), "{}", pruned.stdout);
    let key = sesame.path("data/secrets.key");
    assert_eq!(std::fs::read_to_string(&key).unwrap().lines().filter(|l| !l.starts_with('#')).count(), 1);
    assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    // Still delivered intact under the new key.
    let relay = SmtpServer::start_on(TcpListener::bind(("127.0.0.1", port)).unwrap(), None);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    sesame.run(&["mail", "flush"]).ok();
    let got = relay.wait_for(2);
    let password_mail = got.iter().find(|m| m.subject().contains("provisoire")).unwrap().text().replace("\r\n", "\n");
    assert_eq!(common::temporary_password_in(&password_mail), temporary);
}

#[test]
fn a_key_file_others_can_read_or_a_malformed_one_is_refused() {
    let sesame = Sesame::new();
    sesame.run(&["migrate"]).ok();
    let key = sesame.path("data/secrets.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let run = sesame.run(&["account", "list"]).bad_input();
    assert!(run.stderr.contains("can be read by other users"), "{}", run.stderr);
    let check = sesame.run(&["config", "check"]);
    assert_eq!(check.code, 2);
    assert!(check.stdout.contains("secrets.key_file") || check.stderr.contains("secrets.key_file"));
    std::fs::write(&key, "k1 pas-une-cle\n").unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let run = sesame.run(&["account", "list"]).bad_input();
    assert!(run.stderr.contains("is not a valid key file: line 1"), "{}", run.stderr);
}
