//! Password hashing: argon2id on a bounded pool of worker threads.
//!
//! Each worker owns its argon2 memory (19 MiB at the default cost) and reuses it from one hash to
//! the next, which is markedly faster than allocating it per hash and keeps memory bounded to
//! `workers × m_cost`. Requests wait in a bounded queue; when it is full the caller gets
//! [`HashError::Overloaded`] at once and the web layer answers 503 with `Retry-After` instead of
//! letting memory grow.

use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD as B64;
use secrecy::{ExposeSecret, SecretBox, SecretString};
use serde::Deserialize;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

use crate::secret::fill_random;
use crate::types::Password;

/// Argon2id cost and pool size, from configuration (`[hashing]`).
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HashingSettings {
    /// Memory cost in KiB (default 19456 = 19 MiB, OWASP's minimum for argon2id with t=2).
    pub memory_kib: u32,
    /// Number of passes (default 2).
    pub iterations: u32,
    /// Lanes (default 1).
    pub parallelism: u32,
    /// Hashing threads; 0 means one per CPU core.
    pub workers: usize,
    /// Requests that may wait for a worker before new ones are refused (default 64).
    pub max_queue: usize,
    /// A secret mixed into every hash (argon2's secret key), kept outside the database, 16 to 64
    /// bytes. Changing or losing it invalidates every password: prefer `pepper_file`.
    #[serde(skip_serializing)]
    pub pepper: Option<SecretString>,
    pub pepper_file: Option<std::path::PathBuf>,
}

impl Default for HashingSettings {
    fn default() -> Self {
        Self {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
            workers: 0,
            max_queue: 64,
            pepper: None,
            pepper_file: None,
        }
    }
}

impl HashingSettings {
    /// Problems with these settings, as (key, reason) pairs for `config check`.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if self.memory_kib < 19_456 {
            out.push(("hashing.memory_kib", "must be at least 19456 (OWASP ASVS minimum for argon2id)".into()));
        }
        if self.iterations < 2 {
            out.push(("hashing.iterations", "must be at least 2".into()));
        }
        if self.parallelism == 0 || self.parallelism > 16 {
            out.push(("hashing.parallelism", "must be between 1 and 16".into()));
        }
        if self.max_queue == 0 {
            out.push(("hashing.max_queue", "must be at least 1".into()));
        }
        if let Some(pepper) = &self.pepper
            && !(16..=64).contains(&pepper.expose_secret().len())
        {
            out.push(("hashing.pepper", "must be between 16 and 64 bytes long".into()));
        }
        out
    }

    /// Cheap parameters for tests only (never accepted by `config check`).
    pub fn insecure_for_tests() -> Self {
        Self { memory_kib: 64, iterations: 1, parallelism: 1, workers: 2, ..Self::default() }
    }

    fn params(&self) -> Result<Params, HashError> {
        Params::new(self.memory_kib, self.iterations, self.parallelism, Some(32))
            .map_err(|e| HashError::Internal(format!("invalid argon2 parameters: {e}")))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("too many password checks are waiting; try again shortly")]
    Overloaded,
    #[error("password hashing failed: {0}")]
    Internal(String),
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verification {
    pub matches: bool,
    /// The stored hash uses other parameters than the configured ones: store a new hash.
    pub needs_rehash: bool,
}

enum Job {
    Hash { password: Password, reply: oneshot::Sender<Result<String, HashError>> },
    Verify { password: Password, phc: String, reply: oneshot::Sender<Result<Verification, HashError>> },
}

/// Handle to the hashing pool; cheap to clone.
#[derive(Clone)]
pub struct PasswordHasher {
    queue: SyncSender<Job>,
    /// Made on first use: commands that never check a password never pay for it.
    dummy_phc: Arc<tokio::sync::OnceCell<String>>,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher").finish_non_exhaustive()
    }
}

struct Engine {
    params: Params,
    pepper: Option<Arc<SecretBox<Vec<u8>>>>,
}

