// The Store implementation shared by both backends. Not a module: `sqlite.rs` and `postgres.rs`
// each `include!` it after defining `DB` (the sqlx driver), `NAME`, `BEGIN_WRITE`,
// `ACCOUNT_FOR_UPDATE`, `CLAIM_MAIL`, `CLAIM_LOGOUT`, the `Readers` and the `Writer` that lend out connections,
// and the inherent methods `migrate_impl`, `backup_impl` and `compact_impl`.
// Every statement uses `$n` placeholders, which both drivers accept.

use async_trait::async_trait;
use sesame_core::audit::{AuditEvent, AuditFilter, AuditRecord};
use sesame_core::clock::to_unix_millis;
use sesame_core::keys::{KeyRing, Sealer};
use sesame_core::mail::{MailMessage, OutboxMail, QueuedMail};
use sesame_core::model::{Account, AccountFilter, AccountId, AccountStatus, NewAccount, PasswordCredential};
use sesame_core::session::{ApiToken, NewApiToken, NewSession, Session, SessionId, ThrottleState, TokenKind};
use sesame_core::store::{Purged, Reseal, Resealed, Store, StoreError, StoreResult, Tx};
use std::path::Path;
use time::{Duration, OffsetDateTime};

use crate::rows::{self, AccountRow, ApiTokenRow, AuditRow, CredentialRow, OutboxRow, SessionRow, ThrottleRow};

use crate::{account_select, map_err};

/// The store: [`Readers`] for reads, a [`Writer`] for every write.
///
/// On PostgreSQL both are the one sqlx pool. On SQLite, which admits one writer at a time, the
/// writer is a single connection lent out in turn: writers queue, in order, instead of each
/// taking a connection and then polling for the database lock (SQLite's busy handler sleeps
/// between attempts, which made a write-heavy page spend its time asleep). Readers never wait
/// for it (WAL), and their connections are `query_only`, so a write sent to the wrong place
/// fails in the tests rather than contending in production. Neither is an sqlx pool on SQLite:
/// a pool tests every connection it takes back with a round trip to the connection's thread,
/// which a local file does not need.
#[derive(Debug, Clone)]
pub struct SqlStore {
    readers: Readers,
    writer: Writer,
    /// Seals what must be read back and never rest in clear (see `sesame_core::keys`).
    sealer: Sealer,
}

/// One write transaction on the writer's connection; rolled back when dropped uncommitted.
///
/// It drives the driver's transaction manager itself because the connection is not always a
/// pool's (on SQLite it is the writer's own); `Drop` queues the rollback exactly as
/// `sqlx::Transaction` does, so the next user of the connection finds it clean.
pub struct SqlTx {
    conn: WriterConn,
    open: bool,
    /// Audit events appended so far: logged once they are committed.
    events: Vec<AuditEvent>,
    sealer: Sealer,
}

impl std::fmt::Debug for SqlTx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlTx").field("open", &self.open).finish_non_exhaustive()
    }
}

impl Drop for SqlTx {
    fn drop(&mut self) {
        if self.open {
            <<DB as sqlx::Database>::TransactionManager as sqlx_core::transaction::TransactionManager>::start_rollback(&mut self.conn);
        }
    }
}

impl SqlStore {
    async fn begin_tx(&self) -> StoreResult<SqlTx> {
        let mut conn = self.writer.acquire().await?;
        <<DB as sqlx::Database>::TransactionManager as sqlx_core::transaction::TransactionManager>::begin(
            &mut conn,
            Some(sqlx::SqlSafeStr::into_sql_str(BEGIN_WRITE)),
        )
        .await
        .map_err(map_err)?;
        Ok(SqlTx { conn, open: true, events: Vec::new(), sealer: self.sealer.clone() })
    }
}

impl SqlTx {
    async fn finish(&mut self) -> StoreResult<()> {
        <<DB as sqlx::Database>::TransactionManager as sqlx_core::transaction::TransactionManager>::commit(&mut self.conn)
            .await
            .map_err(map_err)?;
        self.open = false;
        for event in self.events.drain(..) {
            event.log();
        }
        Ok(())
    }
}

fn json(value: &impl serde::Serialize) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Database(format!("cannot encode JSON: {e}")))
}

/// The one statement that records an audit event, in a transaction or on its own.
fn insert_audit(
    e: &AuditEvent,
    now: OffsetDateTime,
) -> StoreResult<sqlx::query::Query<'static, DB, <DB as sqlx::Database>::Arguments>> {
    Ok(sqlx::query(concat!(
        "INSERT INTO audit_events (occurred_at, action, outcome, actor, account_id, ip, user_agent, details, request_id)",
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    ))
    .bind(to_unix_millis(now))
    .bind(e.action.as_str())
    .bind(e.outcome.as_str())
    .bind(e.context.actor.to_string())
    .bind(e.account_id.map(|a| a.0))
    .bind(e.context.ip.clone())
    .bind(e.context.user_agent.clone())
    .bind(json(&e.details)?)
    .bind(e.context.request_id.clone()))
}


