//! `sesame client …` from the outside: what is printed, what the database keeps (a digest,
//! never the secret), exit codes, and bad input that changes nothing.

#![expect(clippy::unwrap_used, reason = "tests")]

mod common;

use common::Sesame;
use serde_json::Value;

const RDV: &[&str] = &[
    "client",
    "create",
    "--name",
    "Prise de rendez-vous",
    "--redirect-uri",
    "https://rdv.normand-esante.fr/oidc/callback",
    "--redirect-uri",
    "https://rdv.normand-esante.fr/oidc/callback2",
    "--post-logout-redirect-uri",
    "https://rdv.normand-esante.fr/",
    "--backchannel-logout-uri",
    "https://rdv.normand-esante.fr/oidc/logout",
    "--first-party",
];

fn created(sesame: &Sesame, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    let run = sesame.run(&all).ok();
    serde_json::from_str(run.stdout.trim()).unwrap()
}

#[test]
fn a_confidential_client_gets_a_secret_once_and_the_database_keeps_its_digest() {
    let sesame = Sesame::new();
    let printed = sesame.run(RDV).ok();
    assert!(printed.stdout.contains("Client 'Prise de rendez-vous' registered."), "{}", printed.stdout);
    assert!(printed.stdout.contains("not shown again"));

    let json = created(&sesame, RDV);
    let keys: Vec<&String> = json.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["client_id", "client_secret"], "exactly those two keys");
    let client_id = json["client_id"].as_str().unwrap();
    let secret = json["client_secret"].as_str().unwrap();
    assert_eq!(secret.len(), 43, "256 random bits, base64url");
    assert!(client_id.len() == 32 && client_id.bytes().all(|b| b.is_ascii_hexdigit()), "{client_id}");

    let db = std::fs::read(sesame.path("data/sesame.db")).unwrap();
    let wal = std::fs::read(sesame.path("data/sesame.db-wal")).unwrap_or_default();
    for bytes in [&db, &wal] {
        assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()), "no secret in clear");
    }

    let show = sesame.run(&["client", "show", client_id, "--json"]).ok();
    let shown: Value = serde_json::from_str(&show.stdout).unwrap();
    assert_eq!(shown["name"], "Prise de rendez-vous");
    assert_eq!(shown["kind"], "confidential");
    assert_eq!(shown["redirect_uris"].as_array().unwrap().len(), 2);
    assert_eq!(shown["first_party"], true);
    assert_eq!(shown["require_pkce"], true, "PKCE by default");
    assert_eq!(shown["id_token_signed_response_alg"], "RS256", "RS256 by default");
    assert_eq!(shown["backchannel_logout_uri"], "https://rdv.normand-esante.fr/oidc/logout");
    assert!(!show.stdout.contains(secret) && !show.stdout.contains("digest"));
    let text = sesame.run(&["client", "show", client_id]).ok();
    assert!(text.stdout.contains("redirect URI:           https://rdv.normand-esante.fr/oidc/callback2"));

    let list = sesame.run(&["client", "list"]).ok();
    assert_eq!(list.stdout.lines().filter(|l| l.contains("Prise de rendez-vous")).count(), 2, "{}", list.stdout);
    let lines = sesame.run(&["client", "list", "--json"]).ok();
    assert_eq!(lines.stdout.lines().count(), 2);

    let audit = sesame.run(&["audit", "--json"]).ok();
    assert!(audit.stdout.contains("oidc_client_created"), "{}", audit.stdout);
    assert!(!audit.stdout.contains(secret));
}

