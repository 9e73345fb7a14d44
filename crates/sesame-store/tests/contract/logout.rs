//! The back-channel logout queue, on both backends.

use sesame_core::oidc::{ClientKind, NewClient, RedirectUri};
use sesame_core::session::AuthMethod;
use sesame_core::signing::Alg;
use sesame_core::store::{NewOidcToken, OidcTokenKind, TokenGrant};

use super::{Db, T0};
use time::Duration;

fn service(client_id: &str, backchannel: Option<&str>) -> NewClient {
    NewClient {
        client_id: client_id.into(),
        name: client_id.into(),
        kind: ClientKind::Confidential,
        redirect_uris: vec![RedirectUri::parse("https://rdv.example/cb", ClientKind::Confidential).unwrap()],
        post_logout_redirect_uris: vec![],
        backchannel_logout_uri: backchannel.map(Into::into),
        first_party: true,
        require_second_factor: false,
        require_pkce: true,
        id_token_alg: Alg::Rs256,
        secret_digest: Some(vec![7; 32]),
    }
}

pub(crate) async fn logout_notices_are_queued_once_per_service_and_ended_session_and_leased(db: &Db) {
    let store = &db.store;
    let jeanne = super::insert(store, &super::new_account("jdupont", "jeanne@example.fr")).await;
    let mut tx = store.begin().await.unwrap();
    tx.insert_client(&service("told", Some("https://rdv.example/logout")), T0).await.unwrap();
    tx.insert_client(&service("untold", None), T0).await.unwrap();
    let mut sessions = vec![];
    for hash in 1..=3_u8 {
        sessions.push(tx.insert_session(&super::new_session(jeanne, &format!("browser {hash}"))).await.unwrap());
    }
    // Both services hold tokens of every session; "told" two families in the first, one offline.
    let mut hash = 10_u8;
    for (code_id, client_id, session_id, offline) in [
        (1, "told", sessions[0], false),
        (2, "told", sessions[0], true),
        (3, "untold", sessions[0], false),
        (4, "told", sessions[1], false),
        (5, "told", sessions[2], false),
        (6, "untold", sessions[2], false),
    ] {
        let grant = TokenGrant {
            code_id,
            client_id: client_id.into(),
            account_id: jeanne,
            session_id,
            offline,
            scopes: "openid".into(),
            auth_time: T0,
            auth_method: AuthMethod::Password,
        };
        hash += 1;
        let token = NewOidcToken {
            token_hash: vec![hash; 32],
            kind: OidcTokenKind::Refresh,
            grant,
            expires_at: T0 + Duration::days(1),
        };
        tx.insert_oidc_token(&token, T0).await.unwrap();
    }
    tx.commit().await.unwrap();
    let claim = async |at| store.claim_logout_notices(at, at + Duration::minutes(10), 20).await.unwrap();
    assert!(claim(T0).await.is_empty(), "no session ended yet");

    // Signing out: one notice, for the service with a back-channel URI, however many families.
    let mut tx = store.begin().await.unwrap();
    assert!(tx.revoke_session(jeanne, sessions[0], T0).await.unwrap());
    tx.commit().await.unwrap();
    let first = claim(T0).await;
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!((first[0].client_id.as_str(), first[0].account, first[0].session), ("told", jeanne, sessions[0]));
    assert_eq!((first[0].attempts, first[0].created_at), (1, T0));
    assert!(claim(T0).await.is_empty(), "leased: no other worker takes it");

    // Not accepted: due again at the time given, and counted.
    store.reschedule_logout_notice(first[0].id, T0 + Duration::seconds(5), "answered 503").await.unwrap();
    assert!(claim(T0 + Duration::seconds(4)).await.is_empty());
    let again = claim(T0 + Duration::seconds(5)).await;
    assert_eq!((again.len(), again[0].attempts), (1, 2));
    store.logout_notice_delivered(again[0].id, T0 + Duration::seconds(5)).await.unwrap();
    assert_eq!(store.pending_logout_notices().await.unwrap(), 0);
    assert!(claim(T0 + Duration::hours(2)).await.is_empty(), "delivered once, never again");

    // A session already ended owes nothing more; the others end one way or another, once each.
    let mut tx = store.begin().await.unwrap();
    assert!(!tx.revoke_session(jeanne, sessions[0], T0).await.unwrap());
    assert_eq!(tx.revoke_other_sessions(jeanne, sessions[1], T0).await.unwrap(), 1);
    tx.commit().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    tx.revoke_all_access(jeanne, T0).await.unwrap();
    tx.revoke_all_access(jeanne, T0).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.pending_logout_notices().await.unwrap(), 2);
    let rest: Vec<_> = claim(T0).await.into_iter().map(|n| (n.client_id, n.session)).collect();
    assert_eq!(rest, [("told".to_owned(), sessions[2]), ("told".to_owned(), sessions[1])]);

    // A delivered notice is purged with the delivered mail; a pending one stays.
    store.purge_expired(T0 + Duration::days(2), T0 + Duration::days(1)).await.unwrap();
    assert_eq!(store.pending_logout_notices().await.unwrap(), 2);
    // A deleted service is owed nothing.
    let mut tx = store.begin().await.unwrap();
    assert!(tx.delete_client("told").await.unwrap());
    tx.commit().await.unwrap();
    assert_eq!(store.pending_logout_notices().await.unwrap(), 0);
}
