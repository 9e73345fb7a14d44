//! `sesame backup FILE`

use std::path::Path;

use crate::app;
use crate::config::Config;
use crate::error::CliError;

pub async fn run(config: &Config, file: &Path) -> Result<(), CliError> {
    if file.exists() {
        return Err(CliError::bad(format!("{} already exists; choose a new file name", file.display())));
    }
    let store = app::open_store(config).await?;
    store.backup_to(file).await?;
    let size = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
    println!("Backup written to {} ({size} bytes).", file.display());
    Ok(())
}
