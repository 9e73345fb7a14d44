//! Sésame's domain: the rules of accounts, credentials and their consequences.
//!
//! This crate knows nothing of HTTP, SQL or SMTP. Input is parsed into the types of [`types`] at
//! the edge; the use cases, gathered in [`services::Services`], decide, and commit every
//! consequence (credential, outbox e-mails, audit events) through one [`store::Tx`]. Time comes
//! from a [`clock::Clock`] so that expiry is tested by moving the clock.

pub mod accounts;
pub mod audit;
pub mod branding;
pub mod captcha;
pub mod certificate;
pub mod client;
pub mod clock;
pub mod deps;
pub mod error;
pub mod factor;
pub mod factors;
pub mod hashing;
pub mod keys;
pub mod limits;
pub mod mail;
pub mod model;
pub mod oidc;
pub mod passwords;
pub mod policy;
pub mod reset;
pub mod secret;
pub mod services;
pub mod session;
pub mod sessions;
pub mod signin;
pub mod signing;
pub mod store;
pub mod throttle;
pub mod tokens;
pub mod totp;
pub mod types;

pub use accounts::{AccountError, AccountService, AccountSettings};
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::AuthError;
pub use services::{CoreSettings, Services};
