//! `sesame account …`

use serde_json::json;
use sesame_core::AccountService;
use sesame_core::accounts::{CreateAccount, IssuedPassword};
use sesame_core::audit::RequestContext;
use sesame_core::model::{Account, AccountFilter, AccountStatus};
use sesame_core::store::Store;
use sesame_core::types::{Email, Identifier, NationalId, PersonName};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::{confirm, format_utc};
use crate::app;
use crate::cli::{AccountCommand, CreateArgs, StatusArg};
use crate::config::Config;
use crate::error::CliError;

/// What every subcommand works with.
struct Admin<'a> {
    config: &'a Config,
    store: Arc<dyn Store>,
    accounts: AccountService,
    ctx: RequestContext,
}

pub async fn run(config: &Config, command: AccountCommand) -> Result<(), CliError> {
    // Parse before touching the database: bad input changes nothing.
    let create = match &command {
        AccountCommand::Create(args) => Some(parse_create(args)?),
        _ => None,
    };
    let store = app::open_store(config).await?;
    let accounts = app::accounts(config, &store, &app::clock())?;
    let admin = Admin { config, store, accounts, ctx: RequestContext::cli() };
    match command {
        AccountCommand::Create(args) => {
            let request = create.ok_or_else(|| CliError::Runtime("internal: parsed request missing".into()))?;
            admin.create(request, args.show_password).await
        }
        AccountCommand::Show { account, json } => admin.show(&account, json).await,
        AccountCommand::List { status, search, limit, json } => admin.list(status, search, limit, json).await,
        AccountCommand::ResetPassword { account, show_password, yes } => {
            admin.reset_password(&account, show_password, yes).await
        }
        AccountCommand::Disable { account, yes } => admin.disable(&account, yes).await,
        AccountCommand::Enable { account } => admin.enable(&account).await,
        AccountCommand::BindCertificate { account, certificate } => admin.bind(&account, &certificate).await,
        AccountCommand::UnbindCertificate { account, certificate, fingerprint } => {
            admin.unbind(&account, certificate.as_deref(), fingerprint.as_deref()).await
        }
        AccountCommand::RemoveSecondFactors { account, yes } => admin.remove_second_factors(&account, yes).await,
    }
}

