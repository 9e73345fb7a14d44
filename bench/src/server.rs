//! The server under test, its seeded database, and the reference measurements.

use argon2::{Algorithm, Argon2, Block, Params, Version};
use sesame_core::hashing::{HashingSettings, PasswordHasher};
use sesame_core::model::{NewAccount, PasswordCredential};
use sesame_core::types::{Email, Identifier, Password, PersonName};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const PASSWORD: &str = "la mer du nord est froide en hiver";

/// Builds the release server (a no-op when up to date) and returns its path.
pub fn build_release() -> Result<PathBuf, String> {
    let status = Command::new(env!("CARGO"))
        .args(["build", "--release", "--locked", "--bin", "sesame"])
        .status()
        .map_err(|e| e.to_string())?;
    if !status.success() {
        return Err("cargo build --release --bin sesame failed".into());
    }
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let binary = Path::new(&target).join("release").join("sesame");
    std::fs::canonicalize(&binary).map_err(|e| format!("{}: {e}", binary.display()))
}

/// Hashes per second on `threads` threads, each reusing its argon2 memory (the fastest correct
/// method, the one the server uses).
pub fn raw_argon2_rate(duration: Duration, threads: usize) -> f64 {
    let deadline = Instant::now() + duration;
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            std::thread::spawn(move || {
                let params = Params::new(19_456, 2, 1, Some(32)).unwrap_or_default();
                let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
                let mut memory = vec![Block::default(); params.block_count()];
                let mut out = [0u8; 32];
                let mut n = 0u64;
                let salt = [t as u8; 16];
                while Instant::now() < deadline {
                    let _ = argon.hash_password_into_with_memory(
                        PASSWORD.as_bytes(),
                        &salt,
                        &mut out,
                        memory.as_mut_slice(),
                    );
                    n += 1;
                }
                n
            })
        })
        .collect();
    let started = Instant::now();
    let total: u64 = handles.into_iter().map(|h| h.join().unwrap_or(0)).sum();
    total as f64 / started.elapsed().max(duration).as_secs_f64()
}

/// A data folder with `n` accounts (`pro0000001`…) sharing one personal password.
#[derive(Debug)]
pub struct Seeded {
    pub dir: tempfile::TempDir,
    pub accounts: u32,
    /// `None`: SQLite in `dir`.
    pub database_url: Option<String>,
}

impl Seeded {
    pub async fn new(accounts: u32, database_url: Option<String>) -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let url = database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("data").join("sesame.db").display()));
        let sealer = sesame_core::keys::Sealer::ephemeral(); // accounts only: nothing sealed
        let store = sesame_store::connect_and_migrate(&url, &sesame_store::StoreOptions::default(), sealer)
            .await
            .map_err(|e| e.to_string())?;
        let hasher = PasswordHasher::start(&HashingSettings::default()).map_err(|e| e.to_string())?;
        let password = Password::parse(PASSWORD).map_err(|e| e.to_string())?;
        let phc = hasher.hash(&password).await.map_err(|e| e.to_string())?;
        let now = time::OffsetDateTime::now_utc();
        let started = Instant::now();
        for chunk in (1..=accounts).collect::<Vec<_>>().chunks(1000) {
            let mut tx = store.begin().await.map_err(|e| e.to_string())?;
            for i in chunk {
                let account = NewAccount {
                    identifier: Identifier::parse(&identifier(*i)).map_err(|e| e.to_string())?,
                    email: Email::parse(&format!("pro{i}@bench.example.fr")).map_err(|e| e.to_string())?,
                    first_name: PersonName::parse("Claude", "first name").map_err(|e| e.to_string())?,
                    last_name: PersonName::parse(&format!("Banc {i}"), "last name").map_err(|e| e.to_string())?,
                    national_id: None,
                };
                let id = tx.insert_account(&account, now).await.map_err(|e| e.to_string())?;
                tx.set_password(id, &PasswordCredential { phc: phc.clone(), temporary_until: None, changed_at: now })
                    .await
                    .map_err(|e| e.to_string())?;
            }
            tx.commit().await.map_err(|e| e.to_string())?;
        }
        println!("seeded {accounts} accounts in {:.1} s", started.elapsed().as_secs_f64());
        Ok(Self { dir, accounts, database_url })
    }
}

pub fn identifier(i: u32) -> String {
    format!("pro{i:07}")
}

/// A running `sesame serve`; stopped when dropped.
#[derive(Debug)]
pub struct Running {
    child: Child,
    pub base: String,
    pub ready_after: Duration,
}

impl Running {
    /// `throttle`: per-identifier throttling on (scenario (c) runs with it off). The per-address
    /// limit is lifted: every request of the benchmark comes from 127.0.0.1.
    pub async fn start(binary: &Path, seeded: &Seeded, throttle: bool) -> Result<Self, String> {
        let port =
            std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(|e| e.to_string())?.port();
        let base = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        let mut command = Command::new(binary);
        if let Some(url) = &seeded.database_url {
            command.env("SESAME_DATABASE_URL", url).env("SESAME_DATABASE__MAX_CONNECTIONS", "32");
        }
        let child = command
            .arg("serve")
            .current_dir(seeded.dir.path())
            .env("SESAME_LISTEN", format!("127.0.0.1:{port}"))
            .env("SESAME_PUBLIC_URL", &base)
            .env("SESAME_CAPTCHA__ENABLED", "false")
            .env("SESAME_THROTTLE__ENABLED", throttle.to_string())
            .env("SESAME_THROTTLE__PER_ADDRESS_PER_MINUTE", "4000000000")
            .env("SESAME_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| e.to_string())?;
        let http = reqwest::Client::new();
        loop {
            if let Ok(r) = http.get(format!("{base}/readyz")).send().await
                && r.status().is_success()
            {
                break;
            }
            if started.elapsed() > Duration::from_secs(20) {
                return Err("the server did not become ready".into());
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        Ok(Self { child, base, ready_after: started.elapsed() })
    }

    fn status_field(&self, field: &str) -> f64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with(field))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|v| v.parse::<f64>().ok())
            })
            .unwrap_or(0.0)
    }

    pub fn rss_mb(&self) -> f64 {
        self.status_field("VmRSS:") / 1024.0
    }

    pub fn peak_rss_mb(&self) -> f64 {
        self.status_field("VmHWM:") / 1024.0
    }

    /// User + system CPU time consumed so far, in seconds.
    pub fn cpu_seconds(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
        let ticks: f64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0)
            + fields.get(12).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        ticks / 100.0
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("model name")).map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| s.lines().next().and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse::<f64>().ok()))
        .map_or(String::new(), |kb| format!(", {:.0} GiB", kb / 1024.0 / 1024.0));
    format!("{cpu}{mem}, Linux")
}

/// Replaces the generated part of docs/benchmarks.md.
pub fn update_docs(table: &str, postgres: bool) -> Result<(), String> {
    let path = Path::new("docs/benchmarks.md");
    let doc = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let (start, end) = if postgres {
        ("<!-- postgres results: start -->", "<!-- postgres results: end -->")
    } else {
        ("<!-- results: start -->", "<!-- results: end -->")
    };
    let (Some(a), Some(b)) = (doc.find(start), doc.find(end)) else {
        return Err("docs/benchmarks.md has no results markers".into());
    };
    let updated = format!("{}{start}\n{table}\n{}", &doc[..a], &doc[b..]);
    std::fs::write(path, updated).map_err(|e| e.to_string())
}
