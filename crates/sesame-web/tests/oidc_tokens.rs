//! The token and userinfo endpoints, driven by the `openidconnect` crate as a service would use
//! it (discovery, PKCE, signature checked against the JWK Set, nonce, `at_hash`), and by hand
//! for every refusal: each answered with its RFC error, and nothing issued.

#![expect(clippy::unwrap_used, reason = "tests")]

mod common;

use common::TestApp;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreJwsSigningAlgorithm, CoreProviderMetadata, CoreUserInfoClaims,
};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse as _,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken, Scope, TokenResponse as _,
};
use serde_json::Value;
use sesame_core::audit::RequestContext;
use sesame_core::oidc::ClientRequest;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

const PERSONAL: &str = "Falaise-Etretat-2026!";
const CALLBACK: &str = "https://rdv.example/oidc/cb";
const GOODBYE: &str = "https://rdv.example/au-revoir";

/// A started portal whose clock is the real one (the library checks `exp` against it), with
/// its signing keys.
async fn portal() -> TestApp {
    let app = TestApp::start().await;
    app.clock.set(time::OffsetDateTime::now_utc());
    app.services.signing_keys.ensure().await.unwrap();
    app
}

async fn register(app: &TestApp, public: bool) -> (String, Option<String>) {
    register_with(app, ClientRequest { public, ..ClientRequest::default() }).await
}

/// A first-party client with the test's addresses and what `request` says besides.
async fn register_with(app: &TestApp, request: ClientRequest) -> (String, Option<String>) {
    let request = ClientRequest {
        name: "Prise de rendez-vous".into(),
        redirect_uris: vec![CALLBACK.into()],
        post_logout_redirect_uris: vec![GOODBYE.into()],
        first_party: true,
        ..request
    };
    let created = app.services.clients.create(&request, &RequestContext::cli()).await.unwrap();
    (created.client.client_id, created.secret.map(|s| secrecy::ExposeSecret::expose_secret(&s).to_owned()))
}

/// The HTTP client the library uses: no redirects followed.
fn http() -> openidconnect::reqwest::Client {
    openidconnect::reqwest::Client::builder()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn relying_party(
    app: &TestApp,
    client_id: &str,
    secret: Option<&str>,
) -> CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
> {
    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(app.base.clone()).unwrap(), &http()).await.unwrap();
    CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(client_id.to_owned()),
        secret.map(|s| ClientSecret::new(s.to_owned())),
    )
    .set_redirect_uri(RedirectUrl::new(CALLBACK.to_owned()).unwrap())
}

/// Jeanne signed in on the portal, in `browser`.
async fn jeanne(app: &TestApp, browser: &reqwest::Client) {
    let temporary = app.jeanne().await;
    app.first_connection(browser, "jdupont", &temporary, PERSONAL).await;
}

/// The code the browser brings back from the authorization URL (checked against `state`).
async fn code_from(app: &TestApp, browser: &reqwest::Client, url: &reqwest::Url, state: &CsrfToken) -> String {
    let response = browser.get(url.as_str()).send().await.unwrap();
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with(CALLBACK), "{location}");
    let back: std::collections::HashMap<String, String> =
        reqwest::Url::parse(&location).unwrap().query_pairs().into_owned().collect();
    assert_eq!(back["state"], *state.secret());
    assert_eq!(back["iss"], app.base);
    back["code"].clone()
}

#[tokio::test]
async fn a_service_signs_in_with_the_openidconnect_crate_and_reads_userinfo() {
    let app = portal().await;
    let (client_id, secret) = register(&app, false).await;
    let rp = relying_party(&app, &client_id, secret.as_deref()).await;
    let browser = app.browser();
    jeanne(&app, &browser).await;

    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = rp
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge)
        .url();
    let code = code_from(&app, &browser, &url, &state).await;
    let tokens = rp
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http())
        .await
        .unwrap();

    let id_token = tokens.id_token().unwrap();
    let verifier = rp.id_token_verifier();
    let claims = id_token.claims(&verifier, &nonce).unwrap();
    assert_eq!(claims.preferred_username().unwrap().as_str(), "jdupont");
    assert_eq!(claims.email().unwrap().as_str(), "jeanne.dupont@example.fr");
    assert_eq!(claims.given_name().unwrap().get(None).unwrap().as_str(), "Jeanne");
    let amr: Vec<&str> = claims.auth_method_refs().unwrap().iter().map(|a| a.as_str()).collect();
    assert_eq!(amr, ["pwd"]);
    assert_eq!(claims.auth_context_ref().unwrap().as_str(), "urn:sesame:acr:1fa");
    let expected = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&expected));

    let info: CoreUserInfoClaims =
        rp.user_info(tokens.access_token().clone(), None).unwrap().request_async(&http()).await.unwrap();
    assert_eq!(info.subject(), claims.subject());
    assert_eq!(info.email().unwrap().as_str(), "jeanne.dupont@example.fr");

    let actions = app.store.audit_events(&Default::default()).await.unwrap();
    assert!(actions.iter().any(|e| e.action == "oidc_tokens_issued"), "{actions:?}");
}

