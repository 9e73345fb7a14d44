//! The outbox delivery worker: claims due messages, renders, sends, and records the result.
//!
//! Claims are leases: a node that dies mid-delivery leaves its messages to be claimed again when
//! the lease ends, and concurrent nodes never claim the same row. A failed send is retried with
//! exponential backoff, forever: a message is never dropped. A message is sent at least once; a
//! crash between the send and its recording can, rarely, send it twice.

use sesame_core::audit::{AuditAction, AuditEvent, Outcome, RequestContext};
use sesame_core::clock::Clock;
use sesame_core::keys::OpenError;
use sesame_core::mail::QueuedMail;
use sesame_core::store::{Store, StoreError};
use std::sync::Arc;
use std::time::Duration as StdDuration;
use time::Duration;
use tokio::sync::Notify;

use crate::catalogue::Catalogue;
use crate::message;
use crate::settings::MailSettings;
use crate::transport::{Envelope, Transport};

const BATCH: u32 = 20;
/// Longer than any SMTP timeout: a live node always finishes before its lease ends.
const LEASE: Duration = Duration::minutes(10);
/// A message sealed with a key this node lacks may be one another node has just started
/// sealing with (a rotated key file not reloaded here yet; nodes look at it every 30 seconds):
/// it is retried until it is this old, then dropped.
pub const UNREADABLE_GRACE: Duration = Duration::minutes(15);
/// SQLite's WAL is folded into the database at most this often after secrets were erased.
const COMPACT_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// What one flush did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlushReport {
    pub sent: u32,
    pub deferred: u32,
    /// Given up: their secret cannot be opened with the key ring.
    pub dropped: u32,
}

/// What became of one claimed message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Delivery {
    Sent,
    Deferred,
    Dropped,
}

#[derive(Debug, Clone)]
pub struct OutboxWorker {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    catalogue: Arc<Catalogue>,
    transport: Arc<dyn Transport>,
    from: String,
    retry_base: StdDuration,
    retry_max: StdDuration,
    poll_interval: StdDuration,
    wake: Arc<Notify>,
    compacted_at: Arc<std::sync::Mutex<Option<std::time::Instant>>>,
}

