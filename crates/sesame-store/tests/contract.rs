//! One contract, two backends: every test here runs on SQLite and on PostgreSQL.

#![expect(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use sesame_core::audit::{AuditAction, AuditEvent, AuditFilter, Outcome, RequestContext};
use sesame_core::keys::Sealer;
use sesame_core::mail::{IssueReason, MailMessage, OutboxMail, REDACTED};
use sesame_core::model::{AccountFilter, AccountId, AccountStatus, NewAccount, PasswordCredential, UniqueField};
use sesame_core::session::{AuthMethod, NewApiToken, NewSession, SessionId, TokenKind};
use sesame_core::store::{Store, StoreError};
use sesame_core::types::{Email, Identifier, NationalId, PersonName};
use sesame_store::{StoreOptions, connect_and_migrate};
use std::collections::HashSet;
use std::sync::Arc;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

#[path = "contract/clients.rs"]
mod clients;
#[path = "contract/factors.rs"]
mod factors;
#[path = "contract/logout.rs"]
mod logout;
use clients::*;
use factors::*;
use logout::*;

const T0: OffsetDateTime = datetime!(2026-11-24 10:00 UTC);

struct Db {
    store: Arc<dyn Store>,
    url: String,
    _dir: Option<tempfile::TempDir>,
}

async fn sqlite() -> Db {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("sesame.db").display());
    Db {
        store: connect_and_migrate(&url, &StoreOptions::default(), Sealer::ephemeral()).await.unwrap(),
        url,
        _dir: Some(dir),
    }
}

async fn postgres() -> Db {
    let url = sesame_testkit::postgres_database_url().await;
    Db {
        store: connect_and_migrate(&url, &StoreOptions::default(), Sealer::ephemeral()).await.unwrap(),
        url,
        _dir: None,
    }
}

macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { let db = super::sqlite().await; super::$name(&db).await } )* }
        mod on_postgres { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { let db = super::postgres().await; super::$name(&db).await } )* }
    };
}

contract!(
    migrations_are_idempotent,
    accounts_are_found_case_insensitively,
    unique_fields_conflict_and_name_the_field,
    a_transaction_dropped_uncommitted_leaves_nothing,
    passwords_are_replaced_and_kept_in_history,
    status_changes_are_stored,
    accounts_are_listed_filtered_and_searched,
    due_mail_is_claimed_once_until_its_lease_ends,
    concurrent_claims_never_share_a_message,
    delivered_mail_keeps_no_secret,
    audit_events_filter_by_account_and_time,
    expired_rows_are_purged,
    revoking_access_ends_every_session_token_and_reset_link,
    sessions_live_until_idle_or_absolute_expiry_or_revocation,
    login_failures_are_counted_atomically_in_a_24_hour_window,
    rate_limits_count_hits_per_fixed_window,
    concurrent_writers_all_succeed_and_readers_do_not_wait_for_them,
    cancelled_writers_never_leave_a_transaction_open,
    captcha_challenges_are_single_use_and_expire,
    password_history_is_newest_first,
    reset_links_are_superseded_single_use_and_expire,
    a_reset_link_is_consumed_once_under_concurrency,
    api_tokens_are_single_use_by_family_and_listed_as_sessions,
    totp_factors_are_sealed_confirmed_once_and_steps_accepted_once,
    recovery_codes_are_used_once_and_replaced_by_batch,
    second_factor_tickets_are_single_use_and_expire,
    security_keys_are_sealed_confirmed_once_and_unique,
    key_challenges_are_replaced_single_use_and_expire,
    oidc_clients_keep_their_uris_in_order_and_a_secret_digest,
    signing_keys_are_sealed_bound_to_their_kid_and_resealed,
    consents_are_one_per_account_and_client_and_codes_keep_their_digest,
    codes_are_taken_once_and_token_families_end_together,
    logout_notices_are_queued_once_per_service_and_ended_session_and_leased,
);

fn new_account(identifier: &str, email: &str) -> NewAccount {
    NewAccount {
        identifier: Identifier::parse(identifier).unwrap(),
        email: Email::parse(email).unwrap(),
        first_name: PersonName::parse("Jeanne", "first name").unwrap(),
        last_name: PersonName::parse("Dupont", "last name").unwrap(),
        national_id: None,
    }
}

async fn insert(store: &Arc<dyn Store>, account: &NewAccount) -> AccountId {
    let mut tx = store.begin().await.unwrap();
    let id = tx.insert_account(account, T0).await.unwrap();
    tx.commit().await.unwrap();
    id
}