#[tokio::test]
async fn a_client_registered_with_es256_gets_its_id_tokens_signed_with_the_published_es256_key() {
    let app = portal().await;
    let (client_id, secret) =
        register_with(&app, ClientRequest { id_token_alg: Some("ES256".into()), ..ClientRequest::default() }).await;
    let rp = relying_party(&app, &client_id, secret.as_deref()).await;
    let browser = app.browser();
    jeanne(&app, &browser).await;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = rp
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .set_pkce_challenge(challenge)
        .url();
    let code = code_from(&app, &browser, &url, &state).await;
    let tokens = rp
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http())
        .await
        .unwrap();
    let id_token = tokens.id_token().unwrap();
    assert_eq!(id_token.signing_alg().unwrap(), &CoreJwsSigningAlgorithm::EcdsaP256Sha256);
    // Verified against the JWKS's ES256 key, by a verifier allowing that algorithm only.
    let es256 = rp.id_token_verifier().set_allowed_algs(vec![CoreJwsSigningAlgorithm::EcdsaP256Sha256]);
    let claims = id_token.claims(&es256, &nonce).unwrap();
    let expected = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&es256).unwrap(),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&expected));

    // The other clients keep RS256, and an unknown algorithm is refused at registration.
    let (default_client, _) = register(&app, false).await;
    assert_eq!(app.services.clients.get(&default_client).await.unwrap().id_token_alg, sesame_core::signing::Alg::Rs256);
    let refused = app
        .services
        .clients
        .create(
            &ClientRequest {
                name: "x".into(),
                redirect_uris: vec![CALLBACK.into()],
                id_token_alg: Some("none".into()),
                ..ClientRequest::default()
            },
            &RequestContext::cli(),
        )
        .await;
    assert!(
        matches!(refused, Err(sesame_core::oidc::ClientError::Invalid(p)) if p.iter().any(|m| m.contains("RS256 or ES256")))
    );
}

/// Signs Jeanne in for a confidential first-party client: (client_id, secret, code, verifier).
async fn a_code(app: &TestApp, scope: &str) -> (String, String, String, PkceCodeVerifier) {
    let browser = app.browser();
    jeanne(app, &browser).await;
    a_code_in(app, &browser, scope).await
}

async fn a_code_in(
    app: &TestApp,
    browser: &reqwest::Client,
    scope: &str,
) -> (String, String, String, PkceCodeVerifier) {
    let (client_id, secret) = register(app, false).await;
    let (code, verifier) = a_code_for(app, browser, &client_id, secret.as_deref(), scope).await;
    (client_id, secret.unwrap(), code, verifier)
}

/// The code `browser` brings back for this client: (code, verifier).
async fn a_code_for(
    app: &TestApp,
    browser: &reqwest::Client,
    client_id: &str,
    secret: Option<&str>,
    scope: &str,
) -> (String, PkceCodeVerifier) {
    let rp = relying_party(app, client_id, secret).await;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request =
        rp.authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random);
    for s in scope.split(' ') {
        request = request.add_scope(Scope::new(s.to_owned()));
    }
    let (url, state, _) = request.set_pkce_challenge(challenge).url();
    (code_from(app, browser, &url, &state).await, verifier)
}

/// A raw token request with HTTP Basic: (status, JSON body, headers).
async fn token(app: &TestApp, client: (&str, &str), form: &[(&str, &str)]) -> (u16, Value, reqwest::header::HeaderMap) {
    token_at(app, "/oidc/token", client, form).await
}

