//! E-mail for Sésame: what each message says ([`catalogue`]), how it leaves ([`transport`]),
//! and the worker that drains the outbox ([`worker`]).
//!
//! Messages are queued by the use cases in the same transaction as the change that causes them;
//! this crate only ever reads the outbox, so an e-mail is never sent for a change that rolled
//! back and never lost when the transport fails: it is retried with exponential backoff.

pub mod catalogue;
pub mod french_time;
pub mod message;
pub mod settings;
pub mod transport;
pub mod worker;

pub use catalogue::{Catalogue, RenderedMail};
pub use settings::{MailSettings, SmtpSecurity, SmtpSettings, TransportKind};
pub use transport::{FileTransport, MemoryTransport, SmtpTransport, Transport, TransportError};
pub use worker::{FlushReport, OutboxWorker};
