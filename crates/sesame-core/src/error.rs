//! The error of the sign-in and credential use cases: only the system failing (the hashing
//! pool overloaded, the database). Every refusal of a person's input is an outcome, not an error.

use crate::hashing::HashError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error(transparent)]
    Hash(#[from] HashError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The WebAuthn crate refused to start a ceremony, or a state of ours did not (de)serialise.
    #[error("security key ceremony: {0}")]
    Internal(String),
}