impl Admin<'_> {
    async fn create(&self, request: CreateAccount, show_password: bool) -> Result<(), CliError> {
        let issued = self.accounts.create_account(request, &self.ctx).await?;
        let a = &issued.account;
        println!("Created account {} ({} <{}>).", a.identifier, a.display_name(), a.email);
        report_issued(self.config, &self.store, &issued, show_password).await
    }

    async fn show(&self, reference: &str, json: bool) -> Result<(), CliError> {
        let account = self.accounts.find(reference).await?;
        let password = match self.store.password_credential(account.id).await? {
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
            return Ok(());
        }
        println!("Identifier:   {}", account.identifier);
        println!("Name:         {}", account.display_name());
        println!("E-mail:       {}", account.email);
        let national_id = account.national_id.as_ref().map_or_else(|| "-".to_owned(), ToString::to_string);
        println!("National id:  {national_id}");
        println!("Status:       {}", account.status.as_str());
        println!("Password:     {password}");
        println!("Created:      {}", format_utc(account.created_at));
        println!("Updated:      {}", format_utc(account.updated_at));
        println!("Id:           #{}", account.id);
        for (fingerprint, subject) in self.store.certificates_of(account.id).await? {
            println!("Certificate:  {subject} (SHA-256 {fingerprint})");
        }
        Ok(())
    }

    async fn list(
        &self,
        status: Option<StatusArg>,
        search: Option<String>,
        limit: Option<u32>,
        json: bool,
    ) -> Result<(), CliError> {
        let status = status.map(|s| match s {
            StatusArg::Active => AccountStatus::Active,
            StatusArg::Disabled => AccountStatus::Disabled,
        });
        let list = self.store.list_accounts(&AccountFilter { status, search, limit }).await?;
        if json {
            for a in &list {
                println!("{}", account_json(a));
            }
            return Ok(());
        }
        println!("{:<20} {:<9} {:<32} NAME", "IDENTIFIER", "STATUS", "E-MAIL");
        for a in &list {
            let (id, status, email) = (a.identifier.as_str(), a.status.as_str(), a.email.as_str());
            println!("{id:<20} {status:<9} {email:<32} {}", a.display_name());
        }
        println!("{} account(s).", list.len());
        Ok(())
    }

    async fn reset_password(&self, reference: &str, show_password: bool, yes: bool) -> Result<(), CliError> {
        let account = self.accounts.find(reference).await?;
        let action =
            format!("replace the password of {} with a temporary one and end all its sessions", account.identifier);
        confirm(&action, account.identifier.as_str(), yes)?;
        let issued = self.accounts.reset_password(account.id, &self.ctx).await?;
        println!(
            "Issued a temporary password for {}; its sessions, tokens and reset links have ended.",
            account.identifier
        );
        report_issued(self.config, &self.store, &issued, show_password).await
    }

    async fn remove_second_factors(&self, reference: &str, yes: bool) -> Result<(), CliError> {
        let account = self.accounts.find(reference).await?;
        let services = app::services(self.config, &self.store, &app::clock())?;
        if services.factors.of(&account).await?.factors.is_empty() {
            println!("Account {} has no second factor.", account.identifier);
            return Ok(());
        }
        let action = format!("remove every second factor of {} (check who is asking first)", account.identifier);
        confirm(&action, account.identifier.as_str(), yes)?;
        let removed = services.factors.remove_all_by_support(&account, &self.ctx).await?;
        println!(
            "Removed {removed} second factor(s) and the recovery codes of {}; the holder is told by e-mail.",
            account.identifier
        );
        deliver_now(self.config, &self.store, "the e-mail").await
    }

    async fn disable(&self, reference: &str, yes: bool) -> Result<(), CliError> {
        let account = self.accounts.find(reference).await?;
        if account.status == AccountStatus::Disabled {
            println!("Account {} is already disabled.", account.identifier);
            return Ok(());
        }
        let action = format!("disable {} and end all its sessions", account.identifier);
        confirm(&action, account.identifier.as_str(), yes)?;
        let account = self.accounts.set_status(account.id, AccountStatus::Disabled, &self.ctx).await?;
        println!("Disabled account {}.", account.identifier);
        Ok(())
    }

    async fn enable(&self, reference: &str) -> Result<(), CliError> {
        let account = self.accounts.find(reference).await?;
        if account.status == AccountStatus::Active {
            println!("Account {} is already active.", account.identifier);
            return Ok(());
        }
        let account = self.accounts.set_status(account.id, AccountStatus::Active, &self.ctx).await?;
        println!("Enabled account {}.", account.identifier);
        Ok(())
    }

    async fn bind(&self, reference: &str, certificate: &Path) -> Result<(), CliError> {
        let account = self.accounts.find(reference).await?;
        let (fingerprint, subject) = describe_file(certificate)?;
        self.accounts.pin_certificate(&account, &fingerprint, &subject, true, &self.ctx).await?;
        println!("Certificate {subject} (SHA-256 {fingerprint}) now signs in to {}.", account.identifier);
        deliver_now(self.config, &self.store, "the notification e-mail").await
    }

    async fn unbind(
        &self,
        reference: &str,
        certificate: Option<&Path>,
        fingerprint: Option<&str>,
    ) -> Result<(), CliError> {
        let account = self.accounts.find(reference).await?;
        let fingerprint = match (certificate, fingerprint) {
            (Some(file), _) => describe_file(file)?.0,
            (None, Some(fp)) => fp.trim().to_lowercase().replace(':', ""),
            (None, None) => return Err(CliError::bad("give --certificate or --fingerprint")),
        };
        let pinned = self.store.certificates_of(account.id).await?;
        let Some((_, subject)) = pinned.iter().find(|(fp, _)| *fp == fingerprint) else {
            return Err(CliError::bad(format!(
                "no certificate with fingerprint {fingerprint} is pinned to {}",
                account.identifier
            )));
        };
        self.accounts.pin_certificate(&account, &fingerprint, subject, false, &self.ctx).await?;
        println!("Certificate {subject} no longer signs in to {}.", account.identifier);
        deliver_now(self.config, &self.store, "the notification e-mail").await
    }
}

/// The fingerprint and subject of a certificate file (PEM or DER).
fn describe_file(file: &Path) -> Result<(String, String), CliError> {
    let bytes = std::fs::read(file).map_err(|e| CliError::bad(format!("cannot read {}: {e}", file.display())))?;
    sesame_web::certs::describe(&bytes).map_err(|e| CliError::bad(format!("{}: {e}", file.display())))
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
