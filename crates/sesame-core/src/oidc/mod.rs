//! OpenID Connect: Sésame as the provider the portal's services sign people in through.
//!
//! The pure rules of a registered relying party (its redirect URIs and how a request's URI
//! matches one) are `crate::client`, below the storage port; `clients` holds the use cases that
//! register and manage them.

pub mod clients;

pub use crate::client::{Client, ClientKind, NewClient, RedirectUri};
pub use clients::{ClientError, ClientRequest, Clients, Created, secret_matches};
