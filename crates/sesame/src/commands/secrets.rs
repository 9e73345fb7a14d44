//! `sesame secrets status | rotate | prune`: the key file of the secrets at rest.

use sesame_core::keys::{KeyRing, Sealer};
use sesame_core::store::Reseal;

use super::confirm;
use crate::app;
use crate::cli::SecretsCommand;
use crate::config::Config;
use crate::error::CliError;
use crate::keyfile;

pub async fn run(config: &Config, command: SecretsCommand) -> Result<(), CliError> {
    match command {
        SecretsCommand::Status => status(config).await,
        SecretsCommand::Rotate => rotate(config).await,
        SecretsCommand::Prune { yes } => prune(config, yes).await,
    }
}

async fn status(config: &Config) -> Result<(), CliError> {
    let (path, _) = config.key_file();
    let sealer = app::sealer(config)?;
    let ring = sealer.ring();
    let store = app::open_store_with(config, sealer.clone()).await?;
    let counts = store.sealed_keys().await?;
    println!("Key file: {}", path.display());
    for (i, id) in ring.ids().iter().enumerate() {
        let sealed = counts.iter().find(|(k, _)| k == id).map_or(0, |(_, n)| *n);
        let role = if i == 0 { "seals and opens" } else { "opens only" };
        println!("  {id}  {role}; {sealed} sealed secret(s)");
    }
    let unknown: Vec<_> = counts.iter().filter(|(k, _)| !ring.ids().contains(&k.as_str())).collect();
    for (id, n) in &unknown {
        println!("  {id}  NOT IN THE KEY FILE; {n} sealed secret(s) that cannot be opened here");
    }
    if !unknown.is_empty() {
        return Err(CliError::Runtime(
            "some secrets are sealed with keys this file lacks: copy the key file of the node that sealed them, \
             or, if it is lost, issue new temporary passwords (the messages are dropped 15 minutes after they were queued)"
                .into(),
        ));
    }
    Ok(())
}

async fn rotate(config: &Config) -> Result<(), CliError> {
    let (path, _) = config.key_file();
    let ring = if path.exists() { keyfile::read(&path).map_err(CliError::bad)?.rotated() } else { KeyRing::generate() };
    let new_id = ring.primary_id().to_owned();
    let older: Vec<String> = ring.ids().iter().skip(1).map(|id| (*id).to_owned()).collect();
    // The file first: if re-sealing fails, every key that sealed something is still in it.
    keyfile::write(&path, &ring)?;
    let store = app::open_store_with(config, Sealer::new(ring)).await?;
    let report = store.reseal_secrets(Reseal::All).await?;
    println!("New sealing key {new_id} in {}.", path.display());
    println!("Re-sealed {} sealed secret(s) under it.", report.resealed);
    if report.unreadable > 0 {
        println!("{} sealed secret(s) are sealed with keys the file lacks and stay as they are.", report.unreadable);
    }
    if !older.is_empty() {
        println!(
            "Older key(s) {} kept to open what other nodes seal until they have the new file: copy it to every node \
             (a running server reloads it within 30 seconds, or at once on SIGHUP), then run `sesame secrets prune`.",
            older.join(", ")
        );
    }
    Ok(())
}

async fn prune(config: &Config, yes: bool) -> Result<(), CliError> {
    let (path, _) = config.key_file();
    let ring = keyfile::read(&path).map_err(CliError::bad)?;
    let older: Vec<String> = ring.ids().iter().skip(1).map(|id| (*id).to_owned()).collect();
    if older.is_empty() {
        println!("{} holds one key ({}); nothing to prune.", path.display(), ring.primary_id());
        return Ok(());
    }
    confirm(&format!("remove the key(s) {} from {}", older.join(", "), path.display()), "prune", yes)?;
    let sealer = Sealer::new(ring);
    let store = app::open_store_with(config, sealer.clone()).await?;
    let report = store.reseal_secrets(Reseal::All).await?;
    if report.unreadable > 0 {
        return Err(CliError::Runtime(format!(
            "{} sealed secret(s) are sealed with keys this file lacks; nothing was pruned (see `sesame secrets status`)",
            report.unreadable
        )));
    }
    let pruned = KeyRing::clone(&sealer.ring()).pruned();
    keyfile::write(&path, &pruned)?;
    println!(
        "Removed {} from {}; {} re-sealed under {}. Copy the file to every node.",
        older.join(", "),
        path.display(),
        report.resealed,
        pruned.primary_id()
    );
    Ok(())
}
