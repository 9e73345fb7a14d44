//! "Mes services e-santé": the services the professional reaches, and the desktop applications
//! to install (under their service, or in their own section; first of all after a first
//! connection).

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;

use crate::downloads::ApplicationView;
use crate::extract::SignedIn;
use crate::state::AppState;
use crate::view::Page;

#[derive(Debug, Deserialize)]
pub struct Confirmation {
    confirmation: Option<String>,
}

/// The configured services, each with the applications that belong to it.
fn services_view(state: &AppState, applications: &[ApplicationView]) -> Vec<serde_json::Value> {
    state
        .settings
        .services
        .iter()
        .map(|s| {
            let own: Vec<_> = applications.iter().filter(|a| a.service.as_deref() == Some(&s.name)).collect();
            let mut view = serde_json::to_value(s).unwrap_or_default();
            view["icon"] = serde_json::to_value(&s.icon).unwrap_or_default();
            view["applications"] = serde_json::to_value(own).unwrap_or_default();
            view
        })
        .collect()
}

pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(user): SignedIn,
    Query(q): Query<Confirmation>,
) -> Response {
    // Every sign-in ends here: one started for a service goes back to it.
    if let Some(pending) = crate::resume::read(&headers, state.cookies()) {
        return crate::view::fresh_navigation(crate::view::see_other(&pending.path()));
    }
    let applications = super::install::applications_for(&state, &headers);
    let services = services_view(&state, &applications);
    let names: Vec<&str> = state.settings.services.iter().map(|s| s.name.as_str()).collect();
    let others: Vec<&ApplicationView> =
        applications.iter().filter(|a| a.service.as_deref().is_none_or(|s| !names.contains(&s))).collect();
    let first_connection = q.confirmation.as_deref() == Some("premiere-connexion");
    let page = Page::new("services.html", "Mes services e-santé")
        .current("services")
        .with("services", services)
        .with("other_applications", others)
        .with("applications", if first_connection { applications.as_slice() } else { &[] })
        .with("first_connection", first_connection)
        .with("notice", q.confirmation.as_deref().filter(|c| *c == "premiere-connexion"));
    state.views.render(&headers, Some(&user), page)
}
