//! Rendering pages: the templates (strict: a misspelt variable is an error, not an empty
//! string), the shared context around each page (branding, CSRF token, signed-in user), French,
//! never cached.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::{Environment, UndefinedBehavior};
use secrecy::ExposeSecret as _;
use serde::Serialize;
use serde_json::{Value, json};
use sesame_core::branding::Branding;
use sesame_core::secret::generate_token;
use sesame_core::sessions::SignedIn;

use crate::request::{CSRF_COOKIE, CookieJar, csrf_token};

macro_rules! templates {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../templates/", $name)))),*]
    };
}

const TEMPLATES: &[(&str, &str)] = templates!(
    "base.html",
    "macros.html",
    "login.html",
    "first_connection.html",
    "services.html",
    "account.html",
    "forgot.html",
    "reset_new.html",
    "installer.html",
    "help.html",
    "messages/support.html",
    "messages/error.html",
    "messages/oidc_refused.html",
    "oidc_consent.html",
    "oidc_logout.html",
    "messages/csrf_refused.html",
    "messages/too_many_requests.html",
    "messages/temporary_password_expired.html",
    "messages/reset_requested.html",
    "messages/reset_done.html",
    "messages/invalid_link.html",
    "messages/certificate_refused.html",
    "second_step.html",
    "factor_start.html",
    "factor_enrol.html",
    "factor_remove.html",
    "recovery_codes.html",
    "key_start.html",
    "key_register.html",
);

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    for (name, source) in TEMPLATES {
        #[expect(clippy::expect_used, reason = "templates are compiled in and tested")]
        env.add_template(name, source).expect("built-in template parses");
    }
    env
}

/// An error shown on a form: tied to a field (its `id`) or to the whole form.
#[derive(Debug, Clone, Serialize)]
pub struct FieldError {
    pub field: Option<&'static str>,
    pub message: String,
}

impl FieldError {
    pub fn on(field: &'static str, message: impl Into<String>) -> Self {
        Self { field: Some(field), message: message.into() }
    }

    pub fn form(message: impl Into<String>) -> Self {
        Self { field: None, message: message.into() }
    }
}

/// A page to render.
#[derive(Debug)]
pub struct Page {
    pub template: &'static str,
    pub title: String,
    /// Which menu entry is current (`services`, `account`).
    pub page: &'static str,
    pub status: StatusCode,
    pub fields: Value,
}

impl Page {
    pub fn new(template: &'static str, title: impl Into<String>) -> Self {
        Self { template, title: title.into(), page: "", status: StatusCode::OK, fields: json!({}) }
    }

    #[must_use]
    pub fn with(mut self, key: &str, value: impl Serialize) -> Self {
        if let Some(map) = self.fields.as_object_mut() {
            map.insert(key.to_owned(), serde_json::to_value(value).unwrap_or(Value::Null));
        }
        self
    }

    #[must_use]
    pub fn status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    #[must_use]
    pub fn current(mut self, page: &'static str) -> Self {
        self.page = page;
        self
    }
}

/// What the templates know of the signed-in user.
fn user_view(signed_in: &SignedIn) -> Value {
    let a = &signed_in.account;
    json!({
        "identifier": a.identifier.as_str(),
        "first_name": a.first_name.as_str(),
        "last_name": a.last_name.as_str(),
        "masked_email": a.email.masked(),
        "national_id": a.national_id.as_ref().map(ToString::to_string),
        "must_change_password": signed_in.session.must_change_password,
    })
}

/// The templates and what every page shows.
#[derive(Debug)]
pub struct Views {
    env: Environment<'static>,
    branding: Branding,
    cookies: CookieJar,
}

impl Views {
    pub fn new(branding: Branding, cookies: CookieJar) -> Self {
        Self { env: environment(), branding, cookies }
    }

    pub fn branding(&self) -> &Branding {
        &self.branding
    }

    /// Renders `page` for this request. A browser without a CSRF cookie gets one.
    pub fn render(&self, headers: &HeaderMap, user: Option<&SignedIn>, page: Page) -> Response {
        let existing = self.cookies.get(headers, CSRF_COOKIE).filter(|v| !v.is_empty()).map(str::to_owned);
        let (csrf_value, new_cookie) = match existing {
            Some(v) => (v, None),
            None => {
                let v = generate_token(32).expose_secret().to_owned();
                (v.clone(), Some(v))
            }
        };
        // Every page may show these; the page's own fields come on top.
        let mut ctx = json!({
            "branding": &self.branding,
            "title": page.title,
            "page": page.page,
            "csrf": csrf_token(&csrf_value),
            "user": user.map(user_view),
            "errors": [],
            "notice": null,
        });
        if let (Some(map), Some(fields)) = (ctx.as_object_mut(), page.fields.as_object()) {
            map.extend(fields.clone());
        }
        let body = self.env.get_template(page.template).and_then(|t| t.render(minijinja::value::Serde(&ctx)));
        let mut response = match body {
            Ok(html) => (page.status, axum::response::Html(html)).into_response(),
            Err(e) => {
                tracing::error!(error = %e, template = page.template, "template failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "Erreur interne").into_response()
            }
        };
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(v) = new_cookie {
            headers.append(header::SET_COOKIE, self.cookies.set(CSRF_COOKIE, Some(&v)));
        }
        response
    }
}

/// 303 See Other: the browser follows with a GET (Post/Redirect/Get).
pub fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// A redirect turned into a fresh navigation (`Refresh: 0`), its cookies kept. After a form is
/// posted, Chromium judges every redirect of that navigation against the form page's CSP
/// (`form-action 'self'`) and blocks a service's address; a new navigation is not a form's.
/// Used where a form answer leads, in the end, to a service: the way back after a sign-in, the
/// consent, the logout confirmation.
pub fn fresh_navigation(response: Response) -> Response {
    let Some(to) = response.headers().get(header::LOCATION).and_then(|v| v.to_str().ok()).map(str::to_owned) else {
        return response;
    };
    let escaped = to.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;").replace('>', "&gt;");
    let body = format!(
        "<!doctype html><html lang=\"fr\"><head><meta charset=\"utf-8\"><title>Redirection</title></head>\
         <body><p>Vous allez être redirigé. <a href=\"{escaped}\">Continuer</a></p></body></html>"
    );
    let (mut parts, _) = response.into_parts();
    parts.status = StatusCode::OK;
    parts.headers.remove(header::LOCATION);
    if let Ok(refresh) = HeaderValue::from_str(&format!("0; url={to}")) {
        parts.headers.insert(header::HeaderName::from_static("refresh"), refresh);
    }
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    parts.headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Response::from_parts(parts, axum::body::Body::from(body))
}

#[cfg(test)]
mod tests {
    /// A template added to the folder and forgotten here would only fail when its page is shown.
    #[test]
    fn every_template_in_the_folder_is_compiled_in() {
        let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        let mut missing = Vec::new();
        for dir in [folder.clone(), folder.join("messages")] {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.extension().is_some_and(|e| e == "html") {
                    let name = path.strip_prefix(&folder).map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
                    if !super::TEMPLATES.iter().any(|(t, _)| *t == name) {
                        missing.push(name);
                    }
                }
            }
        }
        assert!(missing.is_empty(), "templates not in TEMPLATES: {missing:?}");
    }
}
