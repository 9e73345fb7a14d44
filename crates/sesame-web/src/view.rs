//! Rendering pages: the shared context (branding, CSRF token, signed-in user) around each
//! template, French, never cached.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::{Environment, UndefinedBehavior};
use secrecy::ExposeSecret as _;
use serde::Serialize;
use serde_json::{Value, json};
use sesame_core::auth::SignedIn;
use sesame_core::secret::generate_token;

use crate::AppState;
use crate::request::{CSRF_COOKIE, cookie, cookie_name, csrf_token, set_cookie};

const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../templates/base.html")),
    ("macros.html", include_str!("../templates/macros.html")),
    ("login.html", include_str!("../templates/login.html")),
    ("first_connection.html", include_str!("../templates/first_connection.html")),
    ("services.html", include_str!("../templates/services.html")),
    ("account.html", include_str!("../templates/account.html")),
    ("message.html", include_str!("../templates/message.html")),
    ("forgot.html", include_str!("../templates/forgot.html")),
    ("reset_new.html", include_str!("../templates/reset_new.html")),
    ("installer.html", include_str!("../templates/installer.html")),
    ("help.html", include_str!("../templates/help.html")),
];

pub fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Chainable);
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
pub fn user_view(signed_in: &SignedIn) -> Value {
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

impl AppState {
    /// Renders `page` for this request. A browser without a CSRF cookie gets one.
    pub fn render(&self, headers: &HeaderMap, user: Option<&SignedIn>, page: Page) -> Response {
        let existing = cookie(headers, &cookie_name(&self.settings, CSRF_COOKIE)).map(str::to_owned);
        let (csrf_value, new_cookie) = match existing {
            Some(v) if !v.is_empty() => (v, None),
            _ => {
                let v = generate_token(32).expose_secret().to_owned();
                (v.clone(), Some(v))
            }
        };
        let mut ctx = json!({
            "branding": &*self.branding,
            "title": page.title,
            "page": page.page,
            "csrf": csrf_token(&csrf_value),
            "user": user.map(user_view),
        });
        if let (Some(map), Some(fields)) = (ctx.as_object_mut(), page.fields.as_object()) {
            map.extend(fields.clone());
        }
        let body = self.templates.get_template(page.template).and_then(|t| t.render(minijinja::value::Serde(&ctx)));
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
            headers.append(header::SET_COOKIE, set_cookie(&self.settings, CSRF_COOKIE, Some(&v)));
        }
        response
    }
}

/// 303 See Other: the browser follows with a GET (Post/Redirect/Get).
pub fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}
