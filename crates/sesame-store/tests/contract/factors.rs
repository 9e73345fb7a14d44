//! The second factors' half of the port, on both backends.

use sesame_core::factor::{FactorId, NewTicket};
use sesame_core::store::Reseal;
use sesame_core::totp::TotpSecret;

use super::{Db, T0, insert, new_account};
use time::Duration;

pub(crate) async fn totp_factors_are_sealed_confirmed_once_and_steps_accepted_once(db: &Db) {
    let store = &db.store;
    let account = insert(store, &new_account("jdupont", "jeanne@example.fr")).await;
    let secret = TotpSecret::from_bytes(b"12345678901234567890".to_vec());
    let mut tx = store.begin().await.unwrap();
    let id = tx.insert_totp(account, "Téléphone", &secret, T0).await.unwrap();
    tx.commit().await.unwrap();
    let factors = store.totp_factors_of(account).await.unwrap();
    assert_eq!(factors.len(), 1);
    assert_eq!(factors[0].factor.name, "Téléphone");
    assert_eq!(factors[0].factor.confirmed_at, None);
    assert_eq!(factors[0].secret.as_ref().unwrap().expose(), secret.expose(), "opens with the ring");

    // What rests in the table is no secret.
    let raw: Vec<u8> = sqlx_sealed(&db.url, id).await;
    assert!(!raw.windows(20).any(|w| w == secret.expose()), "sealed, not clear");
    let keys = store.sealed_keys().await.unwrap();
    assert_eq!(keys.iter().map(|(_, n)| n).sum::<u64>(), 1, "counted among the sealed values: {keys:?}");

    let mut tx = store.begin().await.unwrap();
    assert!(tx.confirm_factor(account, id, 100, T0).await.unwrap());
    assert!(!tx.confirm_factor(account, id, 101, T0).await.unwrap(), "confirmed once");
    assert!(!tx.use_totp_step(id, 100, T0).await.unwrap(), "the confirming step is used");
    assert!(tx.use_totp_step(id, 101, T0).await.unwrap());
    assert!(!tx.use_totp_step(id, 101, T0).await.unwrap(), "a step is accepted once");
    assert!(!tx.use_totp_step(id, 99, T0).await.unwrap(), "an older step too");
    tx.commit().await.unwrap();
    let factor = &store.second_factors_of(account).await.unwrap()[0];
    assert_eq!(factor.confirmed_at, Some(T0));

    // A rotation reseals it; the secret still opens.
    let report = store.reseal_secrets(Reseal::All).await.unwrap();
    assert_eq!(report.unreadable, 0);
    assert_eq!(store.totp_factors_of(account).await.unwrap()[0].secret.as_ref().unwrap().expose(), secret.expose());

    let mut tx = store.begin().await.unwrap();
    let other = tx.insert_totp(account, "Nouveau", &secret, T0).await.unwrap();
    assert_eq!(tx.delete_other_factors(account, Some(other), None).await.unwrap(), 1);
    assert!(!tx.delete_factor(account, id).await.unwrap(), "already gone");
    assert!(tx.delete_factor(account, other).await.unwrap());
    assert!(!tx.delete_factor(account, FactorId(other.0 + 100)).await.unwrap());
    tx.commit().await.unwrap();
    assert!(store.second_factors_of(account).await.unwrap().is_empty());
}

async fn sqlx_sealed(url: &str, id: FactorId) -> Vec<u8> {
    use sqlx::Connection as _;
    if url.starts_with("sqlite") {
        let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::query_scalar("SELECT sealed FROM second_factors WHERE id = $1")
            .bind(id.0)
            .fetch_one(&mut conn)
            .await
            .unwrap()
    } else {
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query_scalar("SELECT sealed FROM second_factors WHERE id = $1")
            .bind(id.0)
            .fetch_one(&mut conn)
            .await
            .unwrap()
    }
}