impl PasswordHasher {
    /// Starts the worker threads. The pepper, when configured, is mixed into every hash as
    /// argon2's secret key: it lives in configuration (a file or an environment variable), never
    /// in the database.
    pub fn start(settings: &HashingSettings) -> Result<Self, HashError> {
        let pepper =
            settings.pepper.as_ref().map(|p| Arc::new(SecretBox::new(Box::new(p.expose_secret().as_bytes().to_vec()))));
        let engine = Arc::new(Engine { params: settings.params()?, pepper });
        if engine.pepper.as_ref().is_some_and(|p| p.expose_secret().len() > 64) {
            return Err(HashError::Internal("the pepper is longer than 64 bytes".into()));
        }
        let workers = match settings.workers {
            0 => std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
            n => n,
        };
        let (queue, jobs) = sync_channel::<Job>(settings.max_queue);
        let jobs = Arc::new(Mutex::new(jobs));
        for i in 0..workers {
            let (jobs, engine) = (Arc::clone(&jobs), Arc::clone(&engine));
            std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || worker(&engine, &jobs))
                .map_err(|e| HashError::Internal(format!("cannot start a hashing thread: {e}")))?;
        }
        Ok(Self { queue, dummy_phc: Arc::new(tokio::sync::OnceCell::new()) })
    }

    /// Hashes a new password into a PHC string (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`).
    pub async fn hash(&self, password: &Password) -> Result<String, HashError> {
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Hash { password: password.clone(), reply })?;
        answer.await.map_err(|_| HashError::Internal("hashing worker stopped".into()))?
    }

    /// Checks a password against a stored PHC string, in constant time.
    pub async fn verify(&self, password: &Password, phc: &str) -> Result<Verification, HashError> {
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Verify { password: password.clone(), phc: phc.to_owned(), reply })?;
        answer.await.map_err(|_| HashError::Internal("hashing worker stopped".into()))?
    }

    /// Spends the same work as a real check, for an account that does not exist or has no
    /// password: an unknown identifier answers in the same time as a wrong password.
    pub async fn verify_dummy(&self, password: &Password) -> Result<(), HashError> {
        let phc = self
            .dummy_phc
            .get_or_try_init(|| async {
                let dummy = crate::secret::generate_temporary_password();
                self.hash(&dummy).await
            })
            .await?;
        self.verify(password, phc).await.map(|_| ())
    }

    fn submit(&self, job: Job) -> Result<(), HashError> {
        self.queue.try_send(job).map_err(|e| match e {
            TrySendError::Full(_) => HashError::Overloaded,
            TrySendError::Disconnected(_) => HashError::Internal("hashing pool stopped".into()),
        })
    }
}

fn worker(engine: &Engine, jobs: &Mutex<Receiver<Job>>) {
    let mut memory: Vec<Block> = Vec::new();
    loop {
        let job = {
            let Ok(rx) = jobs.lock() else { return };
            match rx.recv() {
                Ok(job) => job,
                Err(_) => return, // every handle dropped: the pool shuts down
            }
        };
        match job {
            Job::Hash { password, reply } => {
                let _ = reply.send(engine.hash(&password, &mut memory));
            }
            Job::Verify { password, phc, reply } => {
                let _ = reply.send(engine.verify(&password, &phc, &mut memory));
            }
        }
    }
}

