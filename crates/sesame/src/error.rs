//! What a command reports when it fails: one sentence, and an exit code.

use sesame_core::AccountError;
use sesame_core::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The operator's input or configuration is wrong (exit code 2). Nothing was changed.
    #[error("{0}")]
    BadInput(String),
    /// Something failed while running (exit code 1).
    #[error("{0}")]
    Runtime(String),
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::BadInput(_) => 2,
            Self::Runtime(_) => 1,
        }
    }

    pub fn bad(message: impl Into<String>) -> Self {
        Self::BadInput(message.into())
    }
}

impl From<StoreError> for CliError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(_) | StoreError::Conflict(_) | StoreError::Unsupported(_) => {
                Self::BadInput(e.to_string())
            }
            StoreError::Corrupt(_) | StoreError::Database(_) => Self::Runtime(e.to_string()),
        }
    }
}

impl From<AccountError> for CliError {
    fn from(e: AccountError) -> Self {
        if e.is_bad_input() { Self::BadInput(e.to_string()) } else { Self::Runtime(e.to_string()) }
    }
}

impl From<sesame_core::AuthError> for CliError {
    fn from(e: sesame_core::AuthError) -> Self {
        match e {
            sesame_core::AuthError::Store(e) => e.into(),
            sesame_core::AuthError::Hash(e) => Self::Runtime(e.to_string()),
            e @ sesame_core::AuthError::Internal(_) => Self::Runtime(e.to_string()),
        }
    }
}

impl From<sesame_core::oidc::ClientError> for CliError {
    fn from(e: sesame_core::oidc::ClientError) -> Self {
        use sesame_core::oidc::ClientError;
        match e {
            ClientError::Auth(e) => e.into(),
            e @ (ClientError::Invalid(_) | ClientError::Unknown(_) | ClientError::Public(_)) => {
                Self::BadInput(e.to_string())
            }
        }
    }
}

impl From<sesame_core::oidc::KeyError> for CliError {
    fn from(e: sesame_core::oidc::KeyError) -> Self {
        use sesame_core::oidc::KeyError;
        match e {
            KeyError::Auth(e) => e.into(),
            e @ (KeyError::Unknown(_) | KeyError::Signing(_)) => Self::BadInput(e.to_string()),
            e @ KeyError::Generate(_) => Self::Runtime(e.to_string()),
        }
    }
}
