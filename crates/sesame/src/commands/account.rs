//! `sesame account …`

use serde_json::json;
use sesame_core::accounts::{CreateAccount, IssuedPassword};
use sesame_core::audit::RequestContext;
use sesame_core::model::{Account, AccountFilter, AccountStatus};
use sesame_core::store::Store;
use sesame_core::types::{Email, Identifier, NationalId, PersonName};
use std::sync::Arc;
use std::time::Duration;

use super::{confirm, format_utc};
use crate::app;
use crate::cli::{AccountCommand, CreateArgs, StatusArg};
use crate::config::Config;
use crate::error::CliError;

pub async fn run(config: &Config, command: AccountCommand) -> Result<(), CliError> {
    // Parse before touching the database: bad input changes nothing.
    let create = match &command {
        AccountCommand::Create(args) => Some(parse_create(args)?),
        _ => None,
    };
    let store = app::open_store(config).await?;
    let clock = app::clock();
    let accounts = app::accounts(config, &store, &clock)?;
    let ctx = RequestContext::cli();
    match command {
        AccountCommand::Create(args) => {
            let request = create.ok_or_else(|| CliError::Runtime("internal: parsed request missing".into()))?;
            let issued = accounts.create_account(request, &ctx).await?;
            let a = &issued.account;
            println!("Created account {} ({} <{}>).", a.identifier, a.display_name(), a.email);
            report_issued(config, &store, &issued, args.show_password).await
        }
        AccountCommand::Show { account, json } => {
            let account = accounts.find(&account).await?;
            let credential = store.password_credential(account.id).await?;
            let password = match &credential {
                None => "none".to_owned(),
                Some(c) => match c.temporary_until {
                    Some(until) => format!("temporary, valid until {}", format_utc(until)),
                    None => format!("personal, set {}", format_utc(c.changed_at)),
                },
            };
            if json {
                let mut value = account_json(&account);
                value["password"] = json!(password);
                println!("{value}");
            } else {
                println!("Identifier:   {}", account.identifier);
                println!("Name:         {}", account.display_name());
                println!("E-mail:       {}", account.email);
                println!(
                    "National id:  {}",
                    account.national_id.as_ref().map_or_else(|| "-".to_owned(), ToString::to_string)
                );
                println!("Status:       {}", account.status.as_str());
                println!("Password:     {password}");
                println!("Created:      {}", format_utc(account.created_at));
                println!("Updated:      {}", format_utc(account.updated_at));
                println!("Id:           #{}", account.id);
                for (fingerprint, subject) in store.certificates_of(account.id).await? {
                    println!("Certificate:  {subject} (SHA-256 {fingerprint})");
                }
            }
            Ok(())
        }
        AccountCommand::List { status, search, limit, json } => {
            let status = status.map(|s| match s {
                StatusArg::Active => AccountStatus::Active,
                StatusArg::Disabled => AccountStatus::Disabled,
            });
            let list = store.list_accounts(&AccountFilter { status, search, limit }).await?;
            if json {
                for a in &list {
                    println!("{}", account_json(a));
                }
            } else {
                println!("{:<20} {:<9} {:<32} NAME", "IDENTIFIER", "STATUS", "E-MAIL");
                for a in &list {
                    println!(
                        "{:<20} {:<9} {:<32} {}",
                        a.identifier.as_str(),
                        a.status.as_str(),
                        a.email.as_str(),
                        a.display_name()
                    );
                }
                println!("{} account(s).", list.len());
            }
            Ok(())
        }
        AccountCommand::ResetPassword { account, show_password, yes } => {
            let account = accounts.find(&account).await?;
            let action =
                format!("replace the password of {} with a temporary one and end all its sessions", account.identifier);
            confirm(&action, account.identifier.as_str(), yes)?;
            let issued = accounts.reset_password(account.id, &ctx).await?;
            println!(
                "Issued a temporary password for {}; its sessions, tokens and reset links have ended.",
                account.identifier
            );
            report_issued(config, &store, &issued, show_password).await
        }
        AccountCommand::Disable { account, yes } => {
            let account = accounts.find(&account).await?;
            if account.status == AccountStatus::Disabled {
                println!("Account {} is already disabled.", account.identifier);
                return Ok(());
            }
            confirm(
                &format!("disable {} and end all its sessions", account.identifier),
                account.identifier.as_str(),
                yes,
            )?;
            let account = accounts.set_status(account.id, AccountStatus::Disabled, &ctx).await?;
            println!("Disabled account {}.", account.identifier);
            Ok(())
        }
        AccountCommand::BindCertificate { account, certificate } => {
            let account = accounts.find(&account).await?;
            let bytes = std::fs::read(&certificate)
                .map_err(|e| CliError::bad(format!("cannot read {}: {e}", certificate.display())))?;
            let (fingerprint, subject) = sesame_web::certs::describe(&bytes)
                .map_err(|e| CliError::bad(format!("{}: {e}", certificate.display())))?;
            accounts.pin_certificate(&account, &fingerprint, &subject, true, &ctx).await?;
            println!("Certificate {subject} (SHA-256 {fingerprint}) now signs in to {}.", account.identifier);
            deliver_now(config, &store, "the notification e-mail").await
        }
        AccountCommand::UnbindCertificate { account, certificate, fingerprint } => {
            let account = accounts.find(&account).await?;
            let fingerprint = match (certificate, fingerprint) {
                (Some(file), _) => {
                    let bytes = std::fs::read(&file)
                        .map_err(|e| CliError::bad(format!("cannot read {}: {e}", file.display())))?;
                    sesame_web::certs::describe(&bytes)
                        .map_err(|e| CliError::bad(format!("{}: {e}", file.display())))?
                        .0
                }
                (None, Some(fp)) => fp.trim().to_lowercase().replace(':', ""),
                (None, None) => return Err(CliError::bad("give --certificate or --fingerprint")),
            };
            let pinned = store.certificates_of(account.id).await?;
            let Some((_, subject)) = pinned.iter().find(|(fp, _)| *fp == fingerprint) else {
                return Err(CliError::bad(format!(
                    "no certificate with fingerprint {fingerprint} is pinned to {}",
                    account.identifier
                )));
            };
            accounts.pin_certificate(&account, &fingerprint, subject, false, &ctx).await?;
            println!("Certificate {subject} no longer signs in to {}.", account.identifier);
            deliver_now(config, &store, "the notification e-mail").await
        }
        AccountCommand::Enable { account } => {
            let account = accounts.find(&account).await?;
            if account.status == AccountStatus::Active {
                println!("Account {} is already active.", account.identifier);
                return Ok(());
            }
            let account = accounts.set_status(account.id, AccountStatus::Active, &ctx).await?;
            println!("Enabled account {}.", account.identifier);
            Ok(())
        }
    }
}

