//! `/api/v1` from the outside: what a desktop application sees.

#![expect(clippy::unwrap_used, reason = "tests")]

mod common;

use common::{Options, TestApp};
use serde_json::{Value, json};
use time::Duration;

const PERSONAL: &str = "la mer du nord est froide";

struct Api<'a> {
    app: &'a TestApp,
    http: reqwest::Client,
}

struct Reply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl<'a> Api<'a> {
    fn new(app: &'a TestApp) -> Self {
        Self { app, http: reqwest::Client::new() }
    }

    async fn send(&self, method: reqwest::Method, path: &str, bearer: Option<&str>, body: Option<Value>) -> Reply {
        let mut request = self.http.request(method, self.app.url(path));
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body =
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        Reply { status, headers, body }
    }

    async fn sign_in(&self, identifier: &str, password: &str) -> Reply {
        self.send(
            reqwest::Method::POST,
            "/api/v1/sessions",
            None,
            Some(json!({ "identifier": identifier, "password": password, "client": "Therap-e autonome" })),
        )
        .await
    }

    async fn post(&self, path: &str, bearer: Option<&str>, body: Value) -> Reply {
        self.send(reqwest::Method::POST, path, bearer, Some(body)).await
    }

    async fn me(&self, token: &str) -> Reply {
        self.send(reqwest::Method::GET, "/api/v1/me", Some(token), None).await
    }
}

fn problem(reply: &Reply) -> &str {
    assert_eq!(reply.headers["content-type"], "application/problem+json", "{:?}", reply.body);
    reply.body["type"].as_str().unwrap()
}

/// The guide's first connection, from the desktop application.
#[tokio::test]
async fn temporary_password_then_ticket_then_personal_password_then_tokens() {
    let app = TestApp::start().await;
    let temporary = app.jeanne().await;
    let api = Api::new(&app);
    let first = api.sign_in("jdupont", &temporary).await;
    assert_eq!(first.status, 403);
    assert_eq!(problem(&first), "/api/v1/problems/password_change_required");
    assert!(first.body.get("access_token").is_none(), "no access token with a temporary password");
    let ticket = first.body["change_ticket"].as_str().unwrap().to_owned();
    assert_eq!(first.body["expires_in"], 600);
    assert_eq!(api.me(&ticket).await.status, 401, "a ticket is not an access token");
    let refused =
        api.post("/api/v1/password", None, json!({ "change_ticket": ticket, "new_password": "soleil" })).await;
    assert_eq!(refused.status, 422);
    assert_eq!(problem(&refused), "/api/v1/problems/policy_violation");
    let codes: Vec<&str> =
        refused.body["violations"].as_array().unwrap().iter().map(|v| v["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["min_length", "not_common"]);
    assert_eq!(
        refused.body["violations"][0]["message"],
        "Le mot de passe doit contenir au moins 15 caractères (il en contient 6)."
    );
    let same = api.post("/api/v1/password", None, json!({ "change_ticket": ticket, "new_password": temporary })).await;
    assert_eq!(same.body["violations"][0]["code"], "not_current", "the temporary password is refused as the new one");
    let changed =
        api.post("/api/v1/password", None, json!({ "change_ticket": ticket, "new_password": PERSONAL })).await;
    assert_eq!(changed.status, 200, "{:?}", changed.body);
    assert_eq!(changed.body["message"], "Votre changement de mot de passe a bien été pris en compte.");
    assert_eq!(changed.body["token_type"], "Bearer");
    assert_eq!(changed.body["expires_in"], 900);
    assert_eq!(changed.headers["cache-control"], "no-store");
    let access = changed.body["access_token"].as_str().unwrap();
    let me = api.me(access).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body["identifier"], "jdupont");
    assert_eq!(me.body["client"], "Therap-e autonome");
    let reused = api
        .post("/api/v1/password", None, json!({ "change_ticket": ticket, "new_password": "encore une autre phrase" }))
        .await;
    assert_eq!(reused.status, 401, "a ticket works once");
    assert!(app.mails().await.iter().any(|(_, m)| m.kind() == "password_changed"), "the confirmation e-mail");
    let again = api.sign_in("jdupont", PERSONAL).await;
    assert_eq!(again.status, 201);
}

#[tokio::test]
async fn a_change_ticket_expires_after_ten_minutes_and_an_expired_temporary_password_is_refused() {
    let app = TestApp::start().await;
    let temporary = app.jeanne().await;
    let api = Api::new(&app);
    let ticket = api.sign_in("jdupont", &temporary).await.body["change_ticket"].as_str().unwrap().to_owned();
    app.clock.advance(Duration::minutes(10));
    let late = api.post("/api/v1/password", None, json!({ "change_ticket": ticket, "new_password": PERSONAL })).await;
    assert_eq!(late.status, 401);
    app.clock.advance(Duration::days(7));
    let expired = api.sign_in("jdupont", &temporary).await;
    assert_eq!(expired.status, 403);
    assert_eq!(problem(&expired), "/api/v1/problems/temporary_password_expired");
}

async fn ready(app: &TestApp) -> Api<'_> {
    let temporary = app.jeanne().await;
    app.first_connection(&app.browser(), "jdupont", &temporary, PERSONAL).await;
    Api::new(app)
}

