//! The OpenID Connect half of the port, on both backends.

use sesame_core::oidc::{ClientKind, NewClient, RedirectUri};
use sesame_core::signing::Alg;

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
        id_token_alg: if kind == ClientKind::Public { Alg::Es256 } else { Alg::Rs256 },
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
    assert_eq!(rdv.id_token_alg, Alg::Rs256);
    assert_eq!(store.oidc_client("c-app").await.unwrap().unwrap().id_token_alg, Alg::Es256);
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

pub(crate) async fn signing_keys_are_sealed_bound_to_their_kid_and_resealed(db: &Db) {
    use secrecy::ExposeSecret as _;
    use sesame_core::signing::Alg;
    use sesame_core::store::Reseal;
    let store = &db.store;
    let pkcs8 = b"-- a PKCS#8 document, as far as the store knows --".to_vec();
    let later = T0 + Duration::hours(1);
    let mut tx = store.begin().await.unwrap();
    tx.insert_signing_key("kid-ec", Alg::Es256, &pkcs8, T0, T0).await.unwrap();
    tx.insert_signing_key("kid-rsa", Alg::Rs256, &pkcs8, later, T0).await.unwrap();
    tx.commit().await.unwrap();

    let keys = store.signing_keys().await.unwrap();
    assert_eq!(
        keys.iter().map(|k| (k.kid.as_str(), k.alg)).collect::<Vec<_>>(),
        [("kid-ec", Alg::Es256), ("kid-rsa", Alg::Rs256)]
    );
    assert_eq!(keys[0].pkcs8.as_ref().unwrap().expose_secret(), &pkcs8[..], "opens with the ring");
    assert_eq!((keys[0].created_at, keys[0].active_from, keys[1].active_from), (T0, T0, later));

    // What rests in the table is no key, and it is counted among the sealed values.
    let raw = raw_sealed_key(&db.url, "kid-ec").await;
    assert!(!raw.windows(pkcs8.len()).any(|w| w == &pkcs8[..]), "sealed, not clear");
    assert_eq!(store.sealed_keys().await.unwrap().iter().map(|(_, n)| n).sum::<u64>(), 2);

    // A seal moved to another kid's row does not open.
    move_seal(&db.url, "kid-ec", "kid-rsa").await;
    let keys = store.signing_keys().await.unwrap();
    assert!(keys[0].pkcs8.is_ok());
    assert!(keys[1].pkcs8.is_err(), "bound to its kid");

    // Resealing leaves alone what the first key already seals, and the key still opens.
    let report = store.reseal_secrets(Reseal::All).await.unwrap();
    assert_eq!((report.resealed, report.unreadable), (0, 0));
    assert_eq!(store.signing_keys().await.unwrap()[0].pkcs8.as_ref().unwrap().expose_secret(), &pkcs8[..]);

    let mut tx = store.begin().await.unwrap();
    assert!(tx.insert_signing_key("kid-ec", Alg::Es256, &pkcs8, T0, T0).await.is_err(), "a kid is unique");
    drop(tx);
    let mut tx = store.begin().await.unwrap();
    assert!(tx.delete_signing_key("kid-rsa").await.unwrap());
    assert!(!tx.delete_signing_key("kid-rsa").await.unwrap());
    tx.commit().await.unwrap();
    assert_eq!(store.signing_keys().await.unwrap().len(), 1);
}

async fn raw_sealed_key(url: &str, kid: &str) -> Vec<u8> {
    use sqlx::Connection as _;
    let sql = "SELECT sealed FROM oidc_signing_keys WHERE kid = $1";
    if url.starts_with("sqlite") {
        let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::query_scalar(sql).bind(kid).fetch_one(&mut conn).await.unwrap()
    } else {
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query_scalar(sql).bind(kid).fetch_one(&mut conn).await.unwrap()
    }
}

async fn move_seal(url: &str, from: &str, to: &str) {
    use sqlx::Connection as _;
    let sealed = raw_sealed_key(url, from).await;
    let sql = "UPDATE oidc_signing_keys SET sealed = $1 WHERE kid = $2";
    if url.starts_with("sqlite") {
        let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::query(sql).bind(sealed).bind(to).execute(&mut conn).await.unwrap();
    } else {
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query(sql).bind(sealed).bind(to).execute(&mut conn).await.unwrap();
    }
}