/// A queued e-mail as re-sealing reads it: id, kind, recipient, payload, sealed secret.
type QueuedSecretRow = (i64, String, String, String, Option<Vec<u8>>);

impl SqlStore {
    /// Seals queued secrets under the ring's first key, in one transaction (see
    /// [`Store::reseal_secrets`]).
    async fn reseal_impl(&self, which: Reseal) -> StoreResult<Resealed> {
        let ring = self.sealer.ring();
        let mut tx = self.begin_tx().await?;
        let rows: Vec<QueuedSecretRow> = sqlx::query_as(
            "SELECT id, kind, recipient, payload, sealed FROM outbox WHERE sent_at IS NULL AND dropped_at IS NULL",
        )
        .fetch_all(&mut *tx.conn)
        .await
        .map_err(map_err)?;
        let mut report = Resealed::default();
        for (id, kind, recipient, payload, sealed) in rows {
            let context = MailMessage::sealing_context(&kind, &recipient);
            let secret = match &sealed {
                Some(sealed) if which == Reseal::ClearOnly || KeyRing::key_id_of(sealed) == Some(ring.primary_id()) => continue,
                Some(sealed) => match ring.open(&context, sealed) {
                    Ok(secret) => secret,
                    Err(_) => {
                        report.unreadable += 1;
                        continue;
                    }
                },
                // Left in clear by a version that did not seal: seal it now.
                None => match serde_json::from_str::<MailMessage>(&payload).ok().and_then(|m| {
                    m.secret().filter(|s| *s != sesame_core::mail::REDACTED).map(|s| s.as_bytes().to_vec())
                }) {
                    Some(secret) => secret,
                    None => continue,
                },
            };
            let redacted = serde_json::from_str::<MailMessage>(&payload).map(|m| m.redacted()).map_err(|e| StoreError::Corrupt(format!("outbox message {id}: {e}")))?;
            sqlx::query("UPDATE outbox SET payload = $1, sealed = $2, sealed_key = $3 WHERE id = $4")
                .bind(json(&redacted)?)
                .bind(ring.seal(&context, &secret))
                .bind(ring.primary_id())
                .bind(id)
                .execute(&mut *tx.conn)
                .await
                .map_err(map_err)?;
            report.resealed += 1;
        }
        if which == Reseal::All {
            reseal_factors(&mut tx, &ring, &mut report).await?;
            reseal_signing_keys(&mut tx, &ring, &mut report).await?;
        }
        tx.finish().await?;
        Ok(report)
    }
}

/// Seals the authenticator apps' secrets under the ring's first key (after a rotation).
async fn reseal_factors(tx: &mut SqlTx, ring: &KeyRing, report: &mut Resealed) -> StoreResult<()> {
    let rows: Vec<(i64, i64, Vec<u8>)> = sqlx::query_as("SELECT id, account_id, sealed FROM second_factors")
        .fetch_all(&mut *tx.conn)
        .await
        .map_err(map_err)?;
    let rows = rows.into_iter().map(|(id, account, sealed)| {
        (id, sesame_core::factor::factor_sealing_context(AccountId(account)), sealed)
    });
    reseal_rows(tx, ring, rows, "UPDATE second_factors SET sealed = $1, sealed_key = $2 WHERE id = $3", report).await
}

/// Seals again, under the ring's first key, each `(id, sealing context, sealed value)` that
/// another key sealed, with `update` (`$1` sealed, `$2` key id, `$3` id); counts what it could
/// not open.
async fn reseal_rows(
    tx: &mut SqlTx,
    ring: &KeyRing,
    rows: impl IntoIterator<Item = (i64, Vec<u8>, Vec<u8>)>,
    update: &'static str,
    report: &mut Resealed,
) -> StoreResult<()> {
    for (id, context, sealed) in rows {
        if KeyRing::key_id_of(&sealed) == Some(ring.primary_id()) {
            continue;
        }
        let Ok(secret) = ring.open(&context, &sealed) else {
            report.unreadable += 1;
            continue;
        };
        sqlx::query(update)
            .bind(ring.seal(&context, &secret))
            .bind(ring.primary_id())
            .bind(id)
            .execute(&mut *tx.conn)
            .await
            .map_err(map_err)?;
        report.resealed += 1;
    }
    Ok(())
}

// The two halves of the port, each in a file of its own.
include!("backend_store.rs");
include!("backend_tx.rs");
include!("backend_factors.rs");
include!("backend_clients.rs");
include!("backend_signing_keys.rs");
include!("backend_grants.rs");
include!("backend_logout.rs");