impl OutboxWorker {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        catalogue: Arc<Catalogue>,
        transport: Arc<dyn Transport>,
        settings: &MailSettings,
    ) -> Self {
        Self {
            store,
            clock,
            catalogue,
            transport,
            from: settings.from.clone(),
            retry_base: StdDuration::from_secs(settings.retry_base_secs.max(1)),
            retry_max: StdDuration::from_secs(settings.retry_max_secs.max(1)),
            poll_interval: StdDuration::from_secs(settings.poll_interval_secs.max(1)),
            wake: Arc::new(Notify::new()),
            compacted_at: Arc::new(std::sync::Mutex::new(None)),
        }
    }

    /// Wakes the running worker at once (after this process queued something).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// A handle that wakes this worker, for the parts of the process that queue e-mails.
    pub fn waker(&self) -> Arc<Notify> {
        Arc::clone(&self.wake)
    }

    /// Delivers every message that is due now, then returns.
    pub async fn flush(&self) -> Result<FlushReport, StoreError> {
        let mut report = FlushReport::default();
        loop {
            let now = self.clock.now();
            let batch = self.store.claim_due_mail(now, now + LEASE, BATCH).await?;
            if batch.is_empty() {
                break;
            }
            for mail in batch {
                match self.deliver(&mail).await? {
                    Delivery::Sent => report.sent += 1,
                    Delivery::Deferred => report.deferred += 1,
                    Delivery::Dropped => report.dropped += 1,
                }
            }
        }
        if report.sent + report.dropped > 0 {
            self.compact().await;
        }
        Ok(report)
    }

    /// Secrets were just erased: fold SQLite's WAL into the database, at most every few seconds.
    async fn compact(&self) {
        let due = self
            .compacted_at
            .lock()
            .map(|mut at| {
                let due = at.is_none_or(|t| t.elapsed() >= COMPACT_EVERY);
                if due {
                    *at = Some(std::time::Instant::now());
                }
                due
            })
            .unwrap_or(true);
        if due && let Err(e) = self.store.compact().await {
            tracing::debug!(error = %e, "WAL not compacted this time");
        }
    }

    /// Runs until `shutdown` resolves: flushes at every poll interval or wake-up.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            match self.flush().await {
                Ok(r) if r.sent + r.deferred + r.dropped > 0 => {
                    tracing::info!(sent = r.sent, deferred = r.deferred, dropped = r.dropped, "outbox flushed")
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "outbox delivery failed"),
            }
            tokio::select! {
                () = &mut shutdown => return,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(self.poll_interval) => {}
            }
        }
    }

    /// Sends one claimed message and records what became of it.
    async fn deliver(&self, mail: &QueuedMail) -> Result<Delivery, StoreError> {
        let message = match &mail.message {
            Ok(message) => message,
            Err(unreadable) => return self.unreadable(mail, unreadable).await,
        };
        let kind = message.kind();
        let attempt = async {
            let rendered = self.catalogue.render(message).map_err(|e| e.to_string())?;
            let built = message::build(&self.from, &mail.to, &mail.to_name, &rendered, self.clock.now().into())
                .map_err(|e| e.to_string())?;
            self.transport.send(&built, Envelope { outbox_id: Some(mail.id), kind }).await.map_err(|e| e.to_string())
        };
        let result = attempt.await;
        let now = self.clock.now();
        let ctx = RequestContext::system();
        let mut tx = self.store.begin().await?;
        let delivery = match result {
            Ok(()) => {
                tx.mark_mail_sent(mail.id, now, &message.redacted()).await?;
                let event = AuditEvent::new(AuditAction::MailSent, Outcome::Success, mail.account_id, &ctx)
                    .with_details(serde_json::json!({ "outbox_id": mail.id, "kind": kind, "attempts": mail.attempts }));
                tx.append_audit(&event, now).await?;
                tracing::info!(outbox_id = mail.id, kind, attempts = mail.attempts, "e-mail sent");
                Delivery::Sent
            }
            Err(error) => self.defer(tx.as_mut(), mail, &error, now).await?,
        };
        tx.commit().await?;
        Ok(delivery)
    }

    /// Reschedules a message after a failed attempt (audited at the first one).
    async fn defer(
        &self,
        tx: &mut dyn sesame_core::store::Tx,
        mail: &QueuedMail,
        error: &str,
        now: time::OffsetDateTime,
    ) -> Result<Delivery, StoreError> {
        let delay = self.backoff(mail.attempts);
        tx.reschedule_mail(mail.id, now + delay, error).await?;
        if mail.attempts == 1 {
            let event = AuditEvent::new(
                AuditAction::MailDeferred,
                Outcome::Failure,
                mail.account_id,
                &RequestContext::system(),
            )
            .with_details(serde_json::json!({ "outbox_id": mail.id, "kind": mail.kind, "error": error }));
            tx.append_audit(&event, now).await?;
        }
        tracing::warn!(outbox_id = mail.id, kind = %mail.kind, attempts = mail.attempts, retry_in_secs = delay.whole_seconds(), %error, "e-mail deferred");
        Ok(Delivery::Deferred)
    }

    /// A message whose secret does not open is never sent garbled. Sealed with a key this node
    /// lacks, it waits [`UNREADABLE_GRACE`] for another node (or a reloaded key file); after
    /// that, or if it was altered, it is dropped, with an audit event and an error for the
    /// operator saying what to do.
    async fn unreadable(&self, mail: &QueuedMail, why: &OpenError) -> Result<Delivery, StoreError> {
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let reason = format!("its secret cannot be opened: {why}");
        if matches!(why, OpenError::UnknownKey(_)) && now - mail.created_at < UNREADABLE_GRACE {
            let delivery = self.defer(tx.as_mut(), mail, &reason, now).await?;
            tx.commit().await?;
            return Ok(delivery);
        }
        tx.drop_mail(mail.id, now, &reason).await?;
        let details = serde_json::json!({ "outbox_id": mail.id, "kind": mail.kind, "reason": why.to_string() });
        let event =
            AuditEvent::new(AuditAction::MailDropped, Outcome::Failure, mail.account_id, &RequestContext::system())
                .with_details(details);
        tx.append_audit(&event, now).await?;
        tx.commit().await?;
        let account = mail.account_id.map_or_else(|| "-".to_owned(), |a| format!("#{a}"));
        tracing::error!(
            outbox_id = mail.id,
            kind = %mail.kind,
            account = %account,
            "e-mail dropped: {reason}. Check secrets.key_file (every node needs the same key file); \
             if the key is lost, issue a new temporary password (sesame account reset-password {account}) \
             or let the person ask for a new link"
        );
        Ok(Delivery::Dropped)
    }

    /// `base × 2^(attempts−1)`, at most `max`.
    fn backoff(&self, attempts: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempts.saturating_sub(1).min(20));
        let delay = self.retry_base.saturating_mul(factor).min(self.retry_max);
        Duration::try_from(delay).unwrap_or(Duration::hours(1))
    }
}
