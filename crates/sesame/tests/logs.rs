//! What `sesame serve` writes to its log for operators and their SIEM: one structured event per
//! audit event (target `audit`), never a secret; Content-Security-Policy reports.

#![expect(clippy::unwrap_used, reason = "tests")]

mod common;

use common::{Sesame, read_eml, start_with_log, temporary_password_in};
use serde_json::Value;
use std::time::{Duration, Instant};

const JEANNE: &[&str] =
    &["account", "create", "--email", "jeanne.dupont@example.fr", "--first-name", "Jeanne", "--last-name", "Dupont"];

/// The JSON lines of the log file so far.
fn log_lines(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path).unwrap().lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

/// Waits until the log has a line for which `found` holds, and returns every line.
async fn wait_for(path: &std::path::Path, found: impl Fn(&Value) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let lines = log_lines(path);
        if lines.iter().any(&found) {
            return lines;
        }
        assert!(Instant::now() < deadline, "not in the log:\n{}", std::fs::read_to_string(path).unwrap());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn audit(lines: &[Value], kind: &str) -> Vec<Value> {
    lines
        .iter()
        .filter(|l| l["target"] == "audit" && l["fields"]["kind"] == kind)
        .map(|l| l["fields"].clone())
        .collect()
}

async fn sign_in(base: &str, password: &str) -> reqwest::Response {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{base}/api/v1/sessions"))
        .header("x-request-id", "essai-42")
        .json(&serde_json::json!({ "identifier": "jdupont", "password": password }))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn every_audit_event_is_also_one_json_log_line_without_secrets() {
    let sesame = Sesame::new().env("SESAME_LOG__FORMAT", "json");
    sesame.run(JEANNE).ok();
    let temporary = temporary_password_in(&read_eml(&sesame.outbox()[1]).1);
    let log = sesame.path("serve.log");
    let server = start_with_log(&sesame, std::fs::File::create(&log).unwrap());

    assert_eq!(sign_in(&server.base, "pas le bon mot de passe").await.status(), 401);
    assert_eq!(sign_in(&server.base, &temporary).await.status(), 403, "password change required");
    let lines = wait_for(&log, |l| l["fields"]["kind"] == "login_succeeded").await;

    let failed = audit(&lines, "login_failed");
    assert_eq!(failed.len(), 1, "{lines:?}");
    assert_eq!(failed[0]["outcome"], "failure");
    assert_eq!(failed[0]["actor"], "anonymous");
    assert_eq!(failed[0]["account"], "jdupont");
    assert_eq!(failed[0]["ip"], "127.0.0.1");
    assert_eq!(failed[0]["request_id"], "essai-42");
    assert!(failed[0]["details"].as_str().unwrap().contains("wrong_password"));
    let succeeded = audit(&lines, "login_succeeded");
    assert_eq!(
        (succeeded[0]["outcome"].as_str(), succeeded[0]["account"].as_str()),
        (Some("success"), Some("jdupont"))
    );
    assert!(succeeded.iter().all(|l| l["account_id"].as_i64().is_some()));

    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains(&temporary), "no password in the log");
    assert!(!text.contains("jeanne.dupont@example.fr"), "no full e-mail address in the log");
    // The trail in the database records the same request id.
    let trail = sesame.run(&["audit", "--json"]).ok().stdout;
    assert!(
        trail.lines().any(|l| l.contains("\"login_failed\"") && l.contains("\"request_id\":\"essai-42\"")),
        "{trail}"
    );
}

#[tokio::test]
async fn audit_log_lines_can_be_turned_off_and_the_trail_is_kept() {
    let sesame = Sesame::new().env("SESAME_LOG__FORMAT", "json").env("SESAME_AUDIT__LOG", "false");
    sesame.run(JEANNE).ok();
    let log = sesame.path("serve.log");
    let server = start_with_log(&sesame, std::fs::File::create(&log).unwrap());
    wait_for(&log, |l| l["fields"]["message"] == "Sésame is ready").await;
    assert_eq!(sign_in(&server.base, "pas le bon mot de passe").await.status(), 401);
    // The event is committed before the answer; give the log a moment all the same.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let lines = log_lines(&log);
    assert!(lines.iter().any(|l| l["fields"]["message"] == "Sésame is ready"), "the log itself works");
    assert!(lines.iter().all(|l| l["target"] != "audit"), "{lines:?}");
    let trail = sesame.run(&["audit", "--json"]).ok().stdout;
    assert!(trail.contains("\"login_failed\""), "the database trail does not depend on the log");
}

#[tokio::test]
async fn content_security_policy_reports_are_logged_as_warnings() {
    let sesame = Sesame::new().env("SESAME_LOG__FORMAT", "json");
    let log = sesame.path("serve.log");
    let server = start_with_log(&sesame, std::fs::File::create(&log).unwrap());
    let report = serde_json::json!({ "csp-report": {
        "document-uri": format!("{}/connexion", server.base),
        "violated-directive": "script-src 'self'",
        "blocked-uri": "https://tiers.example/pisteur.js",
    }});
    let sent = reqwest::Client::new()
        .post(format!("{}/csp-report", server.base))
        .header("content-type", "application/csp-report")
        .body(report.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 204);
    let lines = wait_for(&log, |l| l["fields"]["message"] == "Content-Security-Policy violation reported").await;
    let line = lines.iter().find(|l| l["fields"]["message"] == "Content-Security-Policy violation reported").unwrap();
    assert_eq!(line["level"], "WARN");
    assert_eq!(line["fields"]["blocked"], "https://tiers.example/pisteur.js");
    assert_eq!(line["fields"]["directive"], "script-src 'self'");
}
