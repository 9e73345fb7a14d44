//! Secrets at rest: what must be read back (a temporary password or a reset link waiting in the
//! outbox; later a TOTP secret, an OpenID signing key) is sealed with an AEAD under a key kept
//! outside the database, so that the database, its WAL and its backups are never enough to sign
//! in as someone.
//!
//! A [`KeyRing`] holds one or more keys: the first seals, every one opens, so that keys can be
//! rotated while values sealed under the previous key are still around. Sealing is
//! XChaCha20-Poly1305 with a random 192-bit nonce; the additional data binds each value to its
//! place (e.g. the outbox row's kind and recipient), so a sealed value moved elsewhere does not
//! open. A [`Sealer`] is the process's shared handle, reloaded when the key file changes.
//!
//! The ring's text form (the key file, mode 0600): comment lines starting with `#`, then one key
//! per line, `<id> <base64url of 32 bytes>`, the sealing key first.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use chacha20poly1305::aead::{Aead as _, KeyInit as _, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use secrecy::{ExposeSecret as _, SecretBox};
use std::sync::{Arc, RwLock};

use crate::secret::fill_random;

const MAGIC: &[u8; 2] = b"S1";
const NONCE_LEN: usize = 24;
const KEY_LEN: usize = 32;
const MAX_ID_LEN: usize = 32;

/// One key of the ring.
struct Key {
    id: String,
    secret: SecretBox<[u8; KEY_LEN]>,
}

impl Key {
    fn generate() -> Self {
        let mut bytes = [0u8; KEY_LEN];
        fill_random(&mut bytes);
        let mut id_bytes = [0u8; 4];
        fill_random(&mut id_bytes);
        let id = format!("k{}", id_bytes.iter().map(|b| format!("{b:02x}")).collect::<String>());
        Self { id, secret: SecretBox::new(Box::new(bytes)) }
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(self.secret.expose_secret().into())
    }
}

/// The keys that seal and open secrets at rest: the first seals, all open.
pub struct KeyRing {
    keys: Vec<Key>,
}

impl Clone for KeyRing {
    fn clone(&self) -> Self {
        let keys = self
            .keys
            .iter()
            .map(|k| Key { id: k.id.clone(), secret: SecretBox::new(Box::new(*k.secret.expose_secret())) })
            .collect();
        Self { keys }
    }
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing").field("ids", &self.ids()).finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyRingError {
    #[error("line {line}: {reason}")]
    Malformed { line: usize, reason: String },
    #[error("it holds no key")]
    Empty,
    #[error("the key id '{0}' appears twice")]
    DuplicateId(String),
}

/// Why a sealed value did not open.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    #[error("it was sealed with the key '{0}', which is not in the key ring")]
    UnknownKey(String),
    #[error("it is not a sealed value, or it was altered or moved")]
    Corrupt,
}

impl KeyRing {
    /// A ring of one fresh key.
    pub fn generate() -> Self {
        Self { keys: vec![Key::generate()] }
    }