#[test]
fn a_public_client_has_no_secret_and_always_pkce() {
    let sesame = Sesame::new();
    let json = created(
        &sesame,
        &["client", "create", "--name", "Therap-e", "--public", "--redirect-uri", "http://127.0.0.1/callback"],
    );
    assert!(json["client_secret"].is_null(), "{json}");
    let client_id = json["client_id"].as_str().unwrap();
    let shown: Value = serde_json::from_str(&sesame.run(&["client", "show", client_id, "--json"]).ok().stdout).unwrap();
    assert_eq!((shown["kind"].as_str(), shown["require_pkce"].as_bool()), (Some("public"), Some(true)));
    let es256 = created(
        &sesame,
        &[
            "client",
            "create",
            "--name",
            "Tiles",
            "--public",
            "--redirect-uri",
            "http://127.0.0.1/cb",
            "--id-token-alg",
            "ES256",
        ],
    );
    let text = sesame.run(&["client", "show", es256["client_id"].as_str().unwrap()]).ok();
    assert!(text.stdout.contains("ID tokens signed with:  ES256"), "{}", text.stdout);
    let none = sesame
        .run(&[
            "client",
            "create",
            "--name",
            "X",
            "--public",
            "--redirect-uri",
            "http://127.0.0.1/cb",
            "--id-token-alg",
            "none",
        ])
        .bad_input();
    assert!(none.stderr.contains("--id-token-alg 'none': choose RS256 or ES256"), "{}", none.stderr);
    let rotate = sesame.run(&["client", "rotate-secret", client_id]).bad_input();
    assert!(rotate.stderr.contains("is public: it has no secret"), "{}", rotate.stderr);
    let refused = sesame
        .run(&[
            "client",
            "create",
            "--name",
            "X",
            "--public",
            "--pkce-optional",
            "--redirect-uri",
            "http://127.0.0.1/cb",
        ])
        .bad_input();
    assert!(refused.stderr.contains("a public client always uses PKCE"), "{}", refused.stderr);
}

#[test]
fn bad_addresses_are_all_listed_and_nothing_is_registered() {
    let sesame = Sesame::new();
    let run = sesame
        .run(&[
            "client",
            "create",
            "--name",
            "  ",
            "--redirect-uri",
            "http://rdv.example/cb",
            "--redirect-uri",
            "https://rdv.example/cb#frag",
            "--redirect-uri",
            "https://RDV.example/cb",
            "--post-logout-redirect-uri",
            "/apres",
            "--backchannel-logout-uri",
            "ftp://rdv.example/logout",
        ])
        .bad_input();
    for expected in [
        "--name must be 1 to 100 characters",
        "'http://rdv.example/cb' must use https",
        "must not have a fragment",
        "register it as 'https://rdv.example/cb'",
        "--post-logout-redirect-uri '/apres' is not an absolute URI",
        "--backchannel-logout-uri 'ftp://rdv.example/logout' must use https",
    ] {
        assert!(run.stderr.contains(expected), "missing {expected:?} in {}", run.stderr);
    }
    let missing = sesame.run(&["client", "create", "--name", "Sans adresse"]);
    assert_eq!(missing.code, 2, "clap refuses a client without a redirect URI: {}", missing.stderr);
    let list = sesame.run(&["client", "list"]).ok();
    assert!(list.stdout.contains("No client is registered"), "{}", list.stdout);
}

#[test]
fn a_new_secret_replaces_the_old_and_a_deleted_client_is_gone() {
    let sesame = Sesame::new();
    let json = created(&sesame, RDV);
    let client_id = json["client_id"].as_str().unwrap().to_owned();
    let refused = sesame.run(&["client", "rotate-secret", &client_id]).bad_input();
    assert!(refused.stderr.contains("without confirmation: add --yes"), "{}", refused.stderr);
    let rotated = sesame.run(&["client", "rotate-secret", &client_id, "--yes", "--json"]).ok();
    let rotated: Value = serde_json::from_str(rotated.stdout.trim()).unwrap();
    assert_eq!(rotated["client_id"], client_id.as_str());
    assert_ne!(rotated["client_secret"], json["client_secret"]);
    let show = sesame.run(&["client", "show", &client_id]).ok();
    assert!(show.stdout.contains("secret replaced:"), "{}", show.stdout);

    sesame.run(&["client", "delete", &client_id]).bad_input();
    let deleted = sesame.run(&["client", "delete", &client_id, "--yes"]).ok();
    assert!(deleted.stdout.contains("deleted"), "{}", deleted.stdout);
    let gone = sesame.run(&["client", "show", &client_id]).bad_input();
    assert!(gone.stderr.contains(&format!("no client '{client_id}'")), "{}", gone.stderr);
    sesame.run(&["client", "delete", &client_id, "--yes"]).bad_input();
    let audit = sesame.run(&["audit", "--json"]).ok();
    assert!(audit.stdout.contains("oidc_client_secret_rotated") && audit.stdout.contains("oidc_client_deleted"));
}
