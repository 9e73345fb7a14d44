//! The key file of the secrets at rest (`secrets.key_file`): read, created at first start when
//! it is the default one, written atomically with mode 0600.

use sesame_core::keys::KeyRing;
use std::fs::{DirBuilder, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::Path;

use crate::error::CliError;

/// Reads the key ring of `path`: it must be readable by its owner only.
pub fn read(path: &Path) -> Result<KeyRing, String> {
    let metadata = std::fs::metadata(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if metadata.permissions().mode() & 0o077 != 0 {
        return Err(format!(
            "{} can be read by other users: make it readable by its owner only (chmod 600 {})",
            path.display(),
            path.display()
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    KeyRing::parse(&text).map_err(|e| format!("{} is not a valid key file: {e}", path.display()))
}

/// What `config check` says of the key file at `path` (`named` in the configuration, or the
/// default): a named one must exist and be valid; the default one may be missing (it will be
/// created).
pub fn check(path: &Path, named: bool) -> Result<(), String> {
    if !path.exists() {
        if named {
            return Err(missing(path));
        }
        return Ok(());
    }
    read(path).map(|_| ())
}

/// Why a named key file that does not exist yet is refused (`sesame secrets rotate` creates it).
pub fn missing(path: &Path) -> String {
    format!(
        "{} does not exist: create it with `sesame secrets rotate` on one node, then copy it (mode 0600) to every other node",
        path.display()
    )
}

/// The key ring to use: the key file's, or, for the default file only, a new one written there.
pub fn load(path: &Path, named: bool) -> Result<KeyRing, CliError> {
    if path.exists() {
        return read(path).map_err(CliError::bad);
    }
    if named {
        return Err(CliError::bad(missing(path)));
    }
    let ring = KeyRing::generate();
    write(path, &ring)?;
    tracing::info!(file = %path.display(), key = ring.primary_id(), "created the key file of the secrets at rest");
    Ok(ring)
}

/// Writes `ring` to `path` atomically (a 0600 temporary file beside it, then a rename), creating
/// the folder (0700) if needed.
pub fn write(path: &Path, ring: &KeyRing) -> Result<(), CliError> {
    let fail = |what: &str, e: std::io::Error| CliError::Runtime(format!("cannot {what} {}: {e}", path.display()));
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
        DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(|e| fail("create the folder of", e))?;
    }
    let temporary = path.with_extension("key.tmp");
    let _ = std::fs::remove_file(&temporary);
    let mut file =
        OpenOptions::new().write(true).create_new(true).mode(0o600).open(&temporary).map_err(|e| fail("write", e))?;
    file.write_all(ring.to_text().as_bytes()).and_then(|()| file.sync_all()).map_err(|e| fail("write", e))?;
    std::fs::rename(&temporary, path).map_err(|e| fail("replace", e))
}
