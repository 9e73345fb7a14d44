//! "Installer … sur votre poste": the desktop applications, for signed-in professionals.

use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::Response;

use crate::downloads::{ApplicationView, applications};
use crate::error::WebError;
use crate::extract::SignedIn;
use crate::state::AppState;
use crate::view::Page;

/// The configured applications, the visitor's system first (from `User-Agent`).
pub fn applications_for(state: &AppState, headers: &HeaderMap) -> Vec<ApplicationView> {
    let user_agent = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok());
    applications(&state.settings.downloads, user_agent)
}

pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: Result<SignedIn, Response>,
) -> Result<Response, WebError> {
    if state.settings.downloads.is_empty() {
        return Err(WebError::NotFound);
    }
    let SignedIn(user) = match user {
        Ok(user) => user,
        Err(redirect) => return Ok(redirect),
    };
    let apps = applications_for(&state, &headers);
    let title = match apps.as_slice() {
        [one] => format!("Installer {} sur votre poste", one.name),
        _ => "Installer les applications sur votre poste".to_owned(),
    };
    let page = Page::new("installer.html", title).current("installer").with("applications", apps);
    Ok(state.views.render(&headers, Some(&user), page))
}
