//! Who the portal is, as every page and e-mail shows it.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Branding {
    /// The organisation that runs the portal ("Normand'e-santé").
    pub organisation_name: String,
    /// The portal's name ("Norm'uni").
    pub portal_name: String,
    /// Support contacts printed in every e-mail ("ce n'était pas moi").
    pub support_email: Option<String>,
    pub support_phone: Option<String>,
}

impl Default for Branding {
    fn default() -> Self {
        Self {
            organisation_name: "Service e-santé".into(),
            portal_name: "Portail e-santé".into(),
            support_email: None,
            support_phone: None,
        }
    }
}
