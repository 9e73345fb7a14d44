//! `sesame account …` from the outside: files, database, exit codes.

#![expect(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use common::{Sesame, read_eml, temporary_password_in};
use sesame_store::{StoreOptions, connect};

const JEANNE: &[&str] =
    &["account", "create", "--email", "jeanne.dupont@example.fr", "--first-name", "Jeanne", "--last-name", "Dupont"];

async fn stored_hash(url: &str, identifier: &str) -> String {
    let store = connect(url, &StoreOptions::default(), sesame_core::keys::Sealer::ephemeral()).await.unwrap();
    let account = store.account_by_identifier_key(identifier).await.unwrap().expect("account");
    store.password_credential(account.id).await.unwrap().expect("credential").phc
}

/// The guide's first page: two separate e-mails, identifier in one, temporary password in the
/// other, and only an argon2id hash in the database.
async fn creation_sends_two_separate_emails_and_stores_only_a_hash(sesame: &Sesame, url: &str) {
    let run = sesame.run(JEANNE).ok();
    assert!(
        run.stdout.contains("Created account jdupont (Jeanne Dupont <jeanne.dupont@example.fr>)"),
        "{}",
        run.stdout
    );
    let files = sesame.outbox();
    assert_eq!(files.len(), 2, "{files:?}");
    let (subject1, identifier_mail) = read_eml(&files[0]);
    let (subject2, password_mail) = read_eml(&files[1]);
    assert_eq!(subject1, "Portail e-santé : votre identifiant de connexion");
    assert!(identifier_mail.contains("Votre identifiant de connexion est : jdupont"));
    assert_eq!(subject2, "Portail e-santé : votre mot de passe provisoire");
    let password = temporary_password_in(&password_mail);
    assert_eq!(password.chars().count(), 20, "{password}");
    assert!(password_mail.contains("valable 7 jours"));
    assert!(!identifier_mail.contains(&password), "the identifier e-mail never carries the password");
    assert!(!password_mail.contains("jdupont"), "the password e-mail never carries the identifier");
    assert!(!run.stdout.contains(&password), "the password is printed only with --show-password");
    let hash = stored_hash(url, "jdupont").await;
    assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
    assert!(!hash.contains(&password));
}

#[tokio::test]
async fn creation_on_sqlite_by_default() {
    let sesame = Sesame::new();
    creation_sends_two_separate_emails_and_stores_only_a_hash(&sesame, &sesame.sqlite_url()).await;
}

#[tokio::test]
async fn creation_on_postgres_via_sesame_database_url() {
    let url = sesame_testkit::postgres_database_url().await;
    let sesame = Sesame::new().env("SESAME_DATABASE_URL", &url);
    creation_sends_two_separate_emails_and_stores_only_a_hash(&sesame, &url).await;
    assert!(!sesame.path("data/sesame.db").exists(), "no SQLite file when PostgreSQL is configured");
}