fn test_mail(to: &str, password: &str) -> OutboxMail {
    OutboxMail {
        account_id: None,
        to: Email::parse(to).unwrap(),
        to_name: "Jeanne Dupont".into(),
        message: MailMessage::TemporaryPassword {
            first_name: "Jeanne".into(),
            last_name: "Dupont".into(),
            temporary_password: password.into(),
            valid_until: T0 + Duration::days(7),
            valid_days: 7,
            reason: IssueReason::AccountCreated,
        },
    }
}

async fn enqueue(store: &Arc<dyn Store>, mails: &[OutboxMail]) {
    let mut tx = store.begin().await.unwrap();
    for m in mails {
        tx.enqueue_mail(m, T0).await.unwrap();
    }
    tx.commit().await.unwrap();
}

async fn migrations_are_idempotent(db: &Db) {
    let store = &db.store;
    store.migrate().await.unwrap();
    store.migrate().await.unwrap();
    store.ping().await.unwrap();
}

async fn accounts_are_found_case_insensitively(db: &Db) {
    let store = &db.store;
    let mut account = new_account("JDupont", "Jeanne.Dupont@Example.fr");
    account.national_id = Some(NationalId::parse("10003456786").unwrap());
    let id = insert(store, &account).await;
    let by_key = store.account_by_identifier_key("jdupont").await.unwrap().expect("found by identifier");
    assert_eq!(by_key.id, id);
    assert_eq!(by_key.identifier.as_str(), "JDupont");
    assert_eq!(by_key.national_id, account.national_id);
    assert_eq!(by_key.status, AccountStatus::Active);
    assert_eq!(by_key.created_at, T0);
    let by_email = store.account_by_email_key("jeanne.dupont@example.fr").await.unwrap().expect("found by e-mail");
    assert_eq!(by_email.id, id);
    assert_eq!(store.account_by_id(id).await.unwrap().unwrap().id, id);
    assert!(store.account_by_identifier_key("nobody").await.unwrap().is_none());
}

async fn unique_fields_conflict_and_name_the_field(db: &Db) {
    let store = &db.store;
    let mut first = new_account("jdupont", "jeanne@example.fr");
    first.national_id = Some(NationalId::parse("10003456786").unwrap());
    insert(store, &first).await;
    let cases = [
        (new_account("JDUPONT", "other@example.fr"), UniqueField::Identifier),
        (new_account("jdupont2", "JEANNE@example.fr"), UniqueField::Email),
        (
            NewAccount { national_id: first.national_id.clone(), ..new_account("jdupont3", "third@example.fr") },
            UniqueField::NationalId,
        ),
    ];
    for (account, field) in cases {
        let mut tx = store.begin().await.unwrap();
        match tx.insert_account(&account, T0).await {
            Err(StoreError::Conflict(f)) => assert_eq!(f, field),
            other => panic!("expected a conflict on {field}, got {other:?}"),
        }
    }
    assert_eq!(store.list_accounts(&AccountFilter::default()).await.unwrap().len(), 1);
}

async fn a_transaction_dropped_uncommitted_leaves_nothing(db: &Db) {
    let store = &db.store;
    {
        let mut tx = store.begin().await.unwrap();
        let id = tx.insert_account(&new_account("jdupont", "jeanne@example.fr"), T0).await.unwrap();
        tx.enqueue_mail(&test_mail("jeanne@example.fr", "secret"), T0).await.unwrap();
        let ctx = RequestContext::cli();
        tx.append_audit(&AuditEvent::new(AuditAction::AccountCreated, Outcome::Success, Some(id), &ctx), T0)
            .await
            .unwrap();
        // dropped here without commit
    }
    assert!(store.account_by_identifier_key("jdupont").await.unwrap().is_none());
    assert_eq!(store.pending_mail_count().await.unwrap(), 0);
    assert!(store.audit_events(&AuditFilter::default()).await.unwrap().is_empty());
}

async fn passwords_are_replaced_and_kept_in_history(db: &Db) {
    let store = &db.store;
    let id = insert(store, &new_account("jdupont", "jeanne@example.fr")).await;
    assert!(store.password_credential(id).await.unwrap().is_none());
    let temporary = PasswordCredential {
        phc: "$argon2id$first".into(),
        temporary_until: Some(T0 + Duration::days(7)),
        changed_at: T0,
    };
    let personal = PasswordCredential {
        phc: "$argon2id$second".into(),
        temporary_until: None,
        changed_at: T0 + Duration::hours(1),
    };
    for c in [&temporary, &personal] {
        let mut tx = store.begin().await.unwrap();
        tx.set_password(id, c).await.unwrap();
        tx.commit().await.unwrap();
    }
    assert_eq!(store.password_credential(id).await.unwrap(), Some(personal));
}