    /// Reads the key file's text.
    pub fn parse(text: &str) -> Result<Self, KeyRingError> {
        let mut keys: Vec<Key> = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let malformed = |reason: &str| KeyRingError::Malformed { line: i + 1, reason: reason.to_owned() };
            let (id, encoded) =
                line.split_once(char::is_whitespace).ok_or_else(|| malformed("expected '<id> <key>'"))?;
            let valid_id = !id.is_empty()
                && id.len() <= MAX_ID_LEN
                && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !valid_id {
                return Err(malformed("the id must be 1 to 32 letters, digits, '-' or '_'"));
            }
            let bytes = B64.decode(encoded.trim()).map_err(|_| malformed("the key is not base64url"))?;
            let bytes: [u8; KEY_LEN] = bytes.try_into().map_err(|_| malformed("the key must be 32 bytes"))?;
            if keys.iter().any(|k| k.id == id) {
                return Err(KeyRingError::DuplicateId(id.to_owned()));
            }
            keys.push(Key { id: id.to_owned(), secret: SecretBox::new(Box::new(bytes)) });
        }
        if keys.is_empty() {
            return Err(KeyRingError::Empty);
        }
        Ok(Self { keys })
    }

    /// The key file's text: a header saying what the file is, then the keys.
    pub fn to_text(&self) -> String {
        let mut out = String::from(concat!(
            "# Sésame: keys sealing secrets at rest (temporary passwords and links waiting to be sent).\n",
            "# The first key seals, every key opens. Keep this file out of the database's backups, but\n",
            "# back it up apart from them: without it, sealed values cannot be opened. Every node of a\n",
            "# cluster needs the same file. Rotate with `sesame secrets rotate`.\n",
        ));
        for key in &self.keys {
            out.push_str(&format!("{} {}\n", key.id, B64.encode(key.secret.expose_secret())));
        }
        out
    }

    /// This ring with a new sealing key in front; the others still open.
    #[must_use]
    pub fn rotated(self) -> Self {
        let mut keys = vec![Key::generate()];
        keys.extend(self.keys);
        Self { keys }
    }

    /// This ring with its sealing key only.
    #[must_use]
    pub fn pruned(mut self) -> Self {
        self.keys.truncate(1);
        self
    }

    /// The id of the sealing key.
    pub fn primary_id(&self) -> &str {
        self.keys.first().map_or("", |k| k.id.as_str())
    }

    pub fn ids(&self) -> Vec<&str> {
        self.keys.iter().map(|k| k.id.as_str()).collect()
    }

    /// Seals `plaintext` under the first key, bound to `aad`.
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let Some(key) = self.keys.first() else {
            return Vec::new(); // unreachable: a ring is never empty
        };
        let mut nonce = [0u8; NONCE_LEN];
        fill_random(&mut nonce);
        let sealed = key.cipher().encrypt(XNonce::from_slice(&nonce), Payload { msg: plaintext, aad });
        let Ok(ciphertext) = sealed else {
            return Vec::new(); // XChaCha20-Poly1305 fails only beyond 256 GiB
        };
        let mut out = Vec::with_capacity(3 + key.id.len() + NONCE_LEN + ciphertext.len());
        out.extend_from_slice(MAGIC);
        out.push(u8::try_from(key.id.len()).unwrap_or(0));
        out.extend_from_slice(key.id.as_bytes());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        out
    }

    /// Opens a value sealed by [`KeyRing::seal`] with the same `aad`.
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, OpenError> {
        let (id, nonce, ciphertext) = split(sealed).ok_or(OpenError::Corrupt)?;
        let key = self.keys.iter().find(|k| k.id == id).ok_or_else(|| OpenError::UnknownKey(id.to_owned()))?;
        key.cipher()
            .decrypt(XNonce::from_slice(nonce), Payload { msg: ciphertext, aad })
            .map_err(|_| OpenError::Corrupt)
    }

    /// The id of the key a value was sealed with, without opening it.
    pub fn key_id_of(sealed: &[u8]) -> Option<&str> {
        split(sealed).map(|(id, _, _)| id)
    }
}

fn split(sealed: &[u8]) -> Option<(&str, &[u8], &[u8])> {
    let rest = sealed.strip_prefix(MAGIC)?;
    let (&len, rest) = rest.split_first()?;
    let len = usize::from(len);
    if rest.len() < len + NONCE_LEN + 16 {
        return None;
    }
    let (id, rest) = rest.split_at(len);
    let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
    Some((std::str::from_utf8(id).ok()?, nonce, ciphertext))
}

/// The process's key ring, shared by everything that seals or opens, and replaced in place when
/// the key file is reloaded.
#[derive(Clone)]
pub struct Sealer(Arc<RwLock<Arc<KeyRing>>>);

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Sealer").field(&self.ring()).finish()
    }
}

impl Sealer {
    pub fn new(ring: KeyRing) -> Self {
        Self(Arc::new(RwLock::new(Arc::new(ring))))
    }

    /// A ring of one key that lives as long as the process: for tests and tools that seal
    /// nothing that must outlive them.
    pub fn ephemeral() -> Self {
        Self::new(KeyRing::generate())
    }

    pub fn ring(&self) -> Arc<KeyRing> {
        self.0.read().map(|r| Arc::clone(&r)).unwrap_or_else(|poisoned| Arc::clone(&poisoned.into_inner()))
    }