#[tokio::test]
async fn every_credential_failure_is_the_same_401() {
    let app = TestApp::start().await;
    let api = ready(&app).await;
    app.create("Bernard", "Martin", "bernard@example.fr").await;
    let b = app.accounts.find("bmartin").await.unwrap();
    app.accounts
        .set_status(b.id, sesame_core::model::AccountStatus::Disabled, &sesame_core::audit::RequestContext::cli())
        .await
        .unwrap();
    let wrong = api.sign_in("jdupont", "mauvais").await;
    let unknown = api.sign_in("personne", "mauvais").await;
    let disabled = api.sign_in("bmartin", "mauvais").await;
    assert_eq!(wrong.status, 401);
    assert_eq!(problem(&wrong), "/api/v1/problems/invalid_credentials");
    assert_eq!(unknown.body, wrong.body);
    assert_eq!(disabled.body, wrong.body);
    let malformed =
        api.send(reqwest::Method::POST, "/api/v1/sessions", None, Some(json!({ "identifiant": "x" }))).await;
    assert_eq!(malformed.status, 400);
    assert_eq!(problem(&malformed), "/api/v1/problems/invalid_request");
    let unknown_route = api.send(reqwest::Method::GET, "/api/v1/nothing", None, None).await;
    assert_eq!(unknown_route.status, 404);
    assert_eq!(problem(&unknown_route), "/api/v1/problems/invalid_request");
}

#[tokio::test]
async fn throttling_is_shared_with_the_pages() {
    let app = TestApp::start_with(Options { captcha: false, ..Options::default() }).await;
    let api = ready(&app).await;
    let browser = app.browser();
    for _ in 0..3 {
        app.login(&browser, "jdupont", "mauvais").await;
    }
    for _ in 0..2 {
        assert_eq!(api.sign_in("jdupont", "mauvais").await.status, 401);
    }
    // 3 failures on the page + 2 on the API = 5: the next attempt waits, even with the right password.
    let throttled = api.sign_in("jdupont", PERSONAL).await;
    assert_eq!(throttled.status, 429);
    assert_eq!(problem(&throttled), "/api/v1/problems/throttled");
    assert_eq!(throttled.headers["retry-after"], "60");
    app.clock.advance(Duration::seconds(61));
    assert_eq!(api.sign_in("jdupont", PERSONAL).await.status, 201);
}

#[tokio::test]
async fn refresh_tokens_rotate_and_a_reused_one_ends_the_whole_sign_in() {
    let app = TestApp::start().await;
    let api = ready(&app).await;
    let signed = api.sign_in("jdupont", PERSONAL).await;
    let (access1, refresh1) = (
        signed.body["access_token"].as_str().unwrap().to_owned(),
        signed.body["refresh_token"].as_str().unwrap().to_owned(),
    );
    let rotated = api.post("/api/v1/tokens/refresh", None, json!({ "refresh_token": refresh1 })).await;
    assert_eq!(rotated.status, 200);
    let (access2, refresh2) = (
        rotated.body["access_token"].as_str().unwrap().to_owned(),
        rotated.body["refresh_token"].as_str().unwrap().to_owned(),
    );
    assert_ne!(refresh2, refresh1);
    assert_eq!(api.me(&access2).await.status, 200);
    // Replaying the first refresh token: refused, and the family (access2, refresh2) is revoked.
    let replay = api.post("/api/v1/tokens/refresh", None, json!({ "refresh_token": refresh1 })).await;
    assert_eq!(replay.status, 401);
    assert_eq!(problem(&replay), "/api/v1/problems/invalid_grant");
    assert_eq!(api.me(&access2).await.status, 401);
    assert_eq!(api.post("/api/v1/tokens/refresh", None, json!({ "refresh_token": refresh2 })).await.status, 401);
    assert_eq!(api.me(&access1).await.status, 401);
    // Access tokens live 15 minutes.
    let fresh = api.sign_in("jdupont", PERSONAL).await.body["access_token"].as_str().unwrap().to_owned();
    app.clock.advance(Duration::minutes(15));
    assert_eq!(api.me(&fresh).await.status, 401);
}