async fn status_changes_are_stored(db: &Db) {
    let store = &db.store;
    let id = insert(store, &new_account("jdupont", "jeanne@example.fr")).await;
    let mut tx = store.begin().await.unwrap();
    let locked = tx.account_for_update(id).await.unwrap().expect("account");
    assert_eq!(locked.status, AccountStatus::Active);
    tx.set_account_status(id, AccountStatus::Disabled, T0 + Duration::minutes(5)).await.unwrap();
    tx.revoke_all_access(id, T0).await.unwrap();
    tx.commit().await.unwrap();
    let account = store.account_by_id(id).await.unwrap().unwrap();
    assert_eq!(account.status, AccountStatus::Disabled);
    assert_eq!(account.updated_at, T0 + Duration::minutes(5));
}

async fn accounts_are_listed_filtered_and_searched(db: &Db) {
    let store = &db.store;
    insert(store, &new_account("bmartin", "bernard@example.fr")).await;
    let second = insert(store, &new_account("adurand", "alice@clinique.fr")).await;
    let mut tx = store.begin().await.unwrap();
    tx.set_account_status(second, AccountStatus::Disabled, T0).await.unwrap();
    tx.commit().await.unwrap();
    let all = store.list_accounts(&AccountFilter::default()).await.unwrap();
    assert_eq!(all.iter().map(|a| a.identifier.as_str()).collect::<Vec<_>>(), ["adurand", "bmartin"]);
    let disabled = store
        .list_accounts(&AccountFilter { status: Some(AccountStatus::Disabled), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(disabled.len(), 1);
    let found =
        store.list_accounts(&AccountFilter { search: Some("CLINIQUE".into()), ..Default::default() }).await.unwrap();
    assert_eq!(found.len(), 1);
    let limited = store.list_accounts(&AccountFilter { limit: Some(1), ..Default::default() }).await.unwrap();
    assert_eq!(limited.len(), 1);
}

async fn due_mail_is_claimed_once_until_its_lease_ends(db: &Db) {
    let store = &db.store;
    enqueue(store, &[test_mail("a@example.fr", "p1"), test_mail("b@example.fr", "p2")]).await;
    assert_eq!(store.pending_mail_count().await.unwrap(), 2);
    let lease = T0 + Duration::minutes(5);
    let claimed = store.claim_due_mail(T0, lease, 10).await.unwrap();
    assert_eq!(claimed.iter().map(|m| m.to.as_str()).collect::<Vec<_>>(), ["a@example.fr", "b@example.fr"]);
    assert!(claimed.iter().all(|m| m.attempts == 1));
    assert!(
        store.claim_due_mail(T0 + Duration::minutes(1), lease, 10).await.unwrap().is_empty(),
        "leased rows are not claimed again"
    );
    // A failed attempt is due again only at its next attempt time.
    let mut tx = store.begin().await.unwrap();
    tx.reschedule_mail(claimed[0].id, T0 + Duration::minutes(2), "connection refused").await.unwrap();
    tx.commit().await.unwrap();
    assert!(store.claim_due_mail(T0 + Duration::minutes(1), lease, 10).await.unwrap().is_empty());
    let again = store.claim_due_mail(T0 + Duration::minutes(2), T0 + Duration::minutes(7), 10).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempts, 2);
    // A lease that ran out (a node died mid-delivery) makes the row claimable again.
    let expired = store.claim_due_mail(lease, lease + Duration::minutes(5), 10).await.unwrap();
    assert_eq!(expired.iter().map(|m| m.id).collect::<Vec<_>>(), [claimed[1].id]);
}

async fn concurrent_claims_never_share_a_message(db: &Db) {
    let store = &db.store;
    let mails: Vec<_> = (0..40).map(|i| test_mail(&format!("u{i}@example.fr"), "p")).collect();
    enqueue(store, &mails).await;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let store = Arc::clone(store);
        tasks.spawn(async move {
            let mut mine = Vec::new();
            loop {
                let batch = store.claim_due_mail(T0, T0 + Duration::minutes(5), 3).await.unwrap();
                if batch.is_empty() {
                    return mine;
                }
                mine.extend(batch.into_iter().map(|m| m.id));
            }
        });
    }
    let all: Vec<i64> = tasks.join_all().await.into_iter().flatten().collect();
    let distinct: HashSet<_> = all.iter().collect();
    assert_eq!(all.len(), 40, "every message claimed");
    assert_eq!(distinct.len(), 40, "no message claimed twice");
}

