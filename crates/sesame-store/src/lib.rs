//! Storage for Sésame: the [`sesame_core::store::Store`] port on SQLite and PostgreSQL.
//!
//! Both backends run the same SQL, written once in `backend.rs` and included by [`sqlite`] and
//! [`postgres`], each of which names its sqlx driver and the few statements that truly differ
//! (write-transaction start, row locking, outbox claiming). No per-method `if sqlite`, no
//! `sqlx::Any` (it has no timestamp types and emits `?` placeholders PostgreSQL rejects).

pub mod postgres;
mod rows;
pub mod sqlite;

use sesame_core::keys::Sealer;
use sesame_core::store::{Store, StoreError};
use std::sync::Arc;
use std::time::Duration;

/// A statement's future, borrowing the connection it runs on.
type JobFuture<'c, T> = std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, sqlx::Error>> + Send + 'c>>;

/// Connection settings that do not belong in the URL.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub max_connections: u32,
    pub connect_timeout: Duration,
    /// SQLite: how long a writer waits for the lock before giving up.
    pub busy_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self { max_connections: 8, connect_timeout: Duration::from_secs(5), busy_timeout: Duration::from_secs(5) }
    }
}

/// Opens the database named by `url` (`sqlite://path` or `postgres://…`), without migrating.
/// `sealer` seals and opens the secrets that must be read back (queued e-mails' secrets).
pub async fn connect(url: &str, options: &StoreOptions, sealer: Sealer) -> Result<Arc<dyn Store>, StoreError> {
    if let Some(path) = sqlite::path_of(url) {
        Ok(Arc::new(sqlite::SqliteStore::open(&path, options, sealer).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(postgres::PostgresStore::open(url, options, sealer).await?))
    } else {
        Err(StoreError::Unsupported(format!(
            "unsupported database URL '{}': use sqlite://PATH or postgres://…",
            redact_url(url)
        )))
    }
}

/// Opens the database and applies pending migrations.
pub async fn connect_and_migrate(
    url: &str,
    options: &StoreOptions,
    sealer: Sealer,
) -> Result<Arc<dyn Store>, StoreError> {
    let store = connect(url, options, sealer).await?;
    store.migrate().await?;
    Ok(store)
}

/// The URL without its password, for messages and logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

pub(crate) fn map_err(e: sqlx::Error) -> StoreError {
    use sesame_core::model::UniqueField;
    match e {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            let what = format!("{} {}", db.constraint().unwrap_or_default(), db.message());
            let field = if what.contains("email_key") {
                UniqueField::Email
            } else if what.contains("national_id") {
                UniqueField::NationalId
            } else if what.contains("fingerprint") {
                UniqueField::Certificate
            } else {
                UniqueField::Identifier
            };
            StoreError::Conflict(field)
        }
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Tls(_) => {
            StoreError::Unavailable(e.to_string())
        }
        other => StoreError::Database(other.to_string()),
    }
}

/// The columns of an account, in the order [`rows::AccountRow`] reads them.
macro_rules! account_columns {
    () => {
        "id, identifier, email, first_name, last_name, national_id, status, created_at, updated_at"
    };
}
pub(crate) use account_columns;

/// `SELECT` of [`account_columns`] from `accounts`, to which a `WHERE` is appended.
macro_rules! account_select {
    () => {
        concat!("SELECT ", $crate::account_columns!(), " FROM accounts")
    };
}
pub(crate) use account_select;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_redacted_in_messages() {
        assert_eq!(redact_url("postgres://sesame:s3cret@db:5432/sesame"), "postgres://sesame:***@db:5432/sesame");
        assert_eq!(redact_url("sqlite://./data/sesame.db"), "sqlite://./data/sesame.db");
    }
}
