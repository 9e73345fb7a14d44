//! The embedded default: one SQLite file, WAL, foreign keys on, a busy timeout, mode 0600; one
//! writer connection, several `query_only` readers.

use sqlx::ConnectOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqliteSynchronous};
use std::fs::{DirBuilder, OpenOptions};
use std::future::Future;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration as StdDuration;

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
    " SELECT id FROM outbox WHERE sent_at IS NULL AND dropped_at IS NULL AND next_attempt_at <= $2",
    " AND (claimed_until IS NULL OR claimed_until <= $2) ORDER BY id LIMIT $3)",
    " RETURNING id, account_id, kind, recipient, recipient_name, payload, sealed, attempts, created_at"
);

const CLAIM_LOGOUT: &str = concat!(
    "UPDATE oidc_logout_notices SET claimed_until = $1, attempts = attempts + 1 WHERE id IN (",
    " SELECT id FROM oidc_logout_notices WHERE delivered_at IS NULL AND next_attempt_at <= $2",
    " AND (claimed_until IS NULL OR claimed_until <= $2) ORDER BY id LIMIT $3)",
    " RETURNING id, client_id, account_id, session_id, attempts, created_at"
);

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

/// The one connection that writes, lent out in turn (first come, first served); waiting is
/// bounded by the busy timeout, as waiting for SQLite's own lock is.
///
/// Transactions borrow the connection ([`Writer::acquire`]). Lone statements ([`Writer::run`])
/// are queued to a task that runs whatever has queued up back to back, in one transaction,
/// while it holds the connection: under load the connection goes from one statement to the
/// next without waiting for each caller to be scheduled again and hand it on, and one commit
/// serves them all. If a statement fails, it alone reports its error; if the commit fails,
/// every statement of the turn does.
#[derive(Debug, Clone)]
struct Writer {
    conn: Arc<tokio::sync::Mutex<SqliteConnection>>,
    jobs: tokio::sync::mpsc::Sender<Job>,
    wait: StdDuration,
}

type WriterConn = tokio::sync::OwnedMutexGuard<SqliteConnection>;

/// A statement for the writer's task. It runs, then hands back how to answer its caller once
/// the outcome of the whole turn is known.
type Job =
    Box<dyn for<'c> FnOnce(&'c mut SqliteConnection) -> Pin<Box<dyn Future<Output = Answer> + Send + 'c>> + Send>;

/// Answers a statement's caller, given whether its turn committed.
type Answer = Box<dyn FnOnce(Result<(), String>) + Send>;

/// How many queued statements the task runs in one turn (one transaction) before letting a
/// waiting transaction have the connection.
const JOBS_PER_TURN: usize = 64;

impl Writer {
    fn new(conn: SqliteConnection, wait: StdDuration) -> Self {
        let conn = Arc::new(tokio::sync::Mutex::new(conn));
        let (jobs, queue) = tokio::sync::mpsc::channel(1024);
        tokio::spawn(Self::drive(Arc::clone(&conn), queue));
        Self { conn, jobs, wait }
    }

    async fn acquire(&self) -> StoreResult<WriterConn> {
        tokio::time::timeout(self.wait, Self::lock(Arc::clone(&self.conn))).await.map_err(|_| busy(self.wait))
    }

    async fn lock(conn: Arc<tokio::sync::Mutex<SqliteConnection>>) -> WriterConn {
        use sqlx_core::transaction::TransactionManager as _;
        let mut conn = conn.lock_owned().await;
        // A transaction whose `BEGIN` was acknowledged to a caller that had already gone (a
        // cancelled request) has no owner to end it: end it before lending the connection.
        if <sqlx::Sqlite as sqlx::Database>::TransactionManager::get_transaction_depth(&conn) > 0 {
            <sqlx::Sqlite as sqlx::Database>::TransactionManager::start_rollback(&mut conn);
        }
        conn
    }