async fn delivered_mail_keeps_no_secret(db: &Db) {
    let store = &db.store;
    enqueue(store, &[test_mail("a@example.fr", "TopSecretTemporary42")]).await;
    let claimed = store.claim_due_mail(T0, T0 + Duration::minutes(5), 10).await.unwrap();
    let mut tx = store.begin().await.unwrap();
    let message = claimed[0].message.clone().unwrap();
    assert_eq!(message.secret(), Some("TopSecretTemporary42"), "opened for delivery");
    tx.mark_mail_sent(claimed[0].id, T0, &message.redacted()).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.pending_mail_count().await.unwrap(), 0);
    assert!(store.claim_due_mail(T0 + Duration::days(1), T0 + Duration::days(2), 10).await.unwrap().is_empty());
    // Read the row back through the purge-free path: nothing secret remains.
    let purged = store.purge_expired(T0, T0 + Duration::seconds(1)).await.unwrap();
    assert_eq!(purged.sent_mail, 1);
    match message.redacted() {
        MailMessage::TemporaryPassword { temporary_password, .. } => assert_eq!(temporary_password, REDACTED),
        other => panic!("unexpected {other:?}"),
    }
}

async fn audit_events_filter_by_account_and_time(db: &Db) {
    let store = &db.store;
    let a = insert(store, &new_account("jdupont", "jeanne@example.fr")).await;
    let b = insert(store, &new_account("bmartin", "bernard@example.fr")).await;
    let ctx = RequestContext { ip: Some("192.0.2.1".into()), user_agent: Some("test".into()), ..RequestContext::cli() };
    let mut tx = store.begin().await.unwrap();
    for (i, who) in [a, b, a].into_iter().enumerate() {
        let event = AuditEvent::new(AuditAction::AccountCreated, Outcome::Success, Some(who), &ctx)
            .with_details(serde_json::json!({ "n": i }));
        tx.append_audit(&event, T0 + Duration::hours(i64::try_from(i).unwrap())).await.unwrap();
    }
    tx.commit().await.unwrap();
    let of_a = store.audit_events(&AuditFilter { account_id: Some(a), ..Default::default() }).await.unwrap();
    assert_eq!(of_a.len(), 2);
    assert_eq!(of_a[0].account_identifier.as_deref(), Some("jdupont"));
    assert_eq!(of_a[0].ip.as_deref(), Some("192.0.2.1"));
    assert_eq!(of_a[1].details, serde_json::json!({ "n": 2 }));
    let window = AuditFilter {
        since: Some(T0 + Duration::minutes(30)),
        until: Some(T0 + Duration::hours(2)),
        ..Default::default()
    };
    let in_window = store.audit_events(&window).await.unwrap();
    assert_eq!(in_window.len(), 1);
    assert_eq!(in_window[0].account_id, Some(b.0));
}

async fn expired_rows_are_purged(db: &Db) {
    let store = &db.store;
    enqueue(store, &[test_mail("a@example.fr", "p")]).await;
    let purged = store.purge_expired(T0 + Duration::days(30), T0 + Duration::days(30)).await.unwrap();
    assert_eq!(purged.sent_mail, 0, "undelivered mail is never purged");
    assert_eq!(store.pending_mail_count().await.unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_write_kept_waiting_past_the_busy_timeout_is_refused_and_never_done_later() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("sesame.db").display());
    let options = StoreOptions { busy_timeout: std::time::Duration::from_millis(300), ..StoreOptions::default() };
    let store = connect_and_migrate(&url, &options, Sealer::ephemeral()).await.unwrap();
    let minute = Duration::minutes(1);
    let open = store.begin().await.unwrap();
    let refused = store.hit_rate_limit("login:192.0.2.5", T0, minute).await;
    assert!(matches!(refused, Err(StoreError::Unavailable(_))), "{refused:?}");
    assert!(matches!(store.begin().await.err(), Some(StoreError::Unavailable(_))), "a transaction waits as long");
    drop(open);
    assert_eq!(
        store.hit_rate_limit("login:192.0.2.5", T0, minute).await.unwrap(),
        1,
        "the refused hit was not counted"
    );
}

#[tokio::test]
async fn sqlite_backup_is_a_consistent_private_copy() {
    use std::os::unix::fs::PermissionsExt as _;
    let db = sqlite().await;
    insert(&db.store, &new_account("jdupont", "jeanne@example.fr")).await;
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("copy.db");
    db.store.backup_to(&target).await.unwrap();
    assert_eq!(std::fs::metadata(&target).unwrap().permissions().mode() & 0o777, 0o600);
    let copy =
        sesame_store::connect(&format!("sqlite://{}", target.display()), &StoreOptions::default(), Sealer::ephemeral())
            .await
            .unwrap();
    assert!(copy.account_by_identifier_key("jdupont").await.unwrap().is_some());
    assert!(db.store.backup_to(&target).await.is_err(), "an existing file is never overwritten");
}

