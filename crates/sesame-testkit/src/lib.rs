//! Test support shared by the crates' integration tests.
//!
//! - [`postgres_database_url`]: a fresh, empty PostgreSQL database. The server is the one named
//!   by `SESAME_TEST_DATABASE_URL` (what `scripts/test` starts for the whole run), or else a
//!   throw-away cluster this process starts with the installed `initdb`/`pg_ctl` and that stops
//!   when the process ends. PostgreSQL tests are never skipped: without either, they fail.
//! - [`SmtpServer`]: a real SMTP server on a loopback port, keeping what it receives.

#![expect(clippy::expect_used, clippy::unwrap_used, reason = "test support: failing loudly is the point")]

mod postgres;
mod smtp;

pub use postgres::postgres_database_url;
pub use smtp::{ReceivedMail, SmtpServer};

/// Several crates bring rustls with different crypto back-ends; pick ring (what Sésame ships)
/// once per process, as `main` does, or the first TLS handshake panics.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