fn parse_create(args: &CreateArgs) -> Result<CreateAccount, CliError> {
    let bad = |e: &dyn std::fmt::Display| CliError::bad(e.to_string());
    Ok(CreateAccount {
        email: Email::parse(&args.email).map_err(|e| bad(&e))?,
        first_name: PersonName::parse(&args.first_name, "first name").map_err(|e| bad(&e))?,
        last_name: PersonName::parse(&args.last_name, "last name").map_err(|e| bad(&e))?,
        identifier: args.identifier.as_deref().map(Identifier::parse).transpose().map_err(|e| bad(&e))?,
        national_id: args.national_id.as_deref().map(NationalId::parse).transpose().map_err(|e| bad(&e))?,
    })
}

fn account_json(a: &Account) -> serde_json::Value {
    json!({
        "id": a.id.0,
        "identifier": a.identifier.as_str(),
        "email": a.email.as_str(),
        "first_name": a.first_name.as_str(),
        "last_name": a.last_name.as_str(),
        "national_id": a.national_id.as_ref().map(|n| json!({ "kind": n.kind(), "number": n.number() })),
        "status": a.status.as_str(),
        "created_at": format_utc(a.created_at),
        "updated_at": format_utc(a.updated_at),
    })
}

/// Prints what was issued, then tries to deliver the two e-mails at once. When the transport
/// is down they stay queued for the server's worker or `sesame mail flush`.
async fn report_issued(
    config: &Config,
    store: &Arc<dyn Store>,
    issued: &IssuedPassword,
    show_password: bool,
) -> Result<(), CliError> {
    println!("Temporary password valid until {}.", format_utc(issued.valid_until));
    if show_password {
        println!("Temporary password: {}", issued.temporary_password.expose());
    }
    deliver_now(config, store, "two e-mails (identifier, temporary password)").await
}

/// Tries to deliver what was just queued; when the transport is down the messages stay queued
/// for the server's worker or `sesame mail flush`.
async fn deliver_now(config: &Config, store: &Arc<dyn Store>, what: &str) -> Result<(), CliError> {
    let worker = app::worker(config, store, &app::clock())?;
    let budget = Duration::from_secs(config.mail.smtp.timeout_secs.saturating_add(5));
    let outcome = tokio::time::timeout(budget, worker.flush()).await;
    let destination = app::transport(config).map(|t| t.describe()).unwrap_or_default();
    match outcome {
        Ok(Ok(report)) if report.deferred == 0 && report.dropped == 0 => println!("Sent {what}: {destination}."),
        _ => println!(
            "Queued {what}; delivery failed for now ({destination}) and will be retried by `sesame serve` or `sesame mail flush`."
        ),
    }
    Ok(())
}