    /// Replaces the ring (the key file changed).
    pub fn reload(&self, ring: KeyRing) {
        match self.0.write() {
            Ok(mut r) => *r = Arc::new(ring),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(ring),
        }
    }

    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
        self.ring().seal(aad, plaintext)
    }

    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, OpenError> {
        self.ring().open(aad, sealed)
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_with_its_ring_and_its_additional_data_only() {
        let ring = KeyRing::generate();
        let sealed = ring.seal(b"outbox/temporary_password/jeanne@example.fr", b"Xk7pQ2mN9rT4vW8yZ3bC");
        assert!(!sealed.windows(20).any(|w| w == b"Xk7pQ2mN9rT4vW8yZ3bC"), "nothing in clear");
        assert_eq!(
            ring.open(b"outbox/temporary_password/jeanne@example.fr", &sealed).unwrap(),
            b"Xk7pQ2mN9rT4vW8yZ3bC"
        );
        assert_eq!(ring.open(b"outbox/temporary_password/mallory@example.fr", &sealed), Err(OpenError::Corrupt));
        let mut altered = sealed.clone();
        *altered.last_mut().unwrap() ^= 1;
        assert_eq!(ring.open(b"outbox/temporary_password/jeanne@example.fr", &altered), Err(OpenError::Corrupt));
        let other = KeyRing::generate();
        assert_eq!(
            other.open(b"outbox/temporary_password/jeanne@example.fr", &sealed),
            Err(OpenError::UnknownKey(ring.primary_id().to_owned()))
        );
        assert_eq!(KeyRing::key_id_of(&sealed), Some(ring.primary_id()));
        assert_ne!(ring.seal(b"a", b"same"), ring.seal(b"a", b"same"), "a fresh nonce each time");
    }

    #[test]
    fn after_a_rotation_the_new_key_seals_and_the_old_one_still_opens() {
        let ring = KeyRing::generate();
        let old_id = ring.primary_id().to_owned();
        let before = ring.seal(b"x", b"secret");
        let ring = KeyRing::parse(&ring.rotated().to_text()).unwrap();
        assert_eq!(ring.ids().len(), 2);
        assert_ne!(ring.primary_id(), old_id);
        assert_eq!(ring.ids()[1], old_id);
        assert_eq!(ring.open(b"x", &before).unwrap(), b"secret");
        let after = ring.seal(b"x", b"secret");
        assert_eq!(KeyRing::key_id_of(&after), Some(ring.primary_id()));
        let pruned = ring.pruned();
        assert_eq!(pruned.open(b"x", &before), Err(OpenError::UnknownKey(old_id)));
        assert_eq!(pruned.open(b"x", &after).unwrap(), b"secret");
    }

    #[test]
    fn the_key_file_is_checked_line_by_line() {
        assert_eq!(KeyRing::parse("# nothing\n\n").unwrap_err(), KeyRingError::Empty);
        assert!(matches!(KeyRing::parse("k1 notbase64!!"), Err(KeyRingError::Malformed { line: 1, .. })));
        assert!(matches!(KeyRing::parse("# c\nk1 AAAA"), Err(KeyRingError::Malformed { line: 2, .. })));
        let key = B64.encode([7u8; 32]);
        assert!(matches!(KeyRing::parse(&format!("bad/id {key}")), Err(KeyRingError::Malformed { .. })));
        assert_eq!(KeyRing::parse(&format!("k1 {key}\nk1 {key}")).unwrap_err(), KeyRingError::DuplicateId("k1".into()));
        let ring = KeyRing::parse(&format!("# header\nk1 {key}\n")).unwrap();
        assert_eq!(ring.ids(), ["k1"]);
        assert!(!format!("{ring:?}").contains(&key), "Debug never shows a key");
    }

    #[test]
    fn a_reloaded_sealer_opens_with_the_new_ring() {
        let sealer = Sealer::ephemeral();
        let sealed = sealer.seal(b"x", b"v");
        let rotated = KeyRing::parse(&sealer.ring().to_text()).unwrap().rotated();
        sealer.reload(rotated);
        assert_eq!(sealer.open(b"x", &sealed).unwrap(), b"v");
        assert_ne!(KeyRing::key_id_of(&sealer.seal(b"x", b"v")), KeyRing::key_id_of(&sealed));
    }
}