#[test]
fn identifiers_are_derived_and_made_unique() {
    let sesame = Sesame::new();
    sesame.run(JEANNE).ok();
    let run = sesame
        .run(&["account", "create", "--email", "j2@example.fr", "--first-name", "Jérôme", "--last-name", "Dupont"])
        .ok();
    assert!(run.stdout.contains("Created account jdupont2"), "{}", run.stdout);
    let run = sesame
        .run(&[
            "account",
            "create",
            "--email",
            "h@example.fr",
            "--first-name",
            "Hélène",
            "--last-name",
            "Le Bœuf",
            "--identifier",
            "HLB",
        ])
        .ok();
    assert!(run.stdout.contains("Created account HLB"));
    let list = sesame.run(&["account", "list", "--json"]).ok();
    let identifiers: Vec<String> = list
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["identifier"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(identifiers, ["HLB", "jdupont", "jdupont2"]);
}

#[test]
fn bad_input_gets_one_sentence_exit_2_and_changes_nothing() {
    let sesame = Sesame::new();
    sesame.run(&[JEANNE, &["--identifier", "jdupont", "--national-id", "10003456786"]].concat()).ok();
    let cases: &[(&[&str], &str)] = &[
        (
            &["account", "create", "--email", "not-an-address", "--first-name", "A", "--last-name", "B"],
            "not a valid e-mail",
        ),
        (
            &[
                "account",
                "create",
                "--email",
                "a@example.fr",
                "--first-name",
                "A",
                "--last-name",
                "B",
                "--national-id",
                "12345",
            ],
            "not a national identifier",
        ),
        (
            &[
                "account",
                "create",
                "--email",
                "a@example.fr",
                "--first-name",
                "A",
                "--last-name",
                "B",
                "--national-id",
                "10003456787",
            ],
            "check digit",
        ),
        (
            &[
                "account",
                "create",
                "--email",
                "a@example.fr",
                "--first-name",
                "A",
                "--last-name",
                "B",
                "--identifier",
                "JDUPONT",
            ],
            "identifier already exists",
        ),
        (
            &["account", "create", "--email", "JEANNE.DUPONT@example.fr", "--first-name", "A", "--last-name", "B"],
            "e-mail address already exists",
        ),
        (
            &[
                "account",
                "create",
                "--email",
                "a@example.fr",
                "--first-name",
                "A",
                "--last-name",
                "B",
                "--national-id",
                "810003456786",
            ],
            "national identifier already exists",
        ),
        (
            &[
                "account",
                "create",
                "--email",
                "a@example.fr",
                "--first-name",
                "Jeanne\r\nBcc: x@example.org",
                "--last-name",
                "B",
            ],
            "control characters",
        ),
        (
            &[
                "account",
                "create",
                "--email",
                "a@example.fr",
                "--first-name",
                "A",
                "--last-name",
                "B",
                "--identifier",
                "a b",
            ],
            "identifier may contain only",
        ),
        (&["account", "show", "nobody"], "no account matches 'nobody'"),
        (&["account", "reset-password", "nobody", "--yes"], "no account matches"),
        (&["account", "disable", "nobody@example.fr", "--yes"], "no account matches"),
        (&["account", "enable", "#999"], "no account matches"),
    ];
    for (args, message) in cases {
        let run = sesame.run(args).bad_input();
        assert!(run.stderr.contains(message), "{args:?}: expected '{message}' in {}", run.stderr);
    }
    let list = sesame.run(&["account", "list", "--json"]).ok();
    assert_eq!(list.stdout.lines().count(), 1, "nothing was created");
    assert_eq!(sesame.outbox().len(), 2, "no e-mail was sent");
}

#[tokio::test]
async fn reset_password_replaces_the_old_one_and_sends_two_new_emails() {
    let sesame = Sesame::new();
    sesame.run(JEANNE).ok();
    let before = stored_hash(&sesame.sqlite_url(), "jdupont").await;

    // Without a terminal and without --yes, nothing happens.
    sesame.run(&["account", "reset-password", "jdupont"]).bad_input();
    assert_eq!(stored_hash(&sesame.sqlite_url(), "jdupont").await, before);

    let run = sesame.run(&["account", "reset-password", "JDupont", "--yes", "--show-password"]).ok();
    let printed =
        run.stdout.lines().find_map(|l| l.strip_prefix("Temporary password: ")).expect("password shown").to_owned();
    let files = sesame.outbox();
    assert_eq!(files.len(), 4);
    let (_, identifier_mail) = read_eml(&files[2]);
    let (_, password_mail) = read_eml(&files[3]);
    assert!(identifier_mail.contains("Votre code de connexion sur Portail e-santé a été réinitialisé."));
    assert!(
        password_mail
            .contains("Votre code de connexion sur Portail e-santé a été réinitialisé. Pour votre première connexion")
    );
    assert_eq!(temporary_password_in(&password_mail), printed);
    assert_ne!(stored_hash(&sesame.sqlite_url(), "jdupont").await, before, "the old password stops working");
}

#[test]
fn disable_and_enable_are_recorded_in_the_audit_trail() {
    let sesame = Sesame::new();
    sesame.run(JEANNE).ok();
    sesame.run(&["account", "disable", "jdupont"]).bad_input();
    sesame.run(&["account", "disable", "jdupont", "--yes"]).ok();
    assert!(sesame.run(&["account", "show", "jdupont"]).ok().stdout.contains("Status:       disabled"));
    let refused = sesame.run(&["account", "reset-password", "jdupont", "--yes"]).bad_input();
    assert!(refused.stderr.contains("disabled"));
    sesame.run(&["account", "enable", "jeanne.dupont@example.fr"]).ok();
    let audit = sesame.run(&["audit", "--account", "jdupont", "--json"]).ok();
    let events: Vec<serde_json::Value> = audit.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let actions: Vec<&str> = events.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        [
            "account_created",
            "temporary_password_issued",
            "mail_sent",
            "mail_sent",
            "account_disabled",
            "account_enabled"
        ]
    );
    assert!(events[0]["actor"].as_str().unwrap().starts_with("cli:"));
    assert_eq!(events[0]["account_identifier"], "jdupont");
    assert!(!audit.stdout.contains("mot de passe provisoire"), "no secret or message body in the trail");
    let none = sesame.run(&["audit", "--since", "2999-01-01"]).ok();
    assert!(none.stdout.is_empty());
    sesame.run(&["audit", "--since", "yesterday"]).bad_input();
    let text = sesame.run(&["audit", "--until", "2999-01-01T00:00:00Z"]).ok();
    assert_eq!(text.stdout.lines().count(), 6);
}

