use async_trait::async_trait;
use lettre::Message;
use std::sync::{Arc, Mutex};

use super::{Envelope, Transport, TransportError};

/// Keeps messages in memory; can be told to fail, to play an SMTP outage.
#[derive(Debug, Clone, Default)]
pub struct MemoryTransport {
    sent: Arc<Mutex<Vec<Vec<u8>>>>,
    failing: Arc<Mutex<bool>>,
}

impl MemoryTransport {
    pub fn sent(&self) -> Vec<Vec<u8>> {
        self.sent.lock().map(|s| s.clone()).unwrap_or_default()
    }

    pub fn set_failing(&self, failing: bool) {
        if let Ok(mut f) = self.failing.lock() {
            *f = failing;
        }
    }
}

#[async_trait]
impl Transport for MemoryTransport {
    async fn send(&self, message: &Message, _: Envelope<'_>) -> Result<(), TransportError> {
        if self.failing.lock().map(|f| *f).unwrap_or(false) {
            return Err(TransportError("memory transport set to fail".into()));
        }
        self.sent.lock().map_err(|_| TransportError("poisoned".into()))?.push(message.formatted());
        Ok(())
    }

    fn describe(&self) -> String {
        "memory".into()
    }
}