#[tokio::test]
async fn sqlite_database_file_is_private() {
    use std::os::unix::fs::PermissionsExt as _;
    let db = sqlite().await;
    let path = db._dir.as_ref().unwrap().path().join("sesame.db");
    assert_eq!(std::fs::metadata(path).unwrap().permissions().mode() & 0o777, 0o600);
}

#[tokio::test]
async fn postgres_backup_points_to_pg_dump() {
    let db = postgres().await;
    let err = db.store.backup_to(std::path::Path::new("/tmp/never")).await.unwrap_err();
    assert!(err.to_string().contains("pg_dump"));
}

#[tokio::test]
async fn an_unreachable_database_is_reported_as_such() {
    let options = StoreOptions { connect_timeout: std::time::Duration::from_secs(1), ..StoreOptions::default() };
    let err = sesame_store::connect("postgres://sesame:pw@127.0.0.1:1/sesame", &options, Sealer::ephemeral())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert!(!err.to_string().contains("pw@"), "the password is never shown: {err}");
    let err = sesame_store::connect("mysql://x", &options, Sealer::ephemeral()).await.unwrap_err();
    assert!(err.to_string().contains("unsupported database URL"));
}

/// Raw rows as later flows will create them (sign-in, desktop API, forgotten password).
async fn insert_access_rows(url: &str, account: AccountId) {
    let now = sesame_core::clock::to_unix_millis(T0);
    let later = now + 3_600_000;
    let statements = [
        format!(
            "INSERT INTO sessions (token_hash, account_id, auth_method, created_at, last_seen_at, idle_expires_at, absolute_expires_at) VALUES ('s1', {id}, 'password', {now}, {now}, {later}, {later})",
            id = account.0
        ),
        format!(
            "INSERT INTO api_tokens (token_hash, account_id, kind, family, auth_method, created_at, expires_at) VALUES ('t1', {id}, 'refresh', 'f1', 'password', {now}, {later})",
            id = account.0
        ),
        format!(
            "INSERT INTO reset_tokens (token_hash, account_id, created_at, expires_at) VALUES ('r1', {id}, {now}, {later})",
            id = account.0
        ),
    ];
    // Text literals stand in for digests: SQLite stores them as-is; PostgreSQL casts to bytea.
    if url.starts_with("sqlite:") {
        use sqlx::Connection as _;
        let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
        for sql in statements {
            sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut conn).await.unwrap();
        }
    } else {
        use sqlx::Connection as _;
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
        for sql in statements {
            sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut conn).await.unwrap();
        }
    }
}

async fn revoking_access_ends_every_session_token_and_reset_link(db: &Db) {
    let store = &db.store;
    let id = insert(store, &new_account("jdupont", "jeanne@example.fr")).await;
    insert_access_rows(&db.url, id).await;
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.revoke_all_access(id, T0).await.unwrap(), 3);
    tx.commit().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.revoke_all_access(id, T0).await.unwrap(), 0, "already revoked");
    drop(tx);
    let purged = store.purge_expired(T0, T0).await.unwrap();
    assert_eq!(purged.sessions, 1, "revoked sessions are purged");
}

fn new_session(account: AccountId, token: &str) -> NewSession {
    NewSession {
        token_hash: sesame_core::secret::digest(token),
        account_id: account,
        auth_method: AuthMethod::Password,
        must_change_password: true,
        ip: Some("192.0.2.7".into()),
        user_agent: Some("Firefox".into()),
        created_at: T0,
        idle_expires_at: T0 + Duration::minutes(30),
        absolute_expires_at: T0 + Duration::hours(4),
    }
}

async fn open_session(store: &Arc<dyn Store>, account: AccountId, token: &str) -> SessionId {
    let mut tx = store.begin().await.unwrap();
    let id = tx.insert_session(&new_session(account, token)).await.unwrap();
    tx.commit().await.unwrap();
    id
}