#[test]
fn an_unreachable_database_is_one_clear_sentence() {
    let sesame = Sesame::new()
        .env("SESAME_DATABASE_URL", "postgres://sesame:secret@127.0.0.1:1/sesame")
        .env("SESAME_DATABASE__CONNECT_TIMEOUT_SECS", "1");
    let run = sesame.run(JEANNE).bad_input();
    assert!(run.stderr.contains("cannot connect to postgres://sesame:***@127.0.0.1:1/sesame"), "{}", run.stderr);
    assert!(sesame.outbox().is_empty());
}

#[tokio::test]
async fn backup_writes_a_usable_private_copy_and_never_overwrites() {
    use std::os::unix::fs::PermissionsExt as _;
    let sesame = Sesame::new();
    sesame.run(JEANNE).ok();
    sesame.run(&["backup", "copy.db"]).ok();
    let copy = sesame.path("copy.db");
    assert_eq!(std::fs::metadata(&copy).unwrap().permissions().mode() & 0o777, 0o600);
    let hash = stored_hash(&format!("sqlite://{}", copy.display()), "jdupont").await;
    assert!(hash.starts_with("$argon2id$"));
    let again = sesame.run(&["backup", "copy.db"]).bad_input();
    assert!(again.stderr.contains("already exists"));
}

#[tokio::test]
async fn reset_and_disable_end_every_session_token_and_reset_link() {
    use sqlx::Connection as _;
    let sesame = Sesame::new();
    sesame.run(JEANNE).ok();
    let mut db = sqlx::SqliteConnection::connect(&sesame.sqlite_url()).await.unwrap();
    let open = async |db: &mut sqlx::SqliteConnection| -> i64 {
        let mut n = 0;
        for table in ["sessions", "api_tokens", "reset_tokens"] {
            let sql = format!("SELECT COUNT(*) FROM {table} WHERE revoked_at IS NULL");
            n += sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql)).fetch_one(&mut *db).await.unwrap();
        }
        n
    };
    let seed = async |db: &mut sqlx::SqliteConnection, tag: &str| {
        let far = 4_102_444_800_000_i64; // 2100
        for sql in [
            format!(
                "INSERT INTO sessions (token_hash, account_id, auth_method, created_at, last_seen_at, idle_expires_at, absolute_expires_at) VALUES ('s{tag}', 1, 'password', 0, 0, {far}, {far})"
            ),
            format!(
                "INSERT INTO api_tokens (token_hash, account_id, kind, family, auth_method, created_at, expires_at) VALUES ('t{tag}', 1, 'access', 'f', 'password', 0, {far})"
            ),
            format!(
                "INSERT INTO reset_tokens (token_hash, account_id, created_at, expires_at) VALUES ('r{tag}', 1, 0, {far})"
            ),
        ] {
            sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut *db).await.unwrap();
        }
    };
    seed(&mut db, "1").await;
    assert_eq!(open(&mut db).await, 3);
    sesame.run(&["account", "reset-password", "jdupont", "--yes"]).ok();
    assert_eq!(open(&mut db).await, 0, "a new temporary password ends all access");
    seed(&mut db, "2").await;
    sesame.run(&["account", "disable", "jdupont", "--yes"]).ok();
    assert_eq!(open(&mut db).await, 0, "disabling ends all access");
}