pub(crate) async fn recovery_codes_are_used_once_and_replaced_by_batch(db: &Db) {
    let store = &db.store;
    let account = insert(store, &new_account("jdupont", "jeanne@example.fr")).await;
    let batch: Vec<Vec<u8>> = (0u8..10).map(|i| vec![i; 32]).collect();
    let mut tx = store.begin().await.unwrap();
    tx.replace_recovery_codes(account, &batch, T0).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.recovery_codes_left(account).await.unwrap(), 10);
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.use_recovery_code(account, &batch[0], T0).await.unwrap(), Some(9));
    assert_eq!(tx.use_recovery_code(account, &batch[0], T0).await.unwrap(), None, "once");
    assert_eq!(tx.use_recovery_code(account, &[0xff; 32], T0).await.unwrap(), None);
    tx.commit().await.unwrap();
    let other = insert(store, &new_account("pmartin", "paul@example.fr")).await;
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.use_recovery_code(other, &batch[1], T0).await.unwrap(), None, "another account's code");
    tx.replace_recovery_codes(account, &[vec![0xaa; 32]], T0).await.unwrap();
    assert_eq!(tx.use_recovery_code(account, &batch[1], T0).await.unwrap(), None, "the old batch is gone");
    tx.commit().await.unwrap();
    assert_eq!(store.recovery_codes_left(account).await.unwrap(), 1);
}

pub(crate) async fn second_factor_tickets_are_single_use_and_expire(db: &Db) {
    let store = &db.store;
    let account = insert(store, &new_account("jdupont", "jeanne@example.fr")).await;
    let ticket = |hash: &[u8]| NewTicket {
        token_hash: hash.to_vec(),
        account_id: account,
        channel: "api".into(),
        client_name: Some("Therap-e".into()),
        ip: None,
        created_at: T0,
        expires_at: T0 + Duration::minutes(5),
    };
    let mut tx = store.begin().await.unwrap();
    tx.insert_second_factor_ticket(&ticket(b"one")).await.unwrap();
    tx.insert_second_factor_ticket(&ticket(b"two")).await.unwrap();
    tx.commit().await.unwrap();
    let live = store.second_factor_ticket(b"one", T0).await.unwrap().unwrap();
    assert_eq!((live.channel.as_str(), live.client_name.as_deref()), ("api", Some("Therap-e")));
    let mut tx = store.begin().await.unwrap();
    assert!(tx.use_second_factor_ticket(live.id, T0).await.unwrap());
    assert!(!tx.use_second_factor_ticket(live.id, T0).await.unwrap());
    tx.commit().await.unwrap();
    assert!(store.second_factor_ticket(b"one", T0).await.unwrap().is_none(), "used");
    assert!(store.second_factor_ticket(b"two", T0 + Duration::minutes(5)).await.unwrap().is_none(), "expired");
    let purged = store.purge_expired(T0 + Duration::minutes(6), T0).await.unwrap();
    assert_eq!(purged.second_factor, 2);
}

