//! Where messages go: a folder of `.eml` files, an SMTP relay, or memory (tests).

mod file;
mod memory;
mod smtp;

use async_trait::async_trait;
use lettre::Message;

pub use file::FileTransport;
pub use memory::MemoryTransport;
pub use smtp::SmtpTransport;

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TransportError(pub String);

/// What the transport may use to name or trace a message.
#[derive(Debug, Clone, Copy)]
pub struct Envelope<'a> {
    /// The outbox row, or `None` for `mail test`.
    pub outbox_id: Option<i64>,
    pub kind: &'a str,
}

#[async_trait]
pub trait Transport: Send + Sync + std::fmt::Debug {
    async fn send(&self, message: &Message, envelope: Envelope<'_>) -> Result<(), TransportError>;

    /// For logs and `mail test`: where messages go (never a secret).
    fn describe(&self) -> String;
}
