//! "Authentification par certificat client" from the sign-in page.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use sesame_core::audit::Actor;
use sesame_core::certificate::CertificateLogin;

use super::too_many_requests;
use crate::AppState;
use crate::certs::{PeerChain, Refusal};
use crate::error::WebError;
use crate::request::Client;
use crate::view::Page;

/// The French title and explanation of a refusal.
pub fn refusal_text(refusal: Option<Refusal>) -> (&'static str, &'static str) {
    match refusal {
        Some(Refusal::Missing) => (
            "Aucun certificat présenté",
            "Votre navigateur n'a présenté aucun certificat. Insérez votre carte CPS dans le lecteur (ou installez votre certificat logiciel), choisissez-le quand le navigateur le propose, puis réessayez.",
        ),
        Some(Refusal::NotRecognised) => {
            ("Certificat non reconnu", "Ce certificat n'a pas été délivré par une autorité reconnue par ce portail.")
        }
        Some(Refusal::Expired) => (
            "Certificat expiré",
            "Ce certificat a dépassé sa date de fin de validité. Utilisez une carte ou un certificat en cours de validité.",
        ),
        Some(Refusal::NotYetValid) => (
            "Certificat pas encore valide",
            "Ce certificat n'est pas encore entré en validité. Réessayez à partir de sa date de début de validité.",
        ),
        Some(Refusal::Revoked) => {
            ("Certificat révoqué", "Ce certificat a été révoqué par son autorité : il ne permet plus de se connecter.")
        }
        Some(Refusal::WrongUsage) => (
            "Certificat non prévu pour l'authentification",
            "Ce certificat n'est pas destiné à l'authentification d'une personne (usage « authentification client »).",
        ),
        None => (
            "Aucun compte n'est associé à ce certificat",
            "Ce certificat est valide, mais aucun compte actif de ce portail ne lui correspond (identifiant national ou certificat associé par le support).",
        ),
    }
}

fn refused_page(refusal: Option<Refusal>) -> Page {
    let (title, text) = refusal_text(refusal);
    Page::new("message.html", title)
        .status(StatusCode::FORBIDDEN)
        .with("paragraphs", [text, "Vous pouvez aussi vous connecter avec votre identifiant et votre mot de passe."])
        .with("support", true)
        .with("links", [serde_json::json!({ "href": "/", "label": "Retour à la page de connexion", "button": true })])
}

pub async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    client: Client,
    PeerChain(chain): PeerChain,
) -> Result<Response, WebError> {
    let Some(verifier) = state.certificates.clone() else {
        return Err(WebError::NotFound);
    };
    if state.auth.address_over_limit("login", &client.ip_text()).await? {
        return Ok(too_many_requests(&state, &headers));
    }
    let ctx = client.context(Actor::Anonymous);
    let identity = match state.check_certificate(&verifier, &chain, &ctx).await? {
        Ok(identity) => identity,
        Err(refusal) => return Ok(state.render(&headers, None, refused_page(Some(refusal)))),
    };
    match state.auth.certificate_login(&identity, None, &ctx).await? {
        CertificateLogin::SignedIn(opened) => Ok(state.signed_in_redirect(&opened, "/services")),
        CertificateLogin::NoAccount | CertificateLogin::Disabled | CertificateLogin::Tokens(_) => {
            Ok(state.render(&headers, None, refused_page(None)))
        }
    }
}