async fn token_at(
    app: &TestApp,
    path: &str,
    client: (&str, &str),
    form: &[(&str, &str)],
) -> (u16, Value, reqwest::header::HeaderMap) {
    let response = reqwest::Client::new()
        .post(app.url(path))
        .basic_auth(client.0, Some(client.1))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, response.json().await.unwrap(), headers)
}

async fn userinfo_status(app: &TestApp, access_token: &str) -> u16 {
    let response =
        reqwest::Client::new().get(app.url("/oidc/userinfo")).bearer_auth(access_token).send().await.unwrap();
    response.status().as_u16()
}

/// A client's credentials, the form, the status and error expected.
type Case<'a> = ((&'a str, &'a str), Vec<(&'a str, &'a str)>, u16, &'a str);

fn refresh<'a>(token: &'a str, scope: Option<&'a str>) -> Vec<(&'a str, &'a str)> {
    let mut form = vec![("grant_type", "refresh_token"), ("refresh_token", token)];
    form.extend(scope.map(|s| ("scope", s)));
    form
}

fn exchange<'a>(code: &'a str, verifier: &'a PkceCodeVerifier) -> Vec<(&'a str, &'a str)> {
    vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", CALLBACK),
        ("code_verifier", verifier.secret()),
    ]
}

#[tokio::test]
async fn a_code_is_exchanged_once_and_a_replay_revokes_what_it_gave() {
    let app = portal().await;
    let (client_id, secret, code, verifier) = a_code(&app, "openid").await;
    let (status, first, headers) = token(&app, (&client_id, &secret), &exchange(&code, &verifier)).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(first["token_type"], "Bearer");
    let access = first["access_token"].as_str().unwrap();
    assert_eq!(userinfo_status(&app, access).await, 200);

    let (status, again, _) = token(&app, (&client_id, &secret), &exchange(&code, &verifier)).await;
    assert_eq!((status, again["error"].as_str()), (400, Some("invalid_grant")));
    assert_eq!(userinfo_status(&app, access).await, 401, "the first access token is revoked");
    let refresh = first["refresh_token"].as_str().unwrap();
    let (status, body, _) =
        token(&app, (&client_id, &secret), &[("grant_type", "refresh_token"), ("refresh_token", refresh)]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "and so is the refresh token");
    let actions = app.store.audit_events(&Default::default()).await.unwrap();
    assert!(actions.iter().any(|e| e.action == "oidc_code_reused"), "{actions:?}");
}

#[tokio::test]
async fn a_bad_verifier_secret_redirect_or_late_code_is_refused_and_leaves_the_code_usable() {
    let app = portal().await;
    let (client_id, secret, code, verifier) = a_code(&app, "openid").await;
    let wrong_verifier = PkceCodeVerifier::new("x".repeat(43));
    let cases: Vec<Case<'_>> = vec![
        ((&client_id, &secret), exchange(&code, &wrong_verifier), 400, "invalid_grant"),
        ((&client_id, &secret), exchange(&code, &verifier)[..3].to_vec(), 400, "invalid_grant"),
        ((&client_id, "not-the-secret"), exchange(&code, &verifier), 401, "invalid_client"),
        (("unknown", &secret), exchange(&code, &verifier), 401, "invalid_client"),
        (
            (&client_id, &secret),
            vec![
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", "https://rdv.example/oidc/cb/"),
                ("code_verifier", verifier.secret()),
            ],
            400,
            "invalid_grant",
        ),
        (
            (&client_id, &secret),
            vec![("grant_type", "password"), ("username", "jdupont")],
            400,
            "unsupported_grant_type",
        ),
        ((&client_id, &secret), vec![("grant_type", "authorization_code")], 400, "invalid_request"),
        ((&client_id, &secret), [exchange(&code, &verifier), vec![("code", &code)]].concat(), 400, "invalid_request"),
    ];
    for (client, form, status, error) in cases {
        let (got, body, headers) = token(&app, client, &form).await;
        assert_eq!((got, body["error"].as_str()), (status, Some(error)), "{form:?}: {body}");
        if status == 401 {
            assert!(headers["www-authenticate"].to_str().unwrap().starts_with("Basic"));
        }
    }
    // Nothing above used the code up: the right request still works, once.
    let (status, body, _) = token(&app, (&client_id, &secret), &exchange(&code, &verifier)).await;
    assert_eq!(status, 200, "{body}");

    let app = portal().await;
    let (client_id, secret, code, verifier) = a_code(&app, "openid").await;
    app.clock.advance(time::Duration::seconds(61));
    let (status, body, _) = token(&app, (&client_id, &secret), &exchange(&code, &verifier)).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "a code lives 60 s");
}