    /// Runs one statement and returns its result once it is committed.
    async fn run<T, F>(&self, statement: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut SqliteConnection) -> crate::JobFuture<'c, T> + Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel::<StoreResult<T>>();
        let job: Job = Box::new(move |conn| {
            Box::pin(async move {
                // A caller that gave up (timed out, cancelled) was told nothing was done: keep it so.
                if reply.is_closed() {
                    return Box::new(|_| ()) as Answer;
                }
                let result = statement(conn).await.map_err(map_err);
                Box::new(move |turn: Result<(), String>| {
                    let _ = reply.send(result.and_then(|value| turn.map(|()| value).map_err(StoreError::Database)));
                }) as Answer
            })
        });
        let closed = || StoreError::Unavailable("the database writer has stopped".into());
        tokio::time::timeout(self.wait, async {
            self.jobs.send(job).await.map_err(|_| closed())?;
            answer.await.map_err(|_| closed())?
        })
        .await
        .map_err(|_| busy(self.wait))?
    }

    /// The writer's task: takes what has queued up (at most [`JOBS_PER_TURN`]) and runs it in
    /// one transaction, so that under load one commit serves many statements; answers every
    /// caller after the commit. Ends when every handle to the store is gone.
    async fn drive(conn: Arc<tokio::sync::Mutex<SqliteConnection>>, mut queue: tokio::sync::mpsc::Receiver<Job>) {
        use sqlx_core::transaction::TransactionManager as _;
        type Manager = <sqlx::Sqlite as sqlx::Database>::TransactionManager;
        let mut turn = Vec::with_capacity(JOBS_PER_TURN);
        while queue.recv_many(&mut turn, JOBS_PER_TURN).await > 0 {
            let mut conn = Self::lock(Arc::clone(&conn)).await;
            // One statement alone commits by itself; several share a transaction, unless it
            // cannot begin, in which case each commits by itself.
            let shared = turn.len() > 1
                && Manager::begin(&mut conn, Some(sqlx::SqlSafeStr::into_sql_str(BEGIN_WRITE))).await.is_ok();
            let mut answers = Vec::with_capacity(turn.len());
            for job in turn.drain(..) {
                answers.push(job(&mut conn).await);
            }
            let outcome = if shared {
                let committed = Manager::commit(&mut conn).await.map_err(|e| e.to_string());
                if committed.is_err() && Manager::get_transaction_depth(&conn) > 0 {
                    Manager::start_rollback(&mut conn);
                }
                committed
            } else {
                Ok(())
            };
            drop(conn);
            for answer in answers {
                answer(outcome.clone());
            }
        }
    }
}

/// Reading connections, `query_only`, opened when first needed and kept, at most `max` lent
/// out at once.
#[derive(Debug, Clone)]
struct Readers(Arc<ReaderSet>);

#[derive(Debug)]
struct ReaderSet {
    idle: std::sync::Mutex<Vec<SqliteConnection>>,
    permits: Arc<tokio::sync::Semaphore>,
    options: SqliteConnectOptions,
    wait: StdDuration,
}

/// A reading connection on loan; it goes back to the idle ones when dropped.
struct ReaderConn {
    conn: Option<SqliteConnection>,
    set: Arc<ReaderSet>,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl Readers {
    async fn acquire(&self) -> StoreResult<ReaderConn> {
        let set = &self.0;
        let permit = tokio::time::timeout(set.wait, Arc::clone(&set.permits).acquire_owned())
            .await
            .map_err(|_| busy(set.wait))?
            .map_err(|_| StoreError::Unavailable("the database is closed".into()))?;
        let idle = set.idle.lock().map(|mut idle| idle.pop()).unwrap_or_default();
        let conn = match idle {
            Some(conn) => conn,
            None => set.options.connect().await.map_err(map_err)?,
        };
        Ok(ReaderConn { conn: Some(conn), set: Arc::clone(set), _permit: permit })
    }
}

impl ReaderConn {
    /// Closes the connection instead of lending it again.
    fn discard(mut self) {
        drop(self.conn.take());
    }
}

impl std::ops::Deref for ReaderConn {
    type Target = SqliteConnection;

