//! OpenID Connect: Sésame as the provider the portal's services sign people in through.
//!
//! `client` holds the pure rules of a registered relying party (its redirect URIs and how a
//! request's URI matches one); `clients` the use cases that register and manage them.

pub mod client;
pub mod clients;

pub use client::{Client, ClientKind, NewClient, RedirectUri};
pub use clients::{ClientError, ClientRequest, Clients, Created, secret_matches};
