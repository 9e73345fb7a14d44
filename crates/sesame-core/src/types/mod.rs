//! Input parsed at the edge into types that are valid by construction.

mod email;
mod identifier;
mod name;
mod national_id;
mod password;

pub use email::{Email, EmailError};
pub use identifier::{Identifier, IdentifierError, LoginIdentifier};
pub use name::{NameError, PersonName};
pub use national_id::{NationalId, NationalIdError};
pub use password::{MAX_PASSWORD_CHARS, Password, PasswordInputError};