#[test]
fn with_downloads_the_temporary_password_mail_links_to_the_installers_and_without_it_does_not() {
    let sesame = Sesame::new();
    std::fs::write(
        sesame.path("sesame.toml"),
        concat!(
            "public_url = \"https://www.norm-uni.fr\"\n",
            "[[downloads]]\nname = \"Therap-e autonome\"\nplatform = \"windows\"\n",
            "url = \"https://www.norm-uni.fr/covotem/setup.exe\"\nrequirements = \"Windows 10 ou 11\"\n"
        ),
    )
    .unwrap();
    let with = sesame.env("SESAME_CONFIG", "sesame.toml");
    with.run(JEANNE).ok();
    let (_, password_mail) = read_eml(&with.outbox()[1]);
    assert!(password_mail.contains("Il permet également de se connecter à Therap-e autonome."), "{password_mail}");
    assert!(password_mail.contains("https://www.norm-uni.fr/installer"));
    assert!(password_mail.contains("Pour vous aider, consultez l'aide : https://www.norm-uni.fr/aide"));

    let without = Sesame::new();
    without.run(JEANNE).ok();
    let (_, password_mail) = read_eml(&without.outbox()[1]);
    assert!(!password_mail.contains("/installer") && !password_mail.contains("permet également"), "{password_mail}");
}

#[test]
fn support_removes_the_second_factors_of_a_holder_who_lost_them() {
    use sesame_core::keys::{KeyRing, Sealer};
    let sesame = Sesame::new();
    sesame
        .run(&["account", "create", "--email", "jeanne@example.fr", "--first-name", "Jeanne", "--last-name", "Dupont"])
        .ok();
    let none = sesame.run(&["account", "remove-second-factors", "jdupont", "--yes"]).ok();
    assert!(none.stdout.contains("Account jdupont has no second factor."), "{}", none.stdout);
    // Jeanne's app, as the portal's enrolment stores it: sealed with this node's key.
    let ring = KeyRing::parse(&std::fs::read_to_string(sesame.path("data/secrets.key")).unwrap()).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let store = runtime.block_on(connect(&sesame.sqlite_url(), &StoreOptions::default(), Sealer::new(ring))).unwrap();
    let account = runtime.block_on(store.account_by_identifier_key("jdupont")).unwrap().unwrap();
    runtime.block_on(async {
        let now = time::OffsetDateTime::now_utc();
        let secret = sesame_core::totp::TotpSecret::generate();
        let mut tx = store.begin().await.unwrap();
        let id = tx.insert_totp(account.id, "Téléphone", &secret, now).await.unwrap();
        tx.confirm_factor(account.id, id, 1, now).await.unwrap();
        tx.replace_recovery_codes(account.id, &[vec![1; 32], vec![2; 32]], now).await.unwrap();
        tx.commit().await.unwrap();
    });
    let before = sesame.outbox().len();
    let removed = sesame.run(&["account", "remove-second-factors", "jdupont", "--yes"]).ok();
    assert!(
        removed.stdout.contains("Removed 1 second factor(s) and the recovery codes of jdupont"),
        "{}",
        removed.stdout
    );
    assert!(runtime.block_on(store.second_factors_of(account.id)).unwrap().is_empty());
    assert_eq!(runtime.block_on(store.recovery_codes_left(account.id)).unwrap(), 0);
    let outbox = sesame.outbox();
    assert_eq!(outbox.len(), before + 1, "the holder is told");
    let (subject, text) = outbox.iter().map(|p| read_eml(p)).find(|(s, _)| s.contains("second facteur")).unwrap();
    assert!(subject.contains("un second facteur a été retiré de votre compte"), "{subject}");
    assert!(text.contains("Le support technique de"), "{text}");
    let unknown = sesame.run(&["account", "remove-second-factors", "personne", "--yes"]);
    assert_ne!(unknown.code, 0);
}
