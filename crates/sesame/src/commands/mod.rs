//! One module per command group; each parses its input, calls the use cases, prints.

mod account;
mod audit;
mod backup;
mod client;
mod config;
mod keys;
mod login;
mod mail;
mod secrets;
mod serve;

use std::io::IsTerminal as _;
use time::OffsetDateTime;
use time::macros::format_description;

use crate::cli::{Cli, Command};
use crate::config::{Config, LogFormat};
use crate::error::CliError;

pub async fn run(cli: Cli) -> Result<(), CliError> {
    let file = cli.config.as_deref();
    if let Command::Config(command) = &cli.command {
        return config::run(command, file);
    }
    // `secrets rotate` creates the named key file that the configuration otherwise requires.
    let creates_key_file = matches!(cli.command, Command::Secrets(crate::cli::SecretsCommand::Rotate));
    let config = load(file, creates_key_file)?;
    init_tracing(&config, matches!(cli.command, Command::Serve));
    match cli.command {
        Command::Serve => serve::run(&config).await,
        Command::Migrate => {
            let store = crate::app::open_store(&config).await?;
            println!("Database schema is up to date ({}).", store.backend());
            Ok(())
        }
        Command::Config(_) => Ok(()),
        Command::Account(command) => account::run(&config, command).await,
        Command::Client(command) => client::run(&config, command).await,
        Command::Keys(command) => keys::run(&config, command).await,
        Command::Mail(command) => mail::run(&config, command).await,
        Command::Secrets(command) => secrets::run(&config, command).await,
        Command::Backup { file } => backup::run(&config, &file).await,
        Command::Audit(args) => audit::run(&config, args).await,
        Command::Login(args) => login::run(&config, args).await,
    }
}

/// The configuration, or every problem in it as one error (exit code 2).
pub fn load(file: Option<&std::path::Path>, creates_key_file: bool) -> Result<Config, CliError> {
    let mut checked = crate::config::check(file);
    if creates_key_file {
        let missing = crate::keyfile::missing(&checked.config.key_file().0);
        checked.errors.retain(|p| !(p.key == "secrets.key_file" && p.reason == missing));
    }
    if checked.errors.is_empty() {
        return Ok(checked.config);
    }
    let list: Vec<String> = checked.errors.iter().map(|p| format!("  - {p}")).collect();
    Err(CliError::bad(format!(
        "the configuration is invalid:\n{}\n(run `sesame config check` for details)",
        list.join("\n")
    )))
}

/// The server logs at the configured level; other commands only warnings, on standard error,
/// so that their output stays readable. `SESAME_LOG` overrides both.
fn init_tracing(config: &Config, server: bool) {
    use tracing_subscriber::EnvFilter;
    let default = if server { config.log.level.as_str() } else { "warn" };
    let mut filter = EnvFilter::try_from_env("SESAME_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    if !config.audit.log
        && let Ok(off) = "audit=off".parse()
    {
        filter = filter.add_directive(off);
    }
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match config.log.format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).try_init(),
    };
}

/// `2026-12-01 10:00:00 UTC`.
pub fn format_utc(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC"))
        .unwrap_or_else(|_| t.to_string())
}

/// Asks the operator to type `expected` before a destructive action, unless `yes`.
pub fn confirm(action: &str, expected: &str, yes: bool) -> Result<(), CliError> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(CliError::bad(format!("refusing to {action} without confirmation: add --yes")));
    }
    eprint!("This will {action}. Type '{expected}' to confirm: ");
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer).map_err(|e| CliError::Runtime(e.to_string()))?;
    if answer.trim() == expected { Ok(()) } else { Err(CliError::bad("not confirmed; nothing was changed")) }
}