async fn sessions_live_until_idle_or_absolute_expiry_or_revocation(db: &Db) {
    let store = &db.store;
    let account = insert(store, &new_account("jdupont", "jeanne@example.fr")).await;
    let id = open_session(store, account, "token-1").await;
    let hash = sesame_core::secret::digest("token-1");
    let (found, holder) = store.session_by_token_hash(&hash, T0).await.unwrap().expect("live");
    assert_eq!((holder.id, holder.identifier.as_str()), (account, "jdupont"), "read with its account");
    assert_eq!(
        (found.id, found.account_id, found.auth_method, found.must_change_password),
        (id, account, AuthMethod::Password, true)
    );
    assert_eq!(found.ip.as_deref(), Some("192.0.2.7"));
    assert!(store.session_by_token_hash(&sesame_core::secret::digest("other"), T0).await.unwrap().is_none());
    // Idle expiry, pushed by activity but never past the absolute expiry.
    assert!(store.session_by_token_hash(&hash, T0 + Duration::minutes(30)).await.unwrap().is_none());
    store.touch_session(id, T0 + Duration::minutes(20), T0 + Duration::minutes(50)).await.unwrap();
    assert!(store.session_by_token_hash(&hash, T0 + Duration::minutes(45)).await.unwrap().is_some());
    store.touch_session(id, T0 + Duration::hours(3), T0 + Duration::hours(5)).await.unwrap();
    assert!(store.session_by_token_hash(&hash, T0 + Duration::minutes(239)).await.unwrap().is_some());
    assert!(store.session_by_token_hash(&hash, T0 + Duration::hours(4)).await.unwrap().is_none(), "absolute expiry");
    // Revocation: one, or all but one.
    let second = open_session(store, account, "token-2").await;
    let third = open_session(store, account, "token-3").await;
    assert_eq!(
        store.sessions_of(account, T0).await.unwrap().iter().map(|s| s.id).collect::<Vec<_>>(),
        [third, second, id]
    );
    let mut tx = store.begin().await.unwrap();
    let other_account = tx.insert_account(&new_account("bmartin", "b@example.fr"), T0).await.unwrap();
    assert!(!tx.revoke_session(other_account, second, T0).await.unwrap(), "only the owner ends a session");
    assert!(tx.revoke_session(account, second, T0).await.unwrap());
    assert_eq!(tx.revoke_other_sessions(account, third, T0).await.unwrap(), 1);
    tx.commit().await.unwrap();
    assert_eq!(store.sessions_of(account, T0).await.unwrap().iter().map(|s| s.id).collect::<Vec<_>>(), [third]);
}

async fn login_failures_are_counted_atomically_in_a_24_hour_window(db: &Db) {
    let store = &db.store;
    let day = Duration::hours(24);
    assert!(store.throttle_state("unknown-user").await.unwrap().is_none());
    // Concurrent failures on a key never seen before all count.
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..6 {
        let store = Arc::clone(store);
        tasks.spawn(async move {
            let mut tx = store.begin().await.unwrap();
            let state = tx.record_login_failure("unknown-user", T0, Duration::hours(24)).await.unwrap();
            tx.commit().await.unwrap();
            state.consecutive_failures
        });
    }
    let mut counts = tasks.join_all().await;
    counts.sort_unstable();
    assert_eq!(counts, [1, 2, 3, 4, 5, 6]);
    let mut tx = store.begin().await.unwrap();
    tx.set_login_block("unknown-user", Some(T0 + Duration::minutes(1))).await.unwrap();
    let later = tx.record_login_failure("unknown-user", T0 + day + Duration::seconds(1), day).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(later.consecutive_failures, 7, "consecutive failures span windows");
    assert_eq!(later.window_failures, 1, "a new 24-hour window starts");
    assert_eq!(later.blocked_until, Some(T0 + Duration::minutes(1)));
    let mut tx = store.begin().await.unwrap();
    tx.clear_login_failures("unknown-user").await.unwrap();
    tx.commit().await.unwrap();
    assert!(store.throttle_state("unknown-user").await.unwrap().is_none());
}

async fn rate_limits_count_hits_per_fixed_window(db: &Db) {
    let store = &db.store;
    let minute = Duration::minutes(1);
    for expected in 1..=3 {
        assert_eq!(
            store.hit_rate_limit("login:192.0.2.1", T0 + Duration::seconds(10), minute).await.unwrap(),
            expected
        );
    }
    assert_eq!(store.hit_rate_limit("login:192.0.2.2", T0, minute).await.unwrap(), 1, "buckets are separate");
    assert_eq!(
        store.hit_rate_limit("login:192.0.2.1", T0 + Duration::seconds(71), minute).await.unwrap(),
        1,
        "a new window"
    );
}