#[tokio::test]
async fn a_refresh_token_rotates_and_a_reused_one_revokes_its_whole_family() {
    let app = portal().await;
    let (client_id, secret, code, verifier) = a_code(&app, "openid email offline_access").await;
    let (_, first, _) = token(&app, (&client_id, &secret), &exchange(&code, &verifier)).await;
    let old = first["refresh_token"].as_str().unwrap();
    let (status, body, _) = token(&app, (&client_id, &secret), &refresh(old, Some("openid profile"))).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_scope")), "no scope beyond the grant");

    let (status, second, _) = token(&app, (&client_id, &secret), &refresh(old, Some("openid"))).await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(second["scope"], "openid");
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    let new_access = second["access_token"].as_str().unwrap();
    assert_eq!(userinfo_status(&app, new_access).await, 200);

    // The old one again: thief or owner, the family is revoked.
    let (status, body, _) = token(&app, (&client_id, &secret), &refresh(old, None)).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));
    assert_eq!(userinfo_status(&app, new_access).await, 401);
    let (status, _, _) =
        token(&app, (&client_id, &secret), &refresh(second["refresh_token"].as_str().unwrap(), None)).await;
    assert_eq!(status, 400, "the newest refresh token is revoked too");
    let actions = app.store.audit_events(&Default::default()).await.unwrap();
    assert!(actions.iter().any(|e| e.action == "oidc_refresh_reused"), "{actions:?}");
}

#[tokio::test]
async fn a_public_client_uses_pkce_without_secret_and_signing_out_ends_its_tokens() {
    let app = portal().await;
    let (client_id, _) = register(&app, true).await;
    let rp = relying_party(&app, &client_id, None).await;
    let browser = app.browser();
    jeanne(&app, &browser).await;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = rp
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .set_pkce_challenge(challenge)
        .url();
    let code = code_from(&app, &browser, &url, &state).await;
    let tokens = rp
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http())
        .await
        .unwrap();
    tokens.id_token().unwrap().claims(&rp.id_token_verifier(), &nonce).unwrap();
    let access = tokens.access_token().secret().clone();
    assert_eq!(userinfo_status(&app, &access).await, 200);

    // "Se déconnecter": the tokens of that browser session end with it.
    let page = app.get(&browser, "/services").await;
    let out = app.post(&browser, "/deconnexion", &page, &[]).await;
    assert_eq!(out.status, 303, "{}", out.body);
    assert_eq!(userinfo_status(&app, &access).await, 401);
    let refreshed = rp
        .exchange_refresh_token(&RefreshToken::new(tokens.refresh_token().unwrap().secret().clone()))
        .unwrap()
        .request_async(&http())
        .await;
    assert!(refreshed.is_err(), "refreshing after sign-out is refused");
}

#[tokio::test]
async fn userinfo_refuses_a_missing_or_unknown_token_and_a_disabled_account() {
    let app = portal().await;
    let (client_id, secret, code, verifier) = a_code(&app, "openid profile").await;
    let (_, tokens, _) = token(&app, (&client_id, &secret), &exchange(&code, &verifier)).await;
    let access = tokens["access_token"].as_str().unwrap();

    let http = reqwest::Client::new();
    let bare = http.get(app.url("/oidc/userinfo")).send().await.unwrap();
    assert_eq!(bare.status(), 401);
    assert_eq!(bare.headers()["www-authenticate"], "Bearer realm=\"sesame\"");
    assert_eq!(userinfo_status(&app, "forged").await, 401);
    // POST with the token in the form body (RFC 6750 2.2).
    let posted = http.post(app.url("/oidc/userinfo")).form(&[("access_token", access)]).send().await.unwrap();
    assert_eq!(posted.status(), 200);
    let info: Value = posted.json().await.unwrap();
    assert_eq!(info["preferred_username"], "jdupont");
    assert!(info.get("email").is_none(), "email was not granted: {info}");

    let account = app.store.account_by_identifier_key("jdupont").await.unwrap().unwrap();
    app.accounts
        .set_status(account.id, sesame_core::model::AccountStatus::Disabled, &RequestContext::cli())
        .await
        .unwrap();
    let response = http.get(app.url("/oidc/userinfo")).bearer_auth(access).send().await.unwrap();
    assert_eq!(response.status(), 401);
    assert!(response.headers()["www-authenticate"].to_str().unwrap().contains("invalid_token"));
}

