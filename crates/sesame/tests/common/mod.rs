//! Runs the real `sesame` binary in a fresh folder, as an operator would.

#![allow(dead_code, reason = "each test file uses a different part")]
#![expect(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub struct Sesame {
    pub dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    #[track_caller]
    pub fn ok(self) -> Self {
        assert_eq!(self.code, 0, "expected success\nstdout: {}\nstderr: {}", self.stdout, self.stderr);
        self
    }

    /// Exit code 2, one `error:` sentence, no panic or backtrace.
    #[track_caller]
    pub fn bad_input(self) -> Self {
        assert_eq!(self.code, 2, "expected exit code 2\nstdout: {}\nstderr: {}", self.stdout, self.stderr);
        assert!(self.stderr.starts_with("error: "), "stderr: {}", self.stderr);
        assert!(!self.stderr.contains("panicked") && !self.stderr.contains("backtrace"), "{}", self.stderr);
        self
    }
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Self {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Sesame {
    /// A fresh folder with no configuration at all: the embedded defaults.
    pub fn new() -> Self {
        Self { dir: tempfile::tempdir().expect("temp dir"), env: Vec::new() }
    }

    pub fn env(mut self, key: &str, value: impl Into<String>) -> Self {
        self.env.push((key.to_owned(), value.into()));
        self
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_sesame"));
        c.args(args).current_dir(self.dir.path()).stdin(Stdio::null());
        for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("SESAME_")) {
            c.env_remove(k);
        }
        c.envs(self.env.iter().map(|(k, v)| (k, v)));
        c
    }

    pub fn run(&self, args: &[&str]) -> Run {
        self.command(args).output().expect("run sesame").into()
    }

    /// The `.eml` files written by the file transport, oldest first.
    pub fn outbox(&self) -> Vec<PathBuf> {
        list_eml(&self.path("data/outbox"))
    }

    pub fn sqlite_url(&self) -> String {
        format!("sqlite://{}", self.path("data/sesame.db").display())
    }
}

pub fn list_eml(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "eml")).collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// Subject and plain-text body of an `.eml` file.
pub fn read_eml(path: &Path) -> (String, String) {
    let raw = std::fs::read(path).expect("read eml");
    let message = mail_parser::MessageParser::default().parse(&raw).expect("parse eml");
    (message.subject().unwrap_or_default().to_owned(), message.body_text(0).unwrap_or_default().into_owned())
}

/// The temporary password printed in a temporary-password e-mail.
pub fn temporary_password_in(text: &str) -> String {
    let marker = "utilisez le mot de passe provisoire suivant :";
    let after = &text[text.find(marker).expect("password paragraph") + marker.len()..];
    after.split_whitespace().next().expect("password").to_owned()
}

/// A running `sesame serve`, stopped when dropped.
pub struct Server {
    pub child: std::process::Child,
    pub base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `sesame serve` on a free port and waits until it accepts connections.
pub fn start(sesame: &Sesame) -> Server {
    start_with_log(sesame, std::process::Stdio::null())
}

/// Starts `sesame serve` with its log (standard error) going to `log`.
pub fn start_with_log(sesame: &Sesame, log: impl Into<std::process::Stdio>) -> Server {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = sesame
        .command(&["serve"])
        .env("SESAME_LISTEN", format!("127.0.0.1:{port}"))
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn serve");
    let server = Server { child, base: format!("http://127.0.0.1:{port}") };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !serving(port) {
        assert!(std::time::Instant::now() < deadline, "server did not start");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    server
}

/// Whether the server answers on `port`: the port is bound before migrations run, so a
/// connection alone says nothing; an answer (an HTTP status line, or a TLS alert or close for
/// an HTTPS listener) does.
fn serving(port: u16) -> bool {
    use std::io::{Read as _, Write as _};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(std::time::Duration::from_millis(200)));
    if stream.write_all(b"GET /healthz HTTP/1.0\r\n\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 16];
    match stream.read(&mut buf) {
        Ok(_read) => true, // an answer, or a close: someone is serving
        Err(e) => !matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut),
    }
}
