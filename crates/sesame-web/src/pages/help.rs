//! "Aide": the guide's flows explained with the portal's own names and contacts, or the
//! operator's own page (`help.file`, rendered and sanitized at start). Open to everyone.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;

use crate::downloads::application_names;
use crate::extract::Visitor;
use crate::state::AppState;
use crate::view::Page;

pub async fn show(State(state): State<AppState>, headers: HeaderMap, visitor: Visitor) -> Response {
    let user = visitor.user.filter(|u| !u.session.must_change_password);
    let settings = &state.settings;
    let services = &state.services;
    let page = Page::new("help.html", "Aide")
        .current("help")
        .with("custom", settings.help_html.as_deref())
        .with("applications", application_names(&settings.downloads))
        .with("certificate_login", state.certificates.0.is_some())
        .with("captcha", settings.captcha.enabled)
        .with("temporary_days", services.accounts.temporary_password_days())
        .with("link_minutes", services.reset.link_minutes())
        .with("requirements", services.policy().requirements());
    state.views.render(&headers, user.as_ref(), page)
}
