//! `sesame config check` and `sesame config show`.

use std::path::Path;

use crate::cli::ConfigCommand;
use crate::error::CliError;

/// What `second_factor.required` means, as `config check` explains it.
fn second_factor(required: sesame_core::factors::Requirement) -> &'static str {
    match required {
        sesame_core::factors::Requirement::Never => {
            "never: asked of those who enrolled one; a password alone does not meet the PGSSI-S référentiel for remote access to health data"
        }
        sesame_core::factors::Requirement::Always => {
            "always: every account enrols one right after its first connection, and reaches nothing else until it has"
        }
    }
}

/// Whether security keys and passkeys are offered with this `public_url`, and why not.
fn security_keys(public_url: &str, portal_name: &str) -> String {
    match sesame_core::factors::relying_party(public_url, portal_name) {
        Ok(party) => {
            format!("offered (WebAuthn relying party {})", party.get_allowed_origins()[0].host_str().unwrap_or(""))
        }
        Err(reason) => format!("not offered: public_url {reason}"),
    }
}

pub fn run(command: &ConfigCommand, file: Option<&Path>) -> Result<(), CliError> {
    let checked = crate::config::check(file);
    match command {
        ConfigCommand::Show => {
            if !checked.errors.is_empty() {
                return Err(CliError::bad("the configuration is invalid: run `sesame config check`"));
            }
            print!("{}", checked.config.to_toml());
            Ok(())
        }
        ConfigCommand::Check => {
            println!("Configuration read from: {}.", checked.sources.join(", "));
            for warning in &checked.warnings {
                println!("warning: {warning}");
            }
            for error in &checked.errors {
                println!("error: {error}");
            }
            match checked.errors.len() {
                0 => {
                    let c = &checked.config;
                    println!("The configuration is valid.");
                    println!("  listen:     {}", c.listen);
                    println!("  public URL: {}", c.public_url);
                    println!("  database:   {}", sesame_store::redact_url(&c.database_url()));
                    println!("  e-mail:     {}", crate::app::transport(c).map(|t| t.describe()).unwrap_or_default());
                    println!("  second factor: {}", second_factor(c.second_factor.required));
                    println!("  security keys: {}", security_keys(&c.public_url, &c.branding.portal_name));
                    Ok(())
                }
                1 => Err(CliError::bad("the configuration has 1 problem")),
                n => Err(CliError::bad(format!("the configuration has {n} problems"))),
            }
        }
    }
}
