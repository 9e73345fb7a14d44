use async_trait::async_trait;
use lettre::Message;
use std::fs::{DirBuilder, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::PathBuf;
use time::OffsetDateTime;
use time::macros::format_description;

use super::{Envelope, Transport, TransportError};

/// Writes each message as `<UTC time>-<outbox id>-<kind>.eml` in a folder, readable only by the
/// server's user (a temporary password is inside). Written to a temporary name then renamed, so
/// a reader never sees half a message.
#[derive(Debug, Clone)]
pub struct FileTransport {
    dir: PathBuf,
}

impl FileTransport {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    fn write(&self, bytes: &[u8], envelope: Envelope<'_>) -> std::io::Result<PathBuf> {
        DirBuilder::new().recursive(true).mode(0o700).create(&self.dir)?;
        let stamp = OffsetDateTime::now_utc()
            .format(format_description!("[year][month][day]T[hour][minute][second].[subsecond digits:6]Z"))
            .unwrap_or_default();
        let id = envelope.outbox_id.map_or_else(|| "test".to_owned(), |id| format!("{id:06}"));
        let name = format!("{stamp}-{id}-{}.eml", envelope.kind);
        let target = self.dir.join(&name);
        let partial = self.dir.join(format!(".{name}.partial"));
        let mut file = OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&partial)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&partial, &target)?;
        Ok(target)
    }
}

#[async_trait]
impl Transport for FileTransport {
    async fn send(&self, message: &Message, envelope: Envelope<'_>) -> Result<(), TransportError> {
        let bytes = message.formatted();
        let this = self.clone();
        let kind = envelope.kind.to_owned();
        let outbox_id = envelope.outbox_id;
        let path = tokio::task::spawn_blocking(move || this.write(&bytes, Envelope { outbox_id, kind: &kind }))
            .await
            .map_err(|e| TransportError(e.to_string()))?
            .map_err(|e| TransportError(format!("cannot write to {}: {e}", self.dir.display())))?;
        tracing::debug!(path = %path.display(), "e-mail written");
        Ok(())
    }

    fn describe(&self) -> String {
        format!("files in {}", self.dir.display())
    }
}
