//! The outbox delivery worker: claims due messages, renders, sends, and records the result.
//!
//! Claims are leases: a node that dies mid-delivery leaves its messages to be claimed again when
//! the lease ends, and concurrent nodes never claim the same row. A failed send is retried with
//! exponential backoff, forever: a message is never dropped. A message is sent at least once; a
//! crash between the send and its recording can, rarely, send it twice.

use sesame_core::audit::{AuditAction, AuditEvent, Outcome, RequestContext};
use sesame_core::clock::Clock;
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

/// What one flush did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlushReport {
    pub sent: u32,
    pub deferred: u32,
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
                return Ok(report);
            }
            for mail in batch {
                if self.deliver(&mail).await? {
                    report.sent += 1;
                } else {
                    report.deferred += 1;
                }
            }
        }
    }

    /// Runs until `shutdown` resolves: flushes at every poll interval or wake-up.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            match self.flush().await {
                Ok(r) if r.sent + r.deferred > 0 => {
                    tracing::info!(sent = r.sent, deferred = r.deferred, "outbox flushed")
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

    /// Returns whether the message was sent (else it was rescheduled).
    async fn deliver(&self, mail: &QueuedMail) -> Result<bool, StoreError> {
        let kind = mail.message.kind();
        let attempt = async {
            let rendered = self.catalogue.render(&mail.message).map_err(|e| e.to_string())?;
            let message = message::build(&self.from, &mail.to, &mail.to_name, &rendered, self.clock.now().into())
                .map_err(|e| e.to_string())?;
            self.transport.send(&message, Envelope { outbox_id: Some(mail.id), kind }).await.map_err(|e| e.to_string())
        };
        let result = attempt.await;
        let now = self.clock.now();
        let ctx = RequestContext::system();
        let mut tx = self.store.begin().await?;
        let sent = match result {
            Ok(()) => {
                tx.mark_mail_sent(mail.id, now, &mail.message.redacted()).await?;
                let event = AuditEvent::new(AuditAction::MailSent, Outcome::Success, mail.account_id, &ctx)
                    .with_details(serde_json::json!({ "outbox_id": mail.id, "kind": kind, "attempts": mail.attempts }));
                tx.append_audit(&event, now).await?;
                tracing::info!(outbox_id = mail.id, kind, attempts = mail.attempts, "e-mail sent");
                true
            }
            Err(error) => {
                let delay = self.backoff(mail.attempts);
                tx.reschedule_mail(mail.id, now + delay, &error).await?;
                if mail.attempts == 1 {
                    let event = AuditEvent::new(AuditAction::MailDeferred, Outcome::Failure, mail.account_id, &ctx)
                        .with_details(serde_json::json!({ "outbox_id": mail.id, "kind": kind, "error": error }));
                    tx.append_audit(&event, now).await?;
                }
                tracing::warn!(outbox_id = mail.id, kind, attempts = mail.attempts, retry_in_secs = delay.whole_seconds(), %error, "e-mail deferred");
                false
            }
        };
        tx.commit().await?;
        Ok(sent)
    }

    /// `base × 2^(attempts−1)`, at most `max`.
    fn backoff(&self, attempts: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempts.saturating_sub(1).min(20));
        let delay = self.retry_base.saturating_mul(factor).min(self.retry_max);
        Duration::try_from(delay).unwrap_or(Duration::hours(1))
    }
}