#[tokio::test]
async fn discovery_lists_what_is_served() {
    let app = portal().await;
    let response = reqwest::get(app.url("/.well-known/openid-configuration")).await.unwrap();
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    let document: Value = response.json().await.unwrap();
    assert_eq!(document["issuer"], app.base);
    assert_eq!(document["code_challenge_methods_supported"], serde_json::json!(["S256"]));
    assert_eq!(
        (
            document["backchannel_logout_supported"].as_bool(),
            document["backchannel_logout_session_supported"].as_bool()
        ),
        (Some(true), Some(true))
    );
    for endpoint in ["authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri"] {
        let url = document[endpoint].as_str().unwrap();
        assert!(url.starts_with(&app.base), "{endpoint}: {url}");
        let status = reqwest::Client::new().get(url).send().await.unwrap().status().as_u16();
        assert_ne!(status, 404, "{endpoint} is served");
    }
}

#[tokio::test]
async fn a_service_introspects_its_own_tokens_and_revokes_a_family() {
    use openidconnect::{IntrospectionUrl, TokenIntrospectionResponse as _};
    let app = portal().await;
    let (client_id, secret) = register(&app, false).await;
    let rp = relying_party(&app, &client_id, secret.as_deref())
        .await
        .set_introspection_url(IntrospectionUrl::new(app.url("/oidc/introspect")).unwrap());
    let browser = app.browser();
    jeanne(&app, &browser).await;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, _) = rp
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge)
        .url();
    let code = code_from(&app, &browser, &url, &state).await;
    let tokens = rp
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http())
        .await
        .unwrap();

    let seen = rp.introspect(tokens.access_token()).request_async(&http()).await.unwrap();
    assert!(seen.active());
    assert_eq!(seen.username(), Some("jdupont"));
    assert_eq!(seen.client_id().map(|c| c.as_str()), Some(client_id.as_str()));
    let scopes: Vec<String> = seen.scopes().unwrap().iter().map(|s| s.to_string()).collect();
    assert_eq!(scopes, ["openid", "profile"]);

    // Another client sees nothing of it, and cannot revoke it.
    let (other_id, other_secret) = register(&app, false).await;
    let other = (other_id.as_str(), other_secret.as_deref().unwrap());
    let access = tokens.access_token().secret().as_str();
    let (status, body, _) = token_at(&app, "/oidc/introspect", other, &[("token", access)]).await;
    assert_eq!((status, body), (200, serde_json::json!({ "active": false })));
    let (status, _, _) = token_at(&app, "/oidc/revoke", other, &[("token", access)]).await;
    assert_eq!(status, 200);
    assert_eq!(userinfo_status(&app, access).await, 200, "still valid");
    let (status, body, _) = token_at(&app, "/oidc/introspect", (&client_id, "wrong"), &[("token", access)]).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")));

    // Revoking the refresh token ends the access token too (RFC 7009 2.1). By hand: the library
    // refuses a revocation endpoint over plain HTTP, which the test portal is.
    let me = (client_id.as_str(), secret.as_deref().unwrap());
    let refresh = tokens.refresh_token().unwrap().secret().as_str();
    let hinted = [("token", refresh), ("token_type_hint", "refresh_token")];
    let (status, _, headers) = token_at(&app, "/oidc/revoke", me, &hinted).await;
    assert_eq!((status, headers["cache-control"].to_str().unwrap()), (200, "no-store"));
    assert_eq!(userinfo_status(&app, access).await, 401);
    assert!(!rp.introspect(tokens.access_token()).request_async(&http()).await.unwrap().active());
    for again in [access, "unknown"] {
        let (status, _, _) = token_at(&app, "/oidc/revoke", me, &[("token", again)]).await;
        assert_eq!(status, 200, "revoking again, or an unknown token, is not an error");
    }
    let actions = app.store.audit_events(&Default::default()).await.unwrap();
    assert_eq!(actions.iter().filter(|e| e.action == "oidc_token_revoked").count(), 1, "{actions:?}");
}