pub(crate) async fn consents_are_one_per_account_and_client_and_codes_keep_their_digest(db: &Db) {
    use sesame_core::session::{AuthMethod, SessionId};
    use sesame_core::store::NewCode;
    let store = &db.store;
    let jeanne = super::insert(store, &super::new_account("jdupont", "jeanne@example.fr")).await;
    let mut tx = store.begin().await.unwrap();
    tx.insert_client(&client("c-rdv", "Prise de rendez-vous", ClientKind::Confidential), T0).await.unwrap();
    tx.insert_client(&client("c-app", "Application Therap-e", ClientKind::Public), T0).await.unwrap();
    tx.save_consent(jeanne, "c-rdv", "openid profile", T0).await.unwrap();
    tx.save_consent(jeanne, "c-app", "openid", T0 + Duration::minutes(1)).await.unwrap();
    tx.save_consent(jeanne, "c-rdv", "email openid profile", T0 + Duration::minutes(2)).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.consent(jeanne, "c-rdv").await.unwrap().as_deref(), Some("email openid profile"), "replaced");
    let listed = store.consents_of(jeanne).await.unwrap();
    assert_eq!(
        listed.iter().map(|c| (c.client_name.as_str(), c.granted_at)).collect::<Vec<_>>(),
        [("Prise de rendez-vous", T0 + Duration::minutes(2)), ("Application Therap-e", T0 + Duration::minutes(1))]
    );

    let code = NewCode {
        code_hash: vec![5; 32],
        client_id: "c-rdv".into(),
        account_id: jeanne,
        session_id: SessionId(1),
        redirect_uri: "https://rdv.example/cb".into(),
        scopes: "openid".into(),
        nonce: Some("n".into()),
        code_challenge: None,
        auth_time: T0,
        auth_method: AuthMethod::PasswordTotp,
        expires_at: T0 + Duration::seconds(60),
    };
    let mut tx = store.begin().await.unwrap();
    tx.insert_code(&code, T0).await.unwrap();
    assert!(tx.delete_consent(jeanne, "c-app").await.unwrap());
    assert!(!tx.delete_consent(jeanne, "c-app").await.unwrap());
    tx.commit().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    assert!(tx.insert_code(&code, T0).await.is_err(), "a code digest is unique");
    drop(tx);
    // Deleting a client takes its consents with it.
    let mut tx = store.begin().await.unwrap();
    tx.delete_client("c-rdv").await.unwrap();
    tx.commit().await.unwrap();
    assert!(store.consents_of(jeanne).await.unwrap().is_empty());
}

