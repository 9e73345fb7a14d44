//! The checks of an authorization request, before anything is shown: which refusals stay on
//! Sésame's page and which go back to the service with their RFC 6749 error.

use sesame_core::oidc::request::{self, BAD_REDIRECT_URI, RequestError, Scope, UNKNOWN_CLIENT};
use sesame_core::oidc::{Client, ClientKind, NewClient, RedirectUri};
use time::macros::datetime;

const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn client(kind: ClientKind, require_pkce: bool) -> Client {
    NewClient {
        client_id: "rdv".into(),
        name: "Prise de rendez-vous".into(),
        kind,
        redirect_uris: vec![
            RedirectUri::parse("https://rdv.example/oidc/cb", kind).unwrap(),
            RedirectUri::parse("http://127.0.0.1/cb", kind).unwrap(),
        ],
        post_logout_redirect_uris: Vec::new(),
        backchannel_logout_uri: None,
        first_party: false,
        require_second_factor: false,
        require_pkce,
        id_token_alg: sesame_core::signing::Alg::Rs256,
        secret_digest: None,
    }
    .registered(datetime!(2026-12-01 09:00 UTC))
}

fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

fn good() -> Vec<(&'static str, &'static str)> {
    vec![
        ("response_type", "code"),
        ("client_id", "rdv"),
        ("redirect_uri", "https://rdv.example/oidc/cb"),
        ("scope", "openid profile email unknown"),
        ("state", "s-123"),
        ("nonce", "n-456"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ]
}

fn with(changes: &[(&'static str, Option<&'static str>)]) -> Vec<(String, String)> {
    let mut all = good();
    for (name, value) in changes {
        all.retain(|(k, _)| k != name);
        if let Some(v) = value {
            all.push((name, v));
        }
    }
    params(&all)
}

fn redirected(result: Result<request::AuthorizationRequest, RequestError>) -> (&'static str, Option<String>) {
    match result {
        Err(RequestError::Redirect(r)) => {
            assert_eq!(r.redirect_uri, "https://rdv.example/oidc/cb");
            (r.error, r.state)
        }
        other => panic!("expected a redirect, got {other:?}"),
    }
}

#[test]
fn a_good_request_is_accepted_with_the_scopes_sesame_knows() {
    let checked = request::check(&params(&good()), Some(client(ClientKind::Confidential, true))).unwrap();
    assert_eq!(checked.scopes, [Scope::OpenId, Scope::Profile, Scope::Email]);
    assert_eq!((checked.state.as_deref(), checked.nonce.as_deref()), (Some("s-123"), Some("n-456")));
    assert_eq!(checked.code_challenge.as_deref(), Some(CHALLENGE));
    assert!(!checked.prompt_none && !checked.prompt_login && !checked.two_factors);
    let step_up =
        with(&[("acr_values", Some("urn:sesame:acr:2fa")), ("prompt", Some("login")), ("max_age", Some("1"))]);
    let checked = request::check(&step_up, Some(client(ClientKind::Confidential, true))).unwrap();
    assert!(checked.two_factors && checked.prompt_login);
    assert_eq!(checked.max_age, Some(1));
}

#[test]
fn without_a_known_client_and_an_exact_redirect_uri_nothing_is_redirected() {
    assert!(matches!(request::client_id(&with(&[("client_id", None)])), Err(RequestError::Page(_))));
    let twice = params(&[("client_id", "rdv"), ("client_id", "other")]);
    assert!(matches!(request::client_id(&twice), Err(RequestError::Page(_))));
    assert_eq!(request::check(&params(&good()), None).unwrap_err(), RequestError::Page(UNKNOWN_CLIENT));
    for uri in [
        "https://rdv.example/oidc/cb/",
        "https://rdv.example/oidc/c",
        "https://rdv.example/oidc/cb?x=1",
        "https://RDV.example/oidc/CB",
        "https://rdv.example/oidc/cb#f",
        "http://rdv.example/oidc/cb",
        "https://rdv.example.evil/oidc/cb",
        "http://127.0.0.1:8123/cb",
    ] {
        let result =
            request::check(&with(&[("redirect_uri", Some(uri))]), Some(client(ClientKind::Confidential, true)));
        assert_eq!(result.unwrap_err(), RequestError::Page(BAD_REDIRECT_URI), "{uri}");
    }
    assert!(matches!(
        request::check(&with(&[("redirect_uri", None)]), Some(client(ClientKind::Confidential, true))),
        Err(RequestError::Page(_))
    ));
    // A loopback port is free for a desktop application only (RFC 8252).
    let native = with(&[("redirect_uri", Some("http://127.0.0.1:8123/cb"))]);
    assert!(request::check(&native, Some(client(ClientKind::Public, true))).is_ok());
}

#[test]
fn every_other_problem_goes_back_to_the_service_with_its_error_and_state() {
    type Case<'a> = (&'a [(&'a str, Option<&'a str>)], &'a str);
    let cases: &[Case] = &[
        (&[("request", Some("eyJ..."))], "request_not_supported"),
        (&[("request_uri", Some("https://rdv.example/r"))], "request_uri_not_supported"),
        (&[("response_type", None)], "invalid_request"),
        (&[("response_type", Some("token"))], "unsupported_response_type"),
        (&[("response_type", Some("code id_token"))], "unsupported_response_type"),
        (&[("response_mode", Some("fragment"))], "invalid_request"),
        (&[("scope", Some("profile email"))], "invalid_scope"),
        (&[("scope", None)], "invalid_scope"),
        (&[("code_challenge_method", Some("plain"))], "invalid_request"),
        (&[("code_challenge_method", None)], "invalid_request"),
        (&[("code_challenge", None)], "invalid_request"),
        (&[("code_challenge", Some("too-short"))], "invalid_request"),
        (&[("prompt", Some("none login"))], "invalid_request"),
        (&[("prompt", Some("maybe"))], "invalid_request"),
        (&[("max_age", Some("-1"))], "invalid_request"),
        (&[("max_age", Some("soon"))], "invalid_request"),
    ];
    for (changes, error) in cases {
        let result = request::check(&with(changes), Some(client(ClientKind::Confidential, true)));
        assert_eq!(redirected(result), (*error, Some("s-123".to_owned())), "{changes:?}");
    }
    let mut repeated = params(&good());
    repeated.push(("scope".into(), "openid".into()));
    assert_eq!(
        redirected(request::check(&repeated, Some(client(ClientKind::Confidential, true)))).0,
        "invalid_request"
    );
}

#[test]
fn pkce_is_required_of_public_clients_even_when_optional_for_confidential_ones() {
    let without = with(&[("code_challenge", None), ("code_challenge_method", None)]);
    assert!(request::check(&without, Some(client(ClientKind::Confidential, false))).is_ok());
    assert_eq!(redirected(request::check(&without, Some(client(ClientKind::Public, false)))).0, "invalid_request");
    assert_eq!(redirected(request::check(&without, Some(client(ClientKind::Confidential, true)))).0, "invalid_request");
}