#[tokio::test]
async fn a_service_s_tokens_are_listed_in_mon_compte_and_ended_there_by_their_holder_only() {
    let app = portal().await;
    let browser = app.browser();
    jeanne(&app, &browser).await;
    let (client_id, secret, code, verifier) = a_code_in(&app, &browser, "openid offline_access").await;
    let (_, tokens, _) = token(&app, (&client_id, &secret), &exchange(&code, &verifier)).await;
    let access = tokens["access_token"].as_str().unwrap();
    let account = app.get(&browser, "/mon-compte").await;
    assert!(account.body.contains("Service : Prise de rendez-vous (accès prolongé)"), "{}", account.body);
    let family = common::between(&account.body, "name=\"service\" value=\"", "\"").to_owned();

    // Another professional cannot end it from their own "Mon compte".
    let other = app.browser();
    let temporary = app.create("Paul", "Martin", "paul.martin@example.fr").await;
    app.first_connection(&other, "pmartin", &temporary, PERSONAL).await;
    let theirs = app.get(&other, "/mon-compte").await;
    let refused = app.post(&other, "/mon-compte/sessions/terminer", &theirs, &[("service", &family)]).await;
    assert_eq!(refused.location(), Some("/mon-compte"));
    let garbage = app.post(&other, "/mon-compte/sessions/terminer", &theirs, &[("service", "x")]).await;
    assert_eq!(garbage.location(), Some("/mon-compte"), "a tampered value ends nothing");
    assert_eq!(userinfo_status(&app, access).await, 200, "nothing changed");

    let ended = app.post(&browser, "/mon-compte/sessions/terminer", &account, &[("service", &family)]).await;
    assert_eq!(ended.location(), Some("/mon-compte?confirmation=session-terminee"));
    assert_eq!(userinfo_status(&app, access).await, 401);
    let (status, body, _) =
        token(&app, (&client_id, &secret), &refresh(tokens["refresh_token"].as_str().unwrap(), None)).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));
    let account = app.get(&browser, "/mon-compte").await;
    assert!(!account.body.contains("Service : Prise de rendez-vous"), "{}", account.body);
    assert!(signed_in(&app, &browser).await, "the portal session stays");
    let events = app.store.audit_events(&Default::default()).await.unwrap();
    assert!(events.iter().any(|e| e.action == "oidc_token_revoked" && e.details["by"] == "account"), "{events:?}");
}

/// Jeanne signed in, and the tokens a service got in that browser session: (browser,
/// client_id, token response).
async fn signed_in_service(app: &TestApp) -> (reqwest::Client, String, Value) {
    let browser = app.browser();
    jeanne(app, &browser).await;
    let (client_id, secret, code, verifier) = a_code_in(app, &browser, "openid").await;
    let (status, tokens, _) = token(app, (&client_id, &secret), &exchange(&code, &verifier)).await;
    assert_eq!(status, 200, "{tokens}");
    (browser, client_id, tokens)
}

fn logout_path(pairs: &[(&str, &str)]) -> String {
    format!("/oidc/logout?{}", serde_urlencoded::to_string(pairs).unwrap())
}

/// Whether the browser is still signed in on the portal.
async fn signed_in(app: &TestApp, browser: &reqwest::Client) -> bool {
    app.get(browser, "/mon-compte").await.status == 200
}

#[tokio::test]
async fn a_service_signs_the_person_out_with_its_id_token_and_comes_back_with_state() {
    let app = portal().await;
    let (browser, _, tokens) = signed_in_service(&app).await;
    let hint = tokens["id_token"].as_str().unwrap();
    let path = logout_path(&[("id_token_hint", hint), ("post_logout_redirect_uri", GOODBYE), ("state", "s-9")]);
    let out = app.get(&browser, &path).await;
    assert_eq!((out.status, out.location()), (303, Some("https://rdv.example/au-revoir?state=s-9")), "{}", out.body);
    assert!(!signed_in(&app, &browser).await, "the portal session ended");
    assert_eq!(userinfo_status(&app, tokens["access_token"].as_str().unwrap()).await, 401, "and its tokens");

    // Signed out already: the same request just sends the browser back.
    let again = app.get(&browser, &path).await;
    assert_eq!(again.location(), Some("https://rdv.example/au-revoir?state=s-9"));
}

