//! OpenID Connect: Sésame as the provider the portal's services sign people in through.
//!
//! The pure rules of a registered relying party (its redirect URIs and how a request's URI
//! matches one) are `crate::client`, below the storage port; `clients` holds the use cases that
//! register and manage them; `keys` the life of the keys that sign the tokens.

pub mod authorize;
pub mod backchannel;
pub mod claims;
pub mod clients;
pub mod keys;
pub mod logout;
pub mod request;
pub mod settings;
pub mod tokens;

pub use crate::client::{Client, ClientKind, NewClient, RedirectUri};
pub use authorize::{Authorizations, Decision};
pub use backchannel::{BackChannel, BackChannelReport, LogoutPoster};
pub use clients::{ClientError, ClientRequest, Clients, Created, secret_matches};
pub use keys::{KeyError, KeyInfo, KeySet, KeyState, SigningKeys};
pub use logout::{LogoutRequest, Logouts};
pub use settings::OidcSettings;
pub use tokens::{Bearer, Issued, TokenError, Tokens};
