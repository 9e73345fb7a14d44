//! OpenID Connect clients: the secret printed is the one that authenticates, a new one
//! replaces it, a public client has none.

use secrecy::ExposeSecret as _;
use sesame_core::audit::RequestContext;
use sesame_core::oidc::{ClientKind, ClientRequest, secret_matches};

use crate::world::World;

fn request(public: bool) -> ClientRequest {
    ClientRequest {
        name: "Prise de rendez-vous".into(),
        redirect_uris: vec!["https://rdv.example/cb".into()],
        public,
        ..ClientRequest::default()
    }
}

#[tokio::test]
async fn the_secret_shown_authenticates_and_a_new_one_replaces_it() {
    let world = World::new().await;
    let clients = &world.services.clients;
    let ctx = RequestContext::cli();
    let created = clients.create(&request(false), &ctx).await.unwrap();
    let first = created.secret.unwrap().expose_secret().to_owned();
    let stored = clients.get(&created.client.client_id).await.unwrap();
    assert!(secret_matches(&stored, &first), "the digest kept is the secret's");
    assert!(!secret_matches(&stored, "not the secret"));
    assert!(!secret_matches(&stored, &first[..42]));

    let rotated = clients.rotate_secret(&stored.client_id, &ctx).await.unwrap();
    let second = rotated.secret.unwrap().expose_secret().to_owned();
    let stored = clients.get(&stored.client_id).await.unwrap();
    assert!(secret_matches(&stored, &second));
    assert!(!secret_matches(&stored, &first), "the old secret stops working");
}

#[tokio::test]
async fn a_public_client_has_no_secret_to_match_and_always_needs_pkce() {
    let world = World::new().await;
    let created = world.services.clients.create(&request(true), &RequestContext::cli()).await.unwrap();
    assert!(created.secret.is_none());
    assert_eq!(created.client.kind, ClientKind::Public);
    assert!(created.client.needs_pkce());
    assert!(!secret_matches(&created.client, ""));
}
