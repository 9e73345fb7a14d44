//! The embedded default: one SQLite file, WAL, foreign keys on, a busy timeout, mode 0600.

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::fs::{DirBuilder, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::PathBuf;

use crate::StoreOptions;

type DB = sqlx::Sqlite;
const NAME: &str = "sqlite";
/// Takes the write lock at once: a deferred transaction that reads then writes can fail with
/// SQLITE_BUSY without waiting, whatever the busy timeout.
const BEGIN_WRITE: &str = "BEGIN IMMEDIATE";
const ACCOUNT_FOR_UPDATE: &str = concat!(crate::account_select!(), " WHERE id = $1");
/// One writer at a time: a single UPDATE claims atomically.
const CLAIM_MAIL: &str = concat!(
    "UPDATE outbox SET claimed_until = $1, attempts = attempts + 1 WHERE id IN (",
    " SELECT id FROM outbox WHERE sent_at IS NULL AND next_attempt_at <= $2",
    " AND (claimed_until IS NULL OR claimed_until <= $2) ORDER BY id LIMIT $3)",
    " RETURNING id, account_id, recipient, recipient_name, payload, attempts, created_at"
);

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

include!("backend.rs");

pub use SqlStore as SqliteStore;

/// The file path of a `sqlite://PATH` or `sqlite:PATH` URL.
pub fn path_of(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty()).then(|| PathBuf::from(path))
}

impl SqlStore {
    /// Opens (creating if needed, with mode 0600 in a 0700 folder) the database file.
    pub async fn open(path: &Path, options: &StoreOptions) -> StoreResult<Self> {
        let unavailable =
            |what: &str, e: &dyn std::fmt::Display| StoreError::Unavailable(format!("{what} {}: {e}", path.display()));
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
            DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| unavailable("cannot create the folder of", &e))?;
        }
        if !path.exists() {
            OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .map_err(|e| unavailable("cannot create the database file", &e))?;
        }
        let connect = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(false)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(options.busy_timeout);
        let pool = SqlitePoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.connect_timeout)
            .connect_with(connect)
            .await
            .map_err(|e| unavailable("cannot open the database", &e))?;
        // A file that is not an SQLite database only fails at the first statement: fail now.
        sqlx::query("SELECT COUNT(*) FROM sqlite_master")
            .execute(&pool)
            .await
            .map_err(|e| unavailable("cannot read the database", &e))?;
        Ok(Self { pool })
    }

    async fn migrate_impl(&self) -> StoreResult<()> {
        MIGRATOR.run(&self.pool).await.map_err(|e| StoreError::Database(format!("migration failed: {e}")))
    }

    /// `VACUUM INTO` a new, empty, 0600 file: a consistent copy taken while the server runs.
    async fn backup_impl(&self, target: &Path) -> StoreResult<()> {
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(target)
            .map_err(|e| StoreError::Unsupported(format!("cannot create {}: {e}", target.display())))?;
        let result = sqlx::query("VACUUM INTO $1")
            .bind(target.to_string_lossy().into_owned())
            .execute(&self.pool)
            .await
            .map_err(map_err);
        if result.is_err() {
            let _ = std::fs::remove_file(target);
        }
        result.map(|_| ())
    }
}
