//! The OpenID Connect half of the port, on both backends.

use sesame_core::oidc::{ClientKind, NewClient, RedirectUri};

use super::{Db, T0};
use time::Duration;

fn client(client_id: &str, name: &str, kind: ClientKind) -> NewClient {
    NewClient {
        client_id: client_id.into(),
        name: name.into(),
        kind,
        redirect_uris: vec![
            RedirectUri::parse("https://rdv.example/cb", kind).unwrap(),
            RedirectUri::parse("http://127.0.0.1/cb", kind).unwrap(),
        ],
        post_logout_redirect_uris: vec!["https://rdv.example/".into()],
        backchannel_logout_uri: Some("https://rdv.example/logout".into()),
        first_party: true,
        require_second_factor: false,
        require_pkce: true,
        secret_digest: (kind == ClientKind::Confidential).then(|| vec![7; 32]),
    }
}

pub(crate) async fn oidc_clients_keep_their_uris_in_order_and_a_secret_digest(db: &Db) {
    let store = &db.store;
    let mut tx = store.begin().await.unwrap();
    tx.insert_client(&client("c-rdv", "Prise de rendez-vous", ClientKind::Confidential), T0).await.unwrap();
    tx.insert_client(&client("c-app", "Application Therap-e", ClientKind::Public), T0).await.unwrap();
    tx.commit().await.unwrap();

    let all = store.oidc_clients().await.unwrap();
    assert_eq!(
        all.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
        ["Prise de rendez-vous", "Application Therap-e"]
    );
    let rdv = store.oidc_client("c-rdv").await.unwrap().unwrap();
    assert_eq!(rdv.kind, ClientKind::Confidential);
    assert_eq!(
        rdv.redirect_uris.iter().map(RedirectUri::as_str).collect::<Vec<_>>(),
        ["https://rdv.example/cb", "http://127.0.0.1/cb"]
    );
    assert_eq!(rdv.post_logout_redirect_uris, ["https://rdv.example/"]);
    assert_eq!(rdv.backchannel_logout_uri.as_deref(), Some("https://rdv.example/logout"));
    assert!(rdv.first_party && rdv.require_pkce && !rdv.require_second_factor);
    assert_eq!(rdv.secret_digest.as_deref(), Some(&[7u8; 32][..]));
    assert_eq!((rdv.created_at, rdv.secret_rotated_at), (T0, None));
    assert!(store.oidc_client("C-RDV").await.unwrap().is_none(), "client ids are exact");

    // A public client has no secret to replace; a confidential one does.
    let later = T0 + Duration::days(1);
    let mut tx = store.begin().await.unwrap();
    assert!(!tx.set_client_secret("c-app", &[1; 32], later).await.unwrap());
    assert!(tx.set_client_secret("c-rdv", &[9; 32], later).await.unwrap());
    assert!(!tx.set_client_secret("nobody", &[9; 32], later).await.unwrap());
    tx.commit().await.unwrap();
    let rdv = store.oidc_client("c-rdv").await.unwrap().unwrap();
    assert_eq!((rdv.secret_digest.as_deref(), rdv.secret_rotated_at), (Some(&[9u8; 32][..]), Some(later)));
    assert!(store.oidc_client("c-app").await.unwrap().unwrap().secret_digest.is_none());

    // The same client_id twice is refused, and the transaction leaves nothing.
    let mut tx = store.begin().await.unwrap();
    assert!(tx.insert_client(&client("c-rdv", "Copie", ClientKind::Confidential), T0).await.is_err());
    drop(tx);
    let mut tx = store.begin().await.unwrap();
    assert!(tx.delete_client("c-rdv").await.unwrap());
    assert!(!tx.delete_client("c-rdv").await.unwrap());
    tx.commit().await.unwrap();
    assert_eq!(store.oidc_clients().await.unwrap().len(), 1);
}