async fn concurrent_writers_all_succeed_and_readers_do_not_wait_for_them(db: &Db) {
    let store = &db.store;
    let minute = Duration::minutes(1);
    let mut open = store.begin().await.unwrap();
    open.insert_account(&new_account("en.cours", "en.cours@example.fr"), T0).await.unwrap();
    // A read while a write transaction is open answers at once, without its uncommitted row.
    let read = tokio::time::timeout(std::time::Duration::from_secs(2), store.account_by_identifier_key("en.cours"));
    assert!(read.await.expect("a reader waited for the writer").unwrap().is_none());
    // A write queued behind the open transaction goes through once it commits.
    let queued = tokio::spawn({
        let store = Arc::clone(store);
        async move { store.hit_rate_limit("reset:192.0.2.9", T0, minute).await }
    });
    open.commit().await.unwrap();
    assert_eq!(queued.await.unwrap().unwrap(), 1);
    // Many writers at once: none fails, and the counter sees every hit exactly once.
    let writers: Vec<_> = (0..48)
        .map(|_| {
            let store = Arc::clone(store);
            tokio::spawn(async move { store.hit_rate_limit("login:192.0.2.9", T0, minute).await })
        })
        .collect();
    let mut counts = Vec::new();
    for writer in writers {
        counts.push(writer.await.unwrap().unwrap());
    }
    counts.sort_unstable();
    assert_eq!(counts, (1..=48).collect::<Vec<u32>>());
    let account = store.account_by_identifier_key("en.cours").await.unwrap().expect("committed").id;
    // A lone event is committed when its append returns, however many are written with it.
    let writers: Vec<_> = (0..32)
        .map(|n| {
            let store = Arc::clone(store);
            tokio::spawn(async move {
                let event = AuditEvent::new(
                    AuditAction::ResetRequested,
                    Outcome::Ignored,
                    Some(account),
                    &RequestContext::system(),
                )
                .with_details(serde_json::json!({ "n": n }));
                store.append_audit(&event, T0).await.unwrap();
                let seen =
                    store.audit_events(&AuditFilter { account_id: Some(account), ..Default::default() }).await.unwrap();
                assert!(
                    seen.iter().any(|e| e.details == serde_json::json!({ "n": n })),
                    "event {n} not visible once appended"
                );
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    assert_eq!(
        store.audit_events(&AuditFilter { account_id: Some(account), ..Default::default() }).await.unwrap().len(),
        32
    );
}

async fn cancelled_writers_never_leave_a_transaction_open(db: &Db) {
    let store = &db.store;
    // Requests abandoned at every stage of a write (waiting for the writer, in BEGIN, mid-way).
    for round in 0..60u64 {
        let task = tokio::spawn({
            let store = Arc::clone(store);
            async move {
                let mut tx = store.begin().await.unwrap();
                tx.insert_account(&new_account(&format!("abandon.{round}"), &format!("a{round}@example.fr")), T0)
                    .await
                    .unwrap();
                tokio::task::yield_now().await;
                tx.commit().await.unwrap();
            }
        });
        for _ in 0..(round % 4) {
            tokio::task::yield_now().await;
        }
        task.abort();
        let _ = task.await;
    }
    // The writer is free and clean: a new transaction commits and is seen.
    let id = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        insert(store, &new_account("apres", "apres@example.fr")),
    )
    .await
    .expect("the writer was left busy");
    assert_eq!(store.account_by_id(id).await.unwrap().unwrap().identifier.as_str(), "apres");
    let mut tx = store.begin().await.unwrap();
    tx.set_account_status(id, AccountStatus::Disabled, T0).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.account_by_id(id).await.unwrap().unwrap().status, AccountStatus::Disabled);
}

async fn captcha_challenges_are_single_use_and_expire(db: &Db) {
    let store = &db.store;
    let mut tx = store.begin().await.unwrap();
    tx.insert_captcha(b"challenge-a", b"answer-a", T0, T0 + Duration::minutes(10)).await.unwrap();
    tx.insert_captcha(b"challenge-b", b"answer-b", T0, T0 + Duration::minutes(10)).await.unwrap();
    assert_eq!(tx.take_captcha(b"challenge-a", T0).await.unwrap(), Some(b"answer-a".to_vec()));
    assert_eq!(tx.take_captcha(b"challenge-a", T0).await.unwrap(), None, "single use");
    assert_eq!(tx.take_captcha(b"challenge-b", T0 + Duration::minutes(10)).await.unwrap(), None, "expired");
    assert_eq!(tx.take_captcha(b"nope", T0).await.unwrap(), None);
    tx.commit().await.unwrap();
}

async fn password_history_is_newest_first(db: &Db) {
    let store = &db.store;
    let id = insert(store, &new_account("jdupont", "jeanne@example.fr")).await;
    for (i, phc) in ["$first", "$second", "$third"].into_iter().enumerate() {
        let mut tx = store.begin().await.unwrap();
        let at = T0 + Duration::minutes(i64::try_from(i).unwrap());
        tx.set_password(id, &PasswordCredential { phc: phc.into(), temporary_until: None, changed_at: at })
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    assert_eq!(store.password_history(id, 2).await.unwrap(), ["$third", "$second"]);
}

async fn reset_links_are_superseded_single_use_and_expire(db: &Db) {
    let store = &db.store;
    let id = insert(store, &new_account("jdupont", "jeanne@example.fr")).await;
    let (first, second) = (sesame_core::secret::digest("first"), sesame_core::secret::digest("second"));
    let hour = Duration::hours(1);
    let mut tx = store.begin().await.unwrap();
    tx.insert_reset_token(id, &first, T0, T0 + hour).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.reset_token_account(&first, T0).await.unwrap(), Some(id));
    assert_eq!(store.reset_token_account(&first, T0).await.unwrap(), Some(id), "looking uses nothing up");
    let mut tx = store.begin().await.unwrap();
    tx.insert_reset_token(id, &second, T0 + Duration::minutes(5), T0 + hour).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.reset_token_account(&first, T0).await.unwrap(), None, "superseded by the newer link");
    let links_since =
        async |since| store.account_and_reset_links_since("jdupont", since).await.unwrap().map(|(a, n)| (a.id, n));
    assert_eq!(links_since(T0).await, Some((id, 2)));
    assert_eq!(links_since(T0 + Duration::minutes(1)).await, Some((id, 1)));
    assert_eq!(store.account_and_reset_links_since("nobody", T0).await.unwrap().map(|(_, n)| n), None);
    assert_eq!(store.reset_token_account(&second, T0 + hour).await.unwrap(), None, "expired");
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.consume_reset_token(&second, T0 + hour).await.unwrap(), None, "expired links cannot be used");
    assert_eq!(tx.consume_reset_token(&second, T0 + Duration::minutes(10)).await.unwrap(), Some(id));
    assert_eq!(tx.consume_reset_token(&second, T0 + Duration::minutes(10)).await.unwrap(), None, "single use");
    tx.commit().await.unwrap();
}

