//! The multi-node backend: PostgreSQL, with row locks where nodes could race.

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::str::FromStr;

use crate::StoreOptions;

type DB = sqlx::Postgres;
const NAME: &str = "postgres";
const BEGIN_WRITE: &str = "BEGIN";
const ACCOUNT_FOR_UPDATE: &str = concat!(crate::account_select!(), " WHERE id = $1 FOR UPDATE");
/// `SKIP LOCKED`: nodes claiming at the same moment take disjoint rows, never the same one.
const CLAIM_MAIL: &str = concat!(
    "UPDATE outbox SET claimed_until = $1, attempts = attempts + 1 WHERE id IN (",
    " SELECT id FROM outbox WHERE sent_at IS NULL AND dropped_at IS NULL AND next_attempt_at <= $2",
    " AND (claimed_until IS NULL OR claimed_until <= $2) ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED)",
    " RETURNING id, account_id, kind, recipient, recipient_name, payload, sealed, attempts, created_at"
);

const CLAIM_LOGOUT: &str = concat!(
    "UPDATE oidc_logout_notices SET claimed_until = $1, attempts = attempts + 1 WHERE id IN (",
    " SELECT id FROM oidc_logout_notices WHERE delivered_at IS NULL AND next_attempt_at <= $2",
    " AND (claimed_until IS NULL OR claimed_until <= $2) ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED)",
    " RETURNING id, client_id, account_id, session_id, attempts, created_at"
);

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// Reads and writes share one sqlx pool: PostgreSQL has many writers, and over a network a
/// pool's test of each returned connection is worth its round trip.
#[derive(Debug, Clone)]
struct Connections(sqlx::PgPool);

type Readers = Connections;
type Writer = Connections;
type WriterConn = sqlx::pool::PoolConnection<sqlx::Postgres>;

impl Connections {
    async fn acquire(&self) -> StoreResult<WriterConn> {
        self.0.acquire().await.map_err(map_err)
    }

    /// Runs one statement on its own (autocommit) and returns its result.
    async fn run<T, F>(&self, statement: F) -> StoreResult<T>
    where
        F: for<'c> FnOnce(&'c mut sqlx::PgConnection) -> crate::JobFuture<'c, T>,
    {
        let mut conn = self.acquire().await?;
        statement(&mut conn).await.map_err(map_err)
    }
}

include!("backend.rs");

pub use SqlStore as PostgresStore;

impl SqlStore {
    pub async fn open(url: &str, options: &StoreOptions, sealer: Sealer) -> StoreResult<Self> {
        let redacted = crate::redact_url(url);
        let connect = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Unavailable(format!("invalid PostgreSQL URL {redacted}: {e}")))?;
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.connect_timeout)
            .connect_with(connect)
            .await
            .map_err(|e| StoreError::Unavailable(format!("cannot connect to {redacted}: {e}")))?;
        Ok(Self { writer: Connections(pool.clone()), readers: Connections(pool), sealer })
    }

    async fn migrate_impl(&self) -> StoreResult<()> {
        MIGRATOR.run(&self.writer.0).await.map_err(|e| StoreError::Database(format!("migration failed: {e}")))
    }

    /// PostgreSQL reuses dead tuples' space by itself (VACUUM); nothing to do here.
    #[expect(clippy::unused_async, reason = "same signature as the SQLite backend")]
    async fn compact_impl(&self) -> StoreResult<()> {
        Ok(())
    }

    #[expect(clippy::unused_async, reason = "same signature as the SQLite backend")]
    async fn backup_impl(&self, _target: &Path) -> StoreResult<()> {
        Err(StoreError::Unsupported(
            "online backup is built in for SQLite only; back up PostgreSQL with pg_dump or your provider's tooling"
                .into(),
        ))
    }
}