#[tokio::test]
async fn without_a_hint_for_this_session_the_person_confirms_with_a_form() {
    let app = portal().await;
    let (browser, client_id, _) = signed_in_service(&app).await;
    let path = logout_path(&[("client_id", &client_id), ("post_logout_redirect_uri", GOODBYE)]);
    let page = app.get(&browser, &path).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("« Prise de rendez-vous » demande votre déconnexion"), "{}", page.body);
    assert!(signed_in(&app, &browser).await, "a GET alone signs nobody out");

    let demande = common::between(&page.body, "name=\"demande\" value=\"", "\"").replace("&amp;", "&");
    let forged = browser.post(app.url("/oidc/deconnexion")).form(&[("demande", demande.as_str())]);
    assert_eq!(forged.send().await.unwrap().status(), 403, "no CSRF token, no logout");
    assert!(signed_in(&app, &browser).await);
    let done = app.post(&browser, "/oidc/deconnexion", &page, &[("demande", &demande)]).await;
    assert_eq!(done.location(), Some(GOODBYE), "{}", done.body);
    assert!(!signed_in(&app, &browser).await);
}

#[tokio::test]
async fn a_forged_or_foreign_hint_or_an_unregistered_address_gets_a_page_and_changes_nothing() {
    let app = portal().await;
    let (browser, client_id, tokens) = signed_in_service(&app).await;
    let hint = tokens["id_token"].as_str().unwrap().to_owned();
    let (header, rest) = hint.split_once('.').unwrap();
    let (_, signature) = rest.split_once('.').unwrap();
    let claims = serde_json::json!({ "iss": app.base, "aud": client_id, "sub": "someone-else", "sid": "x" });
    let altered = format!("{header}.{}.{signature}", base64_url(&claims.to_string()));
    let unsigned = format!("{}.{}.", base64_url(r#"{"alg":"none"}"#), base64_url(&claims.to_string()));
    let (other_client, _) = register(&app, false).await;
    let cases: Vec<Vec<(&str, &str)>> = vec![
        vec![("id_token_hint", &altered), ("post_logout_redirect_uri", GOODBYE)],
        vec![("id_token_hint", &unsigned), ("post_logout_redirect_uri", GOODBYE)],
        vec![("id_token_hint", &hint), ("post_logout_redirect_uri", "https://rdv.example/au-revoir/")],
        vec![("id_token_hint", &hint), ("post_logout_redirect_uri", "https://evil.example/")],
        vec![("id_token_hint", &hint), ("client_id", &other_client), ("post_logout_redirect_uri", GOODBYE)],
        vec![("post_logout_redirect_uri", GOODBYE)],
        vec![("client_id", "unknown"), ("post_logout_redirect_uri", GOODBYE)],
    ];
    for pairs in cases {
        let page = app.get(&browser, &logout_path(&pairs)).await;
        assert_eq!((page.status, page.location()), (400, None), "{pairs:?}: {}", page.body);
        assert!(page.body.contains("Déconnexion impossible"), "{}", page.body);
        assert!(signed_in(&app, &browser).await, "{pairs:?} signed out");
    }
    assert_eq!(userinfo_status(&app, tokens["access_token"].as_str().unwrap()).await, 200);
}

fn base64_url(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

/// A service's back-channel logout endpoint on a loopback port: answers `statuses` in turn, then
/// 200, and keeps every `logout_token` it was sent.
async fn logout_receiver(statuses: Vec<u16>) -> (String, Arc<Mutex<Vec<String>>>) {
    use axum::extract::{Form, State};
    let received = Arc::new(Mutex::new(Vec::new()));
    let answers = Arc::new(Mutex::new(statuses.into_iter()));
    type Shared = (Arc<Mutex<Vec<String>>>, Arc<Mutex<std::vec::IntoIter<u16>>>);
    let handler = async |State((received, answers)): State<Shared>, Form(form): Form<HashMap<String, String>>| {
        received.lock().unwrap().push(form.get("logout_token").cloned().unwrap_or_default());
        let status = answers.lock().unwrap().next().unwrap_or(200);
        axum::http::StatusCode::from_u16(status).unwrap()
    };
    let router = axum::Router::new()
        .route("/backchannel", axum::routing::post(handler))
        .with_state((Arc::clone(&received), answers));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    (format!("http://{address}/backchannel"), received)
}

/// What `sesame serve` does with a logout token, for these tests: a form POST.
#[derive(Debug)]
struct Poster(reqwest::Client);

#[async_trait::async_trait]
impl sesame_core::oidc::LogoutPoster for Poster {
    async fn post(&self, uri: &str, logout_token: &str) -> Result<(), String> {
        let answer =
            self.0.post(uri).form(&[("logout_token", logout_token)]).send().await.map_err(|e| e.to_string())?;
        if answer.status().is_success() { Ok(()) } else { Err(format!("answered {}", answer.status())) }
    }
}

/// A logout token, as the `openidconnect` crate reads a JWT of this issuer.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
struct LogoutClaims {
    sid: String,
    jti: String,
    events: serde_json::Map<String, Value>,
}
impl openidconnect::AdditionalClaims for LogoutClaims {}
type LogoutToken = openidconnect::IdToken<
    LogoutClaims,
    openidconnect::core::CoreGenderClaim,
    openidconnect::core::CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

fn payload(jwt: &str) -> Value {
    use base64::Engine as _;
    let middle = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(middle).unwrap()).unwrap()
}

#[tokio::test]
async fn signing_out_sends_the_service_a_signed_logout_token_retried_until_it_is_accepted() {
    let app = portal().await;
    let (uri, received) = logout_receiver(vec![503]).await;
    let request = ClientRequest { backchannel_logout_uri: Some(uri), ..ClientRequest::default() };
    let (client_id, secret) = register_with(&app, request).await;
    let browser = app.browser();
    jeanne(&app, &browser).await;
    let (code, verifier) = a_code_for(&app, &browser, &client_id, secret.as_deref(), "openid").await;
    let (status, tokens, _) = token(&app, (&client_id, secret.as_deref().unwrap()), &exchange(&code, &verifier)).await;
    assert_eq!(status, 200, "{tokens}");
    let id_token = payload(tokens["id_token"].as_str().unwrap());
    let poster = Poster(reqwest::Client::new());
    let flush = async || app.services.backchannel.flush(&poster).await.unwrap();
    assert_eq!(flush().await, Default::default(), "nothing owed while the session is open");

    let page = app.get(&browser, "/services").await;
    assert_eq!(app.post(&browser, "/deconnexion", &page, &[]).await.status, 303);
    // The service is down: told again later, not lost.
    assert_eq!(flush().await.deferred, 1);
    assert_eq!(flush().await, Default::default(), "not before its time");
    app.clock.advance(time::Duration::seconds(5));
    assert_eq!(flush().await.delivered, 1);
    assert_eq!(flush().await, Default::default(), "delivered once");
    let tokens_sent = received.lock().unwrap().clone();
    assert_eq!(tokens_sent.len(), 2, "one notice, two attempts");

    // What the service checks (Back-Channel Logout 2.6), with a library: signed by a key of the
    // JWK Set, this issuer, for this client; the logout event; `sub` and `sid` of its ID token.
    let rp = relying_party(&app, &client_id, secret.as_deref()).await;
    let verifier = rp.id_token_verifier().allow_all_jose_types();
    let logout: LogoutToken = tokens_sent[1].parse().unwrap();
    let claims = logout.claims(&verifier, |nonce: Option<&openidconnect::Nonce>| match nonce {
        None => Ok(()),
        Some(_) => Err("a logout token has no nonce".to_owned()),
    });
    let claims = claims.unwrap();
    assert_eq!(claims.subject().as_str(), id_token["sub"]);
    assert_eq!(claims.additional_claims().sid, id_token["sid"]);
    assert!(claims.additional_claims().events["http://schemas.openid.net/event/backchannel-logout"].is_object());
    assert_ne!(payload(&tokens_sent[0])["jti"], payload(&tokens_sent[1])["jti"], "signed afresh each time");
    let header: Value = {
        use base64::Engine as _;
        let head = tokens_sent[1].split('.').next().unwrap();
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(head).unwrap()).unwrap()
    };
    assert_eq!(header["typ"], "logout+jwt");
    let events = app.store.audit_events(&Default::default()).await.unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.action.as_str()).filter(|a| a.starts_with("backchannel")).collect();
    assert_eq!(kinds.len(), 2, "{kinds:?}");
    assert!(kinds.contains(&"backchannel_logout_deferred") && kinds.contains(&"backchannel_logout_sent"));
}