async fn a_reset_link_is_consumed_once_under_concurrency(db: &Db) {
    let store = &db.store;
    let id = insert(store, &new_account("jdupont", "jeanne@example.fr")).await;
    let token = sesame_core::secret::digest("race");
    let mut tx = store.begin().await.unwrap();
    tx.insert_reset_token(id, &token, T0, T0 + Duration::hours(1)).await.unwrap();
    tx.commit().await.unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let (store, token) = (Arc::clone(store), token.clone());
        tasks.spawn(async move {
            let mut tx = store.begin().await.unwrap();
            let won = tx.consume_reset_token(&token, T0).await.unwrap();
            tx.commit().await.unwrap();
            won.is_some()
        });
    }
    let wins = tasks.join_all().await.into_iter().filter(|w| *w).count();
    assert_eq!(wins, 1);
}

fn api_token(account: AccountId, token: &str, kind: TokenKind, family: &str) -> NewApiToken {
    NewApiToken {
        token_hash: sesame_core::secret::digest(token),
        account_id: account,
        kind,
        family: family.into(),
        client_name: Some("Therap-e autonome".into()),
        auth_method: AuthMethod::Password,
        ip: Some("192.0.2.9".into()),
        created_at: T0,
        expires_at: T0 + Duration::days(30),
    }
}

async fn api_tokens_are_single_use_by_family_and_listed_as_sessions(db: &Db) {
    let store = &db.store;
    let id = insert(store, &new_account("jdupont", "jeanne@example.fr")).await;
    let mut tx = store.begin().await.unwrap();
    tx.insert_api_token(&api_token(id, "r1", TokenKind::Refresh, "fam-a")).await.unwrap();
    tx.insert_api_token(&api_token(id, "a1", TokenKind::Access, "fam-a")).await.unwrap();
    tx.insert_api_token(&api_token(id, "r2", TokenKind::Refresh, "fam-b")).await.unwrap();
    tx.commit().await.unwrap();
    let r1 = store.api_token(&sesame_core::secret::digest("r1"), TokenKind::Refresh).await.unwrap().expect("found");
    assert_eq!(
        (r1.account_id, r1.family.as_str(), r1.client_name.as_deref()),
        (id, "fam-a", Some("Therap-e autonome"))
    );
    assert!(
        store.api_token(&sesame_core::secret::digest("r1"), TokenKind::Access).await.unwrap().is_none(),
        "kinds are distinct"
    );
    assert_eq!(store.api_sessions_of(id, T0).await.unwrap().len(), 2);
    let mut tx = store.begin().await.unwrap();
    assert!(tx.use_api_token(r1.id, T0).await.unwrap());
    assert!(!tx.use_api_token(r1.id, T0).await.unwrap(), "single use");
    assert_eq!(tx.revoke_token_family(id, "fam-a", T0).await.unwrap(), 2);
    tx.commit().await.unwrap();
    let used = store.api_token(&sesame_core::secret::digest("r1"), TokenKind::Refresh).await.unwrap().unwrap();
    assert!(used.used_at.is_some() && used.revoked_at.is_some() && !used.is_live(T0));
    let sessions = store.api_sessions_of(id, T0).await.unwrap();
    assert_eq!(sessions.iter().map(|t| t.family.as_str()).collect::<Vec<_>>(), ["fam-b"]);
}
