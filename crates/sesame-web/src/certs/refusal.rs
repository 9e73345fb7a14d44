//! Why a certificate was refused, with the French words of its page.

/// Why a certificate was refused; each has its own page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No certificate came with the request.
    Missing,
    /// Not issued by a configured authority, or unreadable.
    NotRecognised,
    Expired,
    NotYetValid,
    Revoked,
    /// Not meant for client authentication (key usage or extended key usage).
    WrongUsage,
    /// Valid, but no active account is pinned to it or holds its national identifier.
    NoAccount,
}

impl Refusal {
    pub fn code(self) -> &'static str {
        match self {
            Self::Missing => "no_certificate",
            Self::NotRecognised => "not_recognised",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::Revoked => "revoked",
            Self::WrongUsage => "wrong_usage",
            Self::NoAccount => "no_account",
        }
    }

    /// The refusal page's title (also the API problem's `title`).
    pub fn title(self) -> &'static str {
        match self {
            Self::Missing => "Aucun certificat présenté",
            Self::NotRecognised => "Certificat non reconnu",
            Self::Expired => "Certificat expiré",
            Self::NotYetValid => "Certificat pas encore valide",
            Self::Revoked => "Certificat révoqué",
            Self::WrongUsage => "Certificat non prévu pour l'authentification",
            Self::NoAccount => "Aucun compte n'est associé à ce certificat",
        }
    }

    /// What happened and what to do, in French.
    pub fn explanation(self) -> &'static str {
        match self {
            Self::Missing => {
                "Votre navigateur n'a présenté aucun certificat. Insérez votre carte CPS dans le lecteur (ou installez votre certificat logiciel), choisissez-le quand le navigateur le propose, puis réessayez."
            }
            Self::NotRecognised => "Ce certificat n'a pas été délivré par une autorité reconnue par ce portail.",
            Self::Expired => {
                "Ce certificat a dépassé sa date de fin de validité. Utilisez une carte ou un certificat en cours de validité."
            }
            Self::NotYetValid => {
                "Ce certificat n'est pas encore entré en validité. Réessayez à partir de sa date de début de validité."
            }
            Self::Revoked => "Ce certificat a été révoqué par son autorité : il ne permet plus de se connecter.",
            Self::WrongUsage => {
                "Ce certificat n'est pas destiné à l'authentification d'une personne (usage « authentification client »)."
            }
            Self::NoAccount => {
                "Ce certificat est valide, mais aucun compte actif de ce portail ne lui correspond (identifiant national ou certificat associé par le support)."
            }
        }
    }
}