pub(crate) async fn security_keys_are_sealed_confirmed_once_and_unique(db: &Db) {
    use sesame_core::factor::FactorKind;
    let store = &db.store;
    let account = insert(store, &new_account("jdupont", "jeanne@example.fr")).await;
    let other_account = insert(store, &new_account("pmartin", "paul@example.fr")).await;
    let state = br#"{"registration":"state-with-a-challenge"}"#;
    let mut tx = store.begin().await.unwrap();
    let id = tx.insert_key(account, "Clé bleue", state, T0).await.unwrap();
    let app = tx.insert_totp(account, "Téléphone", &TotpSecret::from_bytes(vec![7; 20]), T0).await.unwrap();
    tx.commit().await.unwrap();
    let keys = store.key_factors_of(account).await.unwrap();
    assert_eq!(keys.len(), 1, "only the keys: {keys:?}");
    assert_eq!(keys[0].factor.kind, FactorKind::SecurityKey);
    assert_eq!(keys[0].factor.confirmed_at, None);
    assert_eq!(keys[0].credential.as_ref().unwrap(), state);
    assert!(!sqlx_sealed(&db.url, id).await.windows(10).any(|w| w == &state[2..12]), "sealed, not clear");
    assert!(store.totp_factors_of(account).await.unwrap().iter().all(|f| f.factor.id == app), "an app is no key");

    let credential = br#"{"cred":"public key, counter 0"}"#;
    let mut tx = store.begin().await.unwrap();
    assert!(!tx.confirm_factor(account, id, 1, T0).await.unwrap(), "a key is not confirmed by a TOTP step");
    assert!(!tx.confirm_key(other_account, id, credential, b"cred-1", T0).await.unwrap(), "not another's");
    assert!(tx.confirm_key(account, id, credential, b"cred-1", T0).await.unwrap());
    assert!(!tx.confirm_key(account, id, credential, b"cred-1", T0).await.unwrap(), "confirmed once");
    tx.commit().await.unwrap();
    let key = &store.key_factors_of(account).await.unwrap()[0];
    assert_eq!(key.factor.confirmed_at, Some(T0));
    assert_eq!(key.credential.as_ref().unwrap(), credential);

    // The same authenticator's credential cannot be registered twice, for anyone.
    let mut tx = store.begin().await.unwrap();
    let again = tx.insert_key(other_account, "Copie", state, T0).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    assert!(!tx.confirm_key(other_account, again, credential, b"cred-1", T0).await.unwrap(), "unique");
    drop(tx);
    assert_eq!(store.key_factors_of(other_account).await.unwrap()[0].factor.confirmed_at, None, "left waiting");

    // A use reseals the credential (counter) and records it; a rotation keeps it readable.
    let used = br#"{"cred":"public key, counter 7"}"#;
    let mut tx = store.begin().await.unwrap();
    tx.update_key(account, id, used, T0 + Duration::minutes(1)).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.reseal_secrets(Reseal::All).await.unwrap().unreadable, 0);
    let key = &store.key_factors_of(account).await.unwrap()[0];
    assert_eq!(key.credential.as_ref().unwrap(), used);
    assert_eq!(key.factor.last_used_at, Some(T0 + Duration::minutes(1)));

    // Replacing the apps leaves the keys.
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.delete_other_factors(account, None, Some(FactorKind::Totp)).await.unwrap(), 1);
    tx.commit().await.unwrap();
    assert_eq!(store.second_factors_of(account).await.unwrap().len(), 1);
}

pub(crate) async fn key_challenges_are_replaced_single_use_and_expire(db: &Db) {
    let store = &db.store;
    let account = insert(store, &new_account("jdupont", "jeanne@example.fr")).await;
    let mut tx = store.begin().await.unwrap();
    let first = tx.replace_key_challenge(account, "one", T0, T0 + Duration::minutes(5)).await.unwrap();
    let second = tx.replace_key_challenge(account, "two", T0, T0 + Duration::minutes(5)).await.unwrap();
    tx.commit().await.unwrap();
    let live = store.key_challenge(account, T0).await.unwrap().unwrap();
    assert_eq!((live.id, live.state.as_str()), (second, "two"), "the newer replaces the older");
    assert!(store.key_challenge(account, T0 + Duration::minutes(5)).await.unwrap().is_none(), "expired");
    let mut tx = store.begin().await.unwrap();
    assert!(!tx.use_key_challenge(first, T0).await.unwrap(), "replaced");
    assert!(!tx.use_key_challenge(second, T0 + Duration::minutes(6)).await.unwrap(), "expired");
    assert!(tx.use_key_challenge(second, T0).await.unwrap());
    assert!(!tx.use_key_challenge(second, T0).await.unwrap(), "used once");
    tx.commit().await.unwrap();
    assert!(store.key_challenge(account, T0).await.unwrap().is_none());
}