#[tokio::test]
async fn tokens_are_revoked_by_logout_by_mon_compte_and_by_a_password_change() {
    let app = TestApp::start().await;
    let api = ready(&app).await;
    let token = |r: &Reply| r.body["access_token"].as_str().unwrap().to_owned();
    // Logout.
    let a = token(&api.sign_in("jdupont", PERSONAL).await);
    assert_eq!(api.send(reqwest::Method::DELETE, "/api/v1/sessions/current", Some(&a), None).await.status, 204);
    assert_eq!(api.me(&a).await.status, 401);
    // "Mon compte" lists the application and ends it.
    let b = token(&api.sign_in("jdupont", PERSONAL).await);
    let browser = app.browser();
    app.login(&browser, "jdupont", PERSONAL).await;
    let page = app.get(&browser, "/mon-compte").await;
    assert!(page.body.contains("Application : Therap-e autonome"), "{}", page.body);
    let family = {
        let start = page.body.find("name=\"application\" value=\"").unwrap() + 26;
        page.body[start..start + page.body[start..].find('"').unwrap()].to_owned()
    };
    app.post(&browser, "/mon-compte/sessions/terminer", &page, &[("application", &family)]).await;
    assert_eq!(api.me(&b).await.status, 401);
    // A password change through the API with the current password ends everything else.
    let c = token(&api.sign_in("jdupont", PERSONAL).await);
    let d = token(&api.sign_in("jdupont", PERSONAL).await);
    let wrong = api
        .post(
            "/api/v1/password",
            Some(&c),
            json!({ "current_password": "mauvais", "new_password": "une toute nouvelle phrase" }),
        )
        .await;
    assert_eq!(wrong.status, 401);
    let changed = api
        .post(
            "/api/v1/password",
            Some(&c),
            json!({ "current_password": PERSONAL, "new_password": "une toute nouvelle phrase" }),
        )
        .await;
    assert_eq!(changed.status, 200);
    assert_eq!(api.me(&c).await.status, 401, "replaced by the new pair");
    assert_eq!(api.me(&d).await.status, 401, "other sign-ins end");
    assert_eq!(app.get(&browser, "/services").await.location(), Some("/?info=session-expiree"), "browser sessions end");
    assert_eq!(api.me(&token(&changed)).await.status, 200);
}

#[tokio::test]
async fn the_api_sets_no_cookie_and_no_cors_header() {
    let app = TestApp::start().await;
    let api = ready(&app).await;
    let reply = api.sign_in("jdupont", PERSONAL).await;
    assert!(reply.headers.get("set-cookie").is_none());
    assert!(reply.headers.get("access-control-allow-origin").is_none());
    let preflight = api.send(reqwest::Method::OPTIONS, "/api/v1/sessions", None, None).await;
    assert!(preflight.headers.get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn the_openapi_document_describes_every_route_served() {
    let app = TestApp::start().await;
    let api = Api::new(&app);
    let doc = api.send(reqwest::Method::GET, "/api/v1/openapi.json", None, None).await;
    assert_eq!(doc.status, 200);
    assert!(doc.body["openapi"].as_str().unwrap().starts_with("3.1"), "{}", doc.body["openapi"]);
    let paths = doc.body["paths"].as_object().unwrap();
    for (method, path, _) in sesame_web::api::routes() {
        let operation = &paths.get(path).unwrap_or_else(|| panic!("{path} is served but not documented"))
            [method.as_str().to_lowercase()];
        assert!(operation.is_object(), "{method} {path} is served but not documented");
    }
    let documented: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
    assert_eq!(documented, sesame_web::api::routes().len(), "every documented operation is served");
    assert!(doc.body["components"]["securitySchemes"]["bearer"].is_object());
}
