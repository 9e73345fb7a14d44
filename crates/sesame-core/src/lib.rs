//! Sésame's domain: the rules of accounts, credentials and their consequences.
//!
//! This crate knows nothing of HTTP, SQL or SMTP. Input is parsed into the types of [`types`] at
//! the edge; use cases in [`accounts`] decide, and commit every consequence (credential, outbox
//! e-mails, audit events) through one [`store::Tx`]. Time comes from a [`clock::Clock`] so that
//! expiry is tested by moving the clock.

pub mod accounts;
pub mod api;
pub mod audit;
pub mod auth;
pub mod branding;
pub mod certificate;
pub mod clock;
mod credentials;
pub mod hashing;
pub mod keys;
pub mod mail;
pub mod model;
pub mod policy;
pub mod reset;
pub mod secret;
pub mod session;
pub mod store;
pub mod throttle;
pub mod types;

pub use accounts::{AccountError, AccountService, AccountSettings};
pub use clock::{Clock, ManualClock, SystemClock};
