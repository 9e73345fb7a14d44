//! `sesame audit`

use sesame_core::audit::AuditFilter;
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime};

use super::format_utc;
use crate::app;
use crate::cli::AuditArgs;
use crate::config::Config;
use crate::error::CliError;

pub async fn run(config: &Config, args: AuditArgs) -> Result<(), CliError> {
    let since = args.since.as_deref().map(|s| parse_time("--since", s)).transpose()?;
    let until = args.until.as_deref().map(|s| parse_time("--until", s)).transpose()?;
    let store = app::open_store(config).await?;
    let account_id = match &args.account {
        Some(reference) => Some(app::accounts(config, &store, &app::clock())?.find(reference).await?.id),
        None => None,
    };
    let events = store.audit_events(&AuditFilter { account_id, since, until, limit: args.limit }).await?;
    for e in &events {
        if args.json {
            println!("{}", serde_json::to_string(e).map_err(|err| CliError::Runtime(err.to_string()))?);
        } else {
            let details = if e.details.is_null() { String::new() } else { e.details.to_string() };
            println!(
                "{}  {:<26} {:<8} {:<16} {:<14} {}  {}",
                format_utc(e.at),
                e.action,
                e.outcome,
                e.actor,
                e.account_identifier.as_deref().unwrap_or("-"),
                e.ip.as_deref().unwrap_or("-"),
                details
            );
        }
    }
    Ok(())
}

fn parse_time(flag: &str, text: &str) -> Result<OffsetDateTime, CliError> {
    if let Ok(t) = OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(t);
    }
    Date::parse(text, time::macros::format_description!("[year]-[month]-[day]"))
        .map(|d| d.midnight().assume_utc())
        .map_err(|_| {
            CliError::bad(format!(
                "{flag}: '{text}' is neither a date (2026-11-24) nor an RFC 3339 time (2026-11-24T08:00:00Z)"
            ))
        })
}