pub(crate) async fn codes_are_taken_once_and_token_families_end_together(db: &Db) {
    use sesame_core::session::AuthMethod;
    use sesame_core::store::{NewCode, NewOidcToken, OidcTokenKind, TokenGrant};
    let store = &db.store;
    let jeanne = super::insert(store, &super::new_account("jdupont", "jeanne@example.fr")).await;
    let mut tx = store.begin().await.unwrap();
    tx.insert_client(&client("c-rdv", "Prise de rendez-vous", ClientKind::Confidential), T0).await.unwrap();
    let session = |hash: u8| super::new_session(jeanne, &format!("browser {hash}"));
    let (browser, other) =
        (tx.insert_session(&session(1)).await.unwrap(), tx.insert_session(&session(2)).await.unwrap());
    let code = |hash: u8, session_id| NewCode {
        code_hash: vec![hash; 32],
        client_id: "c-rdv".into(),
        account_id: jeanne,
        session_id,
        redirect_uri: "https://rdv.example/cb".into(),
        scopes: "openid".into(),
        nonce: None,
        code_challenge: Some("challenge".into()),
        auth_time: T0,
        auth_method: AuthMethod::Password,
        expires_at: T0 + Duration::seconds(60),
    };
    for (hash, session_id) in [(7, browser), (8, browser), (9, other)] {
        tx.insert_code(&code(hash, session_id), T0).await.unwrap();
    }
    tx.commit().await.unwrap();

    // Two exchanges at once: one is first.
    let take = async |hash: u8| {
        let mut tx = store.begin().await.unwrap();
        let taken = tx.take_code(&[hash; 32], T0).await.unwrap().unwrap();
        tx.commit().await.unwrap();
        taken
    };
    let (a, b) = tokio::join!(take(7), take(7));
    assert!(a.first_use ^ b.first_use, "exactly one first use");
    assert_eq!(a.code.code_challenge.as_deref(), Some("challenge"));
    assert!(a.session_alive);
    let mut tx = store.begin().await.unwrap();
    assert!(tx.take_code(&[1; 32], T0).await.unwrap().is_none(), "unknown digest");
    drop(tx);

    // A family per code: access and refresh; offline or not.
    let grant = |code_id, session_id, offline| TokenGrant {
        code_id,
        client_id: "c-rdv".into(),
        account_id: jeanne,
        session_id,
        offline,
        scopes: "openid".into(),
        auth_time: T0,
        auth_method: AuthMethod::Password,
    };
    let (seven, eight, nine) = (a.id, take(8).await.id, take(9).await.id);
    let mut tx = store.begin().await.unwrap();
    for (hash, kind, g) in [
        (20, OidcTokenKind::Access, grant(seven, browser, false)),
        (21, OidcTokenKind::Refresh, grant(seven, browser, false)),
        (22, OidcTokenKind::Refresh, grant(eight, browser, true)),
        (23, OidcTokenKind::Refresh, grant(nine, other, false)),
    ] {
        let token = NewOidcToken { token_hash: vec![hash; 32], kind, grant: g, expires_at: T0 + Duration::days(30) };
        tx.insert_oidc_token(&token, T0).await.unwrap();
    }
    tx.commit().await.unwrap();
    let read = async |hash: u8| store.oidc_token(&[hash; 32], T0).await.unwrap().unwrap();
    let refresh = read(21).await;
    assert_eq!((refresh.kind, refresh.grant.clone()), (OidcTokenKind::Refresh, grant(seven, browser, false)));
    assert!(refresh.is_live(T0) && !refresh.is_live(T0 + Duration::days(30)));

    // "Mon compte" lists the families a refresh still works for, most recently used first.
    let families = |at| async move { store.oidc_families_of(jeanne, at).await.unwrap() };
    let listed: Vec<(i64, bool)> = families(T0).await.iter().map(|f| (f.code_id, f.offline)).collect();
    assert_eq!(listed, [(nine, false), (eight, true), (seven, false)]);
    let eight_listed = families(T0).await.into_iter().find(|f| f.code_id == eight).unwrap();
    assert_eq!(
        (eight_listed.client_name.as_str(), eight_listed.auth_method),
        ("Prise de rendez-vous", AuthMethod::Password)
    );
    assert_eq!((eight_listed.auth_time, eight_listed.last_used_at), (T0, T0));
    let after_idle: Vec<i64> = families(T0 + Duration::hours(2)).await.iter().map(|f| f.code_id).collect();
    assert_eq!(after_idle, [eight], "sessions idle: only the offline family can be refreshed");
    assert!(
        store.oidc_families_of(sesame_core::model::AccountId(jeanne.0 + 1000), T0).await.unwrap().is_empty(),
        "another account"
    );

    let mut tx = store.begin().await.unwrap();
    assert!(tx.use_oidc_token(refresh.id, T0).await.unwrap());
    assert!(!tx.use_oidc_token(refresh.id, T0).await.unwrap(), "used once");
    assert_eq!(tx.revoke_oidc_family(seven, T0).await.unwrap(), 2);
    tx.commit().await.unwrap();
    assert!(read(20).await.revoked_at.is_some() && read(22).await.revoked_at.is_none(), "only that family");
    let listed: Vec<i64> = families(T0).await.iter().map(|f| f.code_id).collect();
    assert_eq!(listed, [nine, eight], "a used or revoked refresh token is no family to list");

    // Signing out ends the session's tokens, but not the offline ones; signing out elsewhere
    // ends the other sessions'.
    let mut tx = store.begin().await.unwrap();
    assert!(tx.revoke_session(jeanne, browser, T0).await.unwrap());
    tx.commit().await.unwrap();
    let offline = read(22).await;
    assert!(offline.revoked_at.is_none() && !offline.session_alive && offline.is_live(T0));
    assert!(read(23).await.is_live(T0));
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.revoke_other_sessions(jeanne, browser, T0).await.unwrap(), 1);
    tx.commit().await.unwrap();
    assert!(read(23).await.revoked_at.is_some());
    // A password change or a disabled account ends them all.
    let mut tx = store.begin().await.unwrap();
    tx.revoke_all_access(jeanne, T0).await.unwrap();
    tx.commit().await.unwrap();
    assert!(read(22).await.revoked_at.is_some());
}
