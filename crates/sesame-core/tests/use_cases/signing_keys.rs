//! The life of the token-signing keys as every node sees it: generated once, published before
//! they sign, replaced keys kept for the retention and then withdrawn.

use sesame_core::audit::RequestContext;
use sesame_core::oidc::{KeyState, OidcSettings};
use sesame_core::services::CoreSettings;
use sesame_core::signing::Alg;
use time::Duration;

use crate::world::World;

fn published(jwks: &str) -> Vec<String> {
    let set: serde_json::Value = serde_json::from_str(jwks).unwrap();
    set["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn keys_are_generated_once_published_before_signing_and_withdrawn_after_the_retention() {
    let settings = CoreSettings {
        oidc: OidcSettings { key_retention_hours: 2, ..OidcSettings::default() },
        ..CoreSettings::default()
    };
    let world = World::with(settings).await;
    let keys = &world.services.signing_keys;
    assert!(keys.current().await.unwrap().signer(Alg::Es256).is_none(), "nothing before the first start");

    let first = keys.ensure().await.unwrap();
    assert_eq!(first.len(), 2);
    assert!(keys.ensure().await.unwrap().is_empty(), "generated once");
    let set = keys.current().await.unwrap();
    let es = set.signer(Alg::Es256).unwrap().kid().to_owned();
    let rs = set.signer(Alg::Rs256).unwrap().kid().to_owned();
    assert_eq!(published(set.jwks()), [es.clone(), rs.clone()]);

    // A rotation publishes at once (this node forgets its cache) but signs only an hour later.
    let next = keys.rotate(Duration::hours(1), &RequestContext::cli()).await.unwrap();
    let set = keys.current().await.unwrap();
    assert_eq!(published(set.jwks()).len(), 4, "published ahead");
    assert_eq!(set.signer(Alg::Es256).unwrap().kid(), es, "the old key still signs");
    world.advance(Duration::minutes(59));
    assert_eq!(keys.current().await.unwrap().signer(Alg::Es256).unwrap().kid(), es);
    world.advance(Duration::minutes(1));
    let set = keys.current().await.unwrap();
    assert_eq!(set.signer(Alg::Es256).unwrap().kid(), next[0].kid, "read again when the new key is due");
    assert_eq!(set.signer(Alg::Rs256).unwrap().kid(), next[1].kid);
    assert!(set.published(&es).is_some(), "the replaced key still verifies what it signed");

    // Kept for the retention (two hours here), then withdrawn by the purge.
    let states: Vec<KeyState> = keys.list().await.unwrap().into_iter().map(|k| k.state).collect();
    let until = world.now() + Duration::hours(2);
    assert_eq!(
        states,
        [
            KeyState::Retired { remove_after: until },
            KeyState::Retired { remove_after: until },
            KeyState::Signing,
            KeyState::Signing
        ]
    );
    world.advance(Duration::minutes(119));
    assert_eq!(keys.prune().await.unwrap(), 0);
    assert!(keys.current().await.unwrap().published(&es).is_some());
    world.advance(Duration::minutes(1));
    assert!(keys.current().await.unwrap().published(&es).is_none(), "no longer published once due");
    assert_eq!(keys.prune().await.unwrap(), 2);
    assert_eq!(published(keys.current().await.unwrap().jwks()), [next[0].kid.clone(), next[1].kid.clone()]);
    let actions = world.actions(None).await;
    assert_eq!(actions.iter().filter(|a| *a == "oidc_signing_keys_generated:success").count(), 2, "{actions:?}");
    assert!(actions.contains(&"oidc_signing_key_removed:success".to_owned()), "{actions:?}");
}

#[tokio::test]
async fn a_token_signed_now_names_a_published_key() {
    let world = World::new().await;
    let keys = &world.services.signing_keys;
    keys.ensure().await.unwrap();
    let set = keys.current().await.unwrap();
    for alg in Alg::ALL {
        let signer = set.signer(alg).unwrap();
        let token = signer.sign("JWT", &serde_json::json!({ "sub": "1" })).unwrap();
        let header = token.split('.').next().unwrap();
        let header: serde_json::Value = serde_json::from_slice(
            &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, header).unwrap(),
        )
        .unwrap();
        assert_eq!(header["alg"], alg.as_str());
        assert!(published(set.jwks()).contains(&header["kid"].as_str().unwrap().to_owned()));
    }
}
