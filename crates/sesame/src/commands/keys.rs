//! `sesame keys …`: the keys that sign the OpenID Connect tokens.

use serde_json::json;
use sesame_core::audit::RequestContext;
use sesame_core::oidc::keys::JWKS_MAX_AGE;
use sesame_core::oidc::{KeyInfo, KeyState, SigningKeys};
use time::Duration;

use super::{confirm, format_utc};
use crate::app;
use crate::cli::KeysCommand;
use crate::config::Config;
use crate::error::CliError;

pub async fn run(config: &Config, command: KeysCommand) -> Result<(), CliError> {
    let store = app::open_store(config).await?;
    let keys = app::services(config, &store, &app::clock())?.signing_keys;
    match command {
        KeysCommand::List { json } => list(&keys, json).await,
        KeysCommand::Rotate { activate_in, now } => {
            let delay = if now { Duration::ZERO } else { parse_duration(&activate_in)? };
            if !now && delay < JWKS_MAX_AGE {
                return Err(CliError::bad(format!(
                    "--activate-in {activate_in} is shorter than the {} minutes services may cache the key set: \
                     give at least 10m, or --now after a leak",
                    JWKS_MAX_AGE.whole_minutes()
                )));
            }
            let made = keys.rotate(delay, &RequestContext::cli()).await?;
            for key in &made {
                println!(
                    "New {} key {} published; it signs from {}.",
                    key.alg.as_str(),
                    key.kid,
                    format_utc(key.active_from)
                );
            }
            println!("The keys it replaces stay published for {} hours after that.", config.oidc.key_retention_hours);
            Ok(())
        }
        KeysCommand::Remove { kid, yes } => {
            confirm("withdraw this key (tokens it signed stop verifying)", &kid, yes)?;
            let key = keys.remove(&kid, &RequestContext::cli()).await?;
            println!("{} key {} withdrawn.", key.alg.as_str(), key.kid);
            Ok(())
        }
    }
}

async fn list(keys: &SigningKeys, json: bool) -> Result<(), CliError> {
    let all = keys.list().await?;
    if json {
        for key in &all {
            let (state, until) = state(key);
            println!(
                "{}",
                json!({
                    "kid": key.kid, "alg": key.alg.as_str(), "state": state,
                    "created_at": format_utc(key.created_at), "active_from": format_utc(key.active_from),
                    "published_until": until,
                })
            );
        }
        return Ok(());
    }
    if all.is_empty() {
        println!("No signing key yet: `sesame serve` generates them at its first start.");
        return Ok(());
    }
    println!("{:<44} {:<6} {:<10} {:<24} PUBLISHED UNTIL", "KID", "ALG", "STATE", "SIGNS FROM");
    for key in &all {
        let (state, until) = state(key);
        println!(
            "{:<44} {:<6} {:<10} {:<24} {}",
            key.kid,
            key.alg.as_str(),
            state,
            format_utc(key.active_from),
            until.unwrap_or_else(|| "-".into())
        );
    }
    Ok(())
}

fn state(key: &KeyInfo) -> (&'static str, Option<String>) {
    match key.state {
        KeyState::Next => ("next", None),
        KeyState::Signing => ("signing", None),
        KeyState::Retired { remove_after } => ("retired", Some(format_utc(remove_after))),
        KeyState::Unreadable => ("unreadable", None),
    }
}

/// `90m`, `1h`, `2d`, `30s`: a whole number and a unit.
fn parse_duration(text: &str) -> Result<Duration, CliError> {
    let text = text.trim();
    let bad = || CliError::bad(format!("'{text}' is not a duration: write a number and a unit, e.g. 90m, 1h or 2d"));
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (number, unit) = text.split_at(split);
    let n: i64 = number.parse().map_err(|_| bad())?;
    let duration = match unit {
        "s" => Duration::seconds(n),
        "m" => Duration::minutes(n),
        "h" => Duration::hours(n),
        "d" => Duration::days(n),
        _ => return Err(bad()),
    };
    if duration > Duration::days(90) {
        return Err(CliError::bad(format!("--activate-in {text}: at most 90 days")));
    }
    Ok(duration)
}