impl Engine {
    fn argon2(&self, params: Params) -> Result<Argon2<'_>, HashError> {
        match &self.pepper {
            Some(p) => Argon2::new_with_secret(p.expose_secret(), Algorithm::Argon2id, Version::V0x13, params)
                .map_err(|e| HashError::Internal(e.to_string())),
            None => Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params)),
        }
    }

    fn compute(
        &self,
        params: &Params,
        password: &Password,
        salt: &[u8],
        memory: &mut Vec<Block>,
    ) -> Result<Vec<u8>, HashError> {
        memory.resize(params.block_count(), Block::default());
        let mut out = vec![0u8; params.output_len().unwrap_or(32)];
        self.argon2(params.clone())?
            .hash_password_into_with_memory(password.expose().as_bytes(), salt, &mut out, memory.as_mut_slice())
            .map_err(|e| HashError::Internal(e.to_string()))?;
        Ok(out)
    }

    fn hash(&self, password: &Password, memory: &mut Vec<Block>) -> Result<String, HashError> {
        let mut salt = [0u8; 16];
        fill_random(&mut salt);
        let out = self.compute(&self.params, password, &salt, memory)?;
        Ok(Phc {
            m: self.params.m_cost(),
            t: self.params.t_cost(),
            p: self.params.p_cost(),
            salt: salt.to_vec(),
            hash: out,
        }
        .encode())
    }

    fn verify(&self, password: &Password, phc: &str, memory: &mut Vec<Block>) -> Result<Verification, HashError> {
        let stored =
            Phc::decode(phc).ok_or_else(|| HashError::Internal("stored hash is not an argon2id PHC string".into()))?;
        let params = Params::new(stored.m, stored.t, stored.p, Some(stored.hash.len()))
            .map_err(|e| HashError::Internal(format!("stored hash parameters: {e}")))?;
        let computed = self.compute(&params, password, &stored.salt, memory)?;
        let matches = constant_time_eq(&computed, &stored.hash);
        let needs_rehash =
            (stored.m, stored.t, stored.p) != (self.params.m_cost(), self.params.t_cost(), self.params.p_cost());
        Ok(Verification { matches, needs_rehash })
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The PHC string format of argon2id hashes.
struct Phc {
    m: u32,
    t: u32,
    p: u32,
    salt: Vec<u8>,
    hash: Vec<u8>,
}

impl Phc {
    fn encode(&self) -> String {
        format!(
            "$argon2id$v=19$m={},t={},p={}${}${}",
            self.m,
            self.t,
            self.p,
            B64.encode(&self.salt),
            B64.encode(&self.hash)
        )
    }

    fn decode(s: &str) -> Option<Self> {
        let mut parts = s.split('$');
        let (Some(""), Some("argon2id"), Some("v=19"), Some(params), Some(salt), Some(hash), None) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        let (mut m, mut t, mut p) = (None, None, None);
        for kv in params.split(',') {
            match kv.split_once('=')? {
                ("m", v) => m = v.parse().ok(),
                ("t", v) => t = v.parse().ok(),
                ("p", v) => p = v.parse().ok(),
                _ => return None,
            }
        }
        Some(Self { m: m?, t: t?, p: p?, salt: B64.decode(salt).ok()?, hash: B64.decode(hash).ok()? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn password(s: &str) -> Password {
        Password::parse(s).expect("valid password")
    }

    #[tokio::test]
    async fn hashes_verify_and_wrong_passwords_do_not() {
        let hasher = PasswordHasher::start(&HashingSettings::insecure_for_tests()).expect("pool");
        let phc = hasher.hash(&password("un mot de passe")).await.expect("hash");
        assert!(phc.starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
        let ok = hasher.verify(&password("un mot de passe"), &phc).await.expect("verify");
        assert_eq!(ok, Verification { matches: true, needs_rehash: false });
        let bad = hasher.verify(&password("un autre"), &phc).await.expect("verify");
        assert!(!bad.matches);
        hasher.verify_dummy(&password("x")).await.expect("dummy");
    }

    #[tokio::test]
    async fn default_parameters_produce_the_reference_phc_form() {
        let hasher =
            PasswordHasher::start(&HashingSettings { workers: 1, ..HashingSettings::default() }).expect("pool");
        let phc = hasher.hash(&password("x")).await.expect("hash");
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        // Interoperability: the reference implementation's verifier accepts our string.
        use argon2::PasswordVerifier as _;
        assert!(Argon2::default().verify_password(b"x", phc.as_str()).is_ok());
    }

    #[tokio::test]
    async fn other_parameters_ask_for_a_rehash() {
        let cheap = PasswordHasher::start(&HashingSettings::insecure_for_tests()).expect("pool");
        let phc = cheap.hash(&password("abc")).await.expect("hash");
        let stronger = HashingSettings { memory_kib: 128, ..HashingSettings::insecure_for_tests() };
        let hasher = PasswordHasher::start(&stronger).expect("pool");
        let v = hasher.verify(&password("abc"), &phc).await.expect("verify");
        assert_eq!(v, Verification { matches: true, needs_rehash: true });
    }

    #[tokio::test]
    async fn the_pepper_changes_the_hash() {
        let settings = HashingSettings::insecure_for_tests();
        let with_pepper = HashingSettings { pepper: Some(SecretString::from("0123456789abcdef")), ..settings.clone() };
        let peppered = PasswordHasher::start(&with_pepper).expect("pool");
        let plain = PasswordHasher::start(&settings).expect("pool");
        let phc = peppered.hash(&password("abc")).await.expect("hash");
        assert!(peppered.verify(&password("abc"), &phc).await.expect("verify").matches);
        assert!(!plain.verify(&password("abc"), &phc).await.expect("verify").matches);
    }

    #[tokio::test]
    async fn a_full_queue_is_refused_at_once() {
        let settings = HashingSettings { workers: 1, max_queue: 1, ..HashingSettings::default() };
        let hasher = PasswordHasher::start(&settings).expect("pool");
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let hasher = hasher.clone();
            set.spawn(async move { hasher.hash(&password("abc")).await });
        }
        let results: Vec<_> = set.join_all().await;
        assert!(results.iter().any(|r| matches!(r, Err(HashError::Overloaded))));
        assert!(results.iter().any(Result::is_ok));
    }

    #[test]
    fn malformed_phc_strings_are_rejected() {
        for bad in ["", "$argon2i$v=19$m=1,t=1,p=1$AA$AA", "$argon2id$v=19$m=x$AA$AA", "plain"] {
            assert!(Phc::decode(bad).is_none(), "{bad}");
        }
    }
}
