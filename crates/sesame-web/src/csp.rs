//! Content-Security-Policy violation reports: browsers post them here (`report-to csp` with
//! `Reporting-Endpoints`, and `report-uri` for older ones). Each is logged at `warn`, briefly;
//! the body is small and the per-address limit keeps a page from flooding the log.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::Value;

use sesame_core::Services;
use sesame_core::limits::Attempt;

use crate::error::WebError;
use crate::request::Client;

/// A report is a few hundred bytes; a batch of them, a few kilobytes.
pub const BODY_LIMIT: usize = 16 * 1024;
/// Longest value logged for one field of a report.
const FIELD_CHARS: usize = 200;

/// `POST /csp-report`: always 204, whatever was sent (nothing is answered to a browser's
/// background report), unless the address is over its limit (429).
pub async fn report(State(services): State<Services>, client: Client, body: Bytes) -> Result<StatusCode, WebError> {
    if services.limits.hit(Attempt::CspReport, &client.ip_text()).await?.is_err() {
        return Ok(StatusCode::TOO_MANY_REQUESTS);
    }
    let Ok(value) = serde_json::from_slice::<Value>(&body) else {
        tracing::debug!(ip = %client.ip_text(), "unreadable CSP report ignored");
        return Ok(StatusCode::NO_CONTENT);
    };
    for violation in violations(&value) {
        tracing::warn!(
            ip = %client.ip_text(),
            document = %violation.document,
            directive = %violation.directive,
            blocked = %violation.blocked,
            "Content-Security-Policy violation reported"
        );
    }
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, PartialEq, Eq)]
struct Violation {
    document: String,
    directive: String,
    blocked: String,
}

/// The violations of a report in either format: the Reporting API's array of
/// `{"type": "csp-violation", "body": {…}}`, or `report-uri`'s `{"csp-report": {…}}`.
fn violations(value: &Value) -> Vec<Violation> {
    let field = |body: &Value, names: &[&str]| {
        let text = names.iter().find_map(|n| body.get(*n).and_then(Value::as_str)).unwrap_or("");
        text.chars().filter(|c| !c.is_control()).take(FIELD_CHARS).collect::<String>()
    };
    let read = |body: &Value| Violation {
        document: field(body, &["documentURL", "document-uri"]),
        directive: field(body, &["effectiveDirective", "effective-directive", "violated-directive"]),
        blocked: field(body, &["blockedURL", "blocked-uri"]),
    };
    match value {
        Value::Array(reports) => reports
            .iter()
            .filter(|r| r.get("type").and_then(Value::as_str) == Some("csp-violation"))
            .filter_map(|r| r.get("body"))
            .take(20)
            .map(read)
            .collect(),
        Value::Object(_) => value.get("csp-report").map(read).into_iter().collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn both_report_formats_are_read_and_long_values_cut() {
        let legacy = json!({ "csp-report": {
            "document-uri": "https://portail.example/connexion",
            "violated-directive": "script-src 'self'",
            "blocked-uri": "inline",
        }});
        assert_eq!(
            violations(&legacy),
            [Violation {
                document: "https://portail.example/connexion".into(),
                directive: "script-src 'self'".into(),
                blocked: "inline".into()
            }]
        );
        let modern = json!([
            { "type": "csp-violation", "body": {
                "documentURL": "https://portail.example/",
                "effectiveDirective": "img-src",
                "blockedURL": format!("https://tracker.example/{}", "x".repeat(500)),
            }},
            { "type": "deprecation", "body": {} },
        ]);
        let found = violations(&modern);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].directive, "img-src");
        assert_eq!(found[0].blocked.chars().count(), FIELD_CHARS);
        assert!(violations(&json!("nonsense")).is_empty());
    }
}