    #[expect(clippy::expect_used, reason = "the connection is taken out only by drop")]
    fn deref(&self) -> &SqliteConnection {
        self.conn.as_ref().expect("a lent reader has its connection")
    }
}

impl std::ops::DerefMut for ReaderConn {
    #[expect(clippy::expect_used, reason = "the connection is taken out only by drop")]
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        self.conn.as_mut().expect("a lent reader has its connection")
    }
}

impl Drop for ReaderConn {
    fn drop(&mut self) {
        if let (Some(conn), Ok(mut idle)) = (self.conn.take(), self.set.idle.lock()) {
            idle.push(conn);
        }
    }
}

fn busy(wait: StdDuration) -> StoreError {
    StoreError::Unavailable(format!("the database stayed busy for {} s", wait.as_secs_f32()))
}

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
    pub async fn open(path: &Path, options: &StoreOptions, sealer: Sealer) -> StoreResult<Self> {
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
            .busy_timeout(options.busy_timeout)
            // What is deleted or overwritten is zeroed in the file, not left in free pages.
            .pragma("secure_delete", "ON");
        // The writer first: it creates the WAL files the readers then share.
        let mut writer = connect.connect().await.map_err(|e| unavailable("cannot open the database", &e))?;
        // A file that is not an SQLite database only fails at the first statement: fail now.
        sqlx::query("SELECT COUNT(*) FROM sqlite_master")
            .execute(&mut writer)
            .await
            .map_err(|e| unavailable("cannot read the database", &e))?;
        let writer = Writer::new(writer, options.busy_timeout);
        let readers = Readers(Arc::new(ReaderSet {
            idle: std::sync::Mutex::new(Vec::new()),
            permits: Arc::new(tokio::sync::Semaphore::new(options.max_connections.max(1) as usize)),
            options: connect.pragma("query_only", "ON"),
            wait: options.connect_timeout,
        }));
        Ok(Self { readers, writer, sealer })
    }

    async fn migrate_impl(&self) -> StoreResult<()> {
        let mut conn = self.writer.acquire().await?;
        MIGRATOR
            .run_direct(None, &mut *conn, false)
            .await
            .map_err(|e| StoreError::Database(format!("migration failed: {e}")))
    }

    /// Folds the WAL into the database and truncates it, so that erased pages do not linger in
    /// the `-wal` file. Outside any transaction, on the writer's connection.
    async fn compact_impl(&self) -> StoreResult<()> {
        let mut conn = self.writer.acquire().await?;
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&mut *conn).await.map_err(map_err)?;
        Ok(())
    }

    /// `VACUUM INTO` a new, empty, 0600 file: a consistent copy taken while the server runs.
    async fn backup_impl(&self, target: &Path) -> StoreResult<()> {
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(target)
            .map_err(|e| StoreError::Unsupported(format!("cannot create {}: {e}", target.display())))?;
        // On a reader, so that writers go on meanwhile; `VACUUM INTO` writes only the new file,
        // but `query_only` forbids it, so it is lifted for this one statement.
        let result = async {
            let mut conn = self.readers.acquire().await?;
            sqlx::query("PRAGMA query_only = OFF").execute(&mut *conn).await.map_err(map_err)?;
            let vacuum =
                sqlx::query("VACUUM INTO $1").bind(target.to_string_lossy().into_owned()).execute(&mut *conn).await;
            if sqlx::query("PRAGMA query_only = ON").execute(&mut *conn).await.is_err() {
                // Never lend a writable reader again.
                conn.discard();
            }
            vacuum.map_err(map_err)
        }
        .await;
        if result.is_err() {
            let _ = std::fs::remove_file(target);
        }
        result.map(|_| ())
    }
}
