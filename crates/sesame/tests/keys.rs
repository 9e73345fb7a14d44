//! `sesame keys …` and the JWK Set from the outside: the keys' life as an operator sees it, the
//! database holding no private key in clear, and bad input that changes nothing.

#![expect(clippy::unwrap_used, reason = "tests")]

mod common;

use common::{Sesame, start};
use serde_json::Value;

fn keys(sesame: &Sesame) -> Vec<Value> {
    let run = sesame.run(&["keys", "list", "--json"]).ok();
    run.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn states(keys: &[Value]) -> Vec<(String, String)> {
    keys.iter().map(|k| (k["alg"].as_str().unwrap().to_owned(), k["state"].as_str().unwrap().to_owned())).collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(a, s)| ((*a).to_owned(), (*s).to_owned())).collect()
}

#[test]
fn a_rotation_publishes_new_keys_before_they_sign_and_keeps_the_old_ones() {
    let sesame = Sesame::new();
    assert!(sesame.run(&["keys", "list"]).ok().stdout.contains("No signing key yet"));

    let first = sesame.run(&["keys", "rotate", "--now"]).ok().stdout;
    assert_eq!(first.matches("published; it signs from").count(), 2, "{first}");
    assert_eq!(states(&keys(&sesame)), pairs(&[("ES256", "signing"), ("RS256", "signing")]));

    let second = sesame.run(&["keys", "rotate"]).ok().stdout;
    assert!(second.contains("stay published for 24 hours"), "{second}");
    let all = keys(&sesame);
    assert_eq!(
        states(&all),
        pairs(&[("ES256", "signing"), ("RS256", "signing"), ("ES256", "next"), ("RS256", "next")])
    );
    for key in &all {
        let kid = key["kid"].as_str().unwrap();
        assert_eq!(kid.len(), 43, "an RFC 7638 thumbprint: {kid}");
    }
    let table = sesame.run(&["keys", "list"]).ok().stdout;
    assert!(table.starts_with("KID") && table.lines().count() == 5, "{table}");

    // No private key rests in clear: neither PKCS#8 algorithm identifier is in the file.
    let db = std::fs::read(sesame.path("data/sesame.db")).unwrap();
    let wal = std::fs::read(sesame.path("data/sesame.db-wal")).unwrap_or_default();
    let ec_public_key: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
    let rsa_encryption: &[u8] = &[0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
    for bytes in [&db, &wal] {
        for oid in [ec_public_key, rsa_encryption] {
            assert!(!bytes.windows(oid.len()).any(|w| w == oid), "a private key in clear");
        }
    }

    let audit = sesame.run(&["audit", "--json"]).ok().stdout;
    assert_eq!(audit.matches("oidc_signing_keys_generated").count(), 2, "{audit}");
    assert!(audit.contains("cli:"), "{audit}");
}

#[test]
fn bad_rotations_and_removals_are_refused_and_change_nothing() {
    let sesame = Sesame::new();
    sesame.run(&["keys", "rotate", "--now"]).ok();
    sesame.run(&["keys", "rotate", "--activate-in", "2h"]).ok();
    let before = keys(&sesame);

    let short = sesame.run(&["keys", "rotate", "--activate-in", "5m"]).bad_input();
    assert!(short.stderr.contains("shorter than the 10 minutes"), "{}", short.stderr);
    for garbage in ["soon", "10", "-1h", "3w", "100d"] {
        let run = sesame.run(&["keys", "rotate", &format!("--activate-in={garbage}")]).bad_input();
        assert!(run.stderr.contains("duration") || run.stderr.contains("at most 90 days"), "{garbage}: {}", run.stderr);
    }
    let signing = before[0]["kid"].as_str().unwrap();
    let refused = sesame.run(&["keys", "remove", signing, "--yes"]).bad_input();
    assert!(refused.stderr.contains("signs now: rotate first"), "{}", refused.stderr);
    assert!(sesame.run(&["keys", "remove", "no-such-kid", "--yes"]).bad_input().stderr.contains("no signing key"));
    let next = before[2]["kid"].as_str().unwrap();
    assert!(sesame.run(&["keys", "remove", next]).bad_input().stderr.contains("add --yes"));
    assert_eq!(keys(&sesame), before, "nothing changed");

    // A leak: the next key is withdrawn at once.
    let removed = sesame.run(&["keys", "remove", next, "--yes"]).ok().stdout;
    assert!(removed.contains("withdrawn"), "{removed}");
    assert_eq!(keys(&sesame).len(), 3);
    assert!(sesame.run(&["audit", "--json"]).ok().stdout.contains("oidc_signing_key_removed"));
}

#[test]
fn rotating_the_key_ring_reseals_the_signing_keys_which_still_sign() {
    let sesame = Sesame::new();
    sesame.run(&["keys", "rotate", "--now"]).ok();
    let before = keys(&sesame);
    let rotated = sesame.run(&["secrets", "rotate"]).ok().stdout;
    assert!(rotated.contains("Re-sealed 2 sealed secret(s)"), "{rotated}");
    sesame.run(&["secrets", "prune", "--yes"]).ok();
    let after = keys(&sesame);
    assert_eq!(after, before, "still readable under the new key only");
    assert!(after.iter().all(|k| k["state"] == "signing"));
}

#[tokio::test]
async fn serve_generates_keys_at_first_start_and_publishes_every_key_in_the_jwk_set() {
    let sesame = Sesame::new();
    sesame.run(&["keys", "rotate"]).ok(); // two keys ahead, none signing yet
    let server = start(&sesame);
    let response = reqwest::get(format!("{}/oidc/jwks", server.base)).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(response.headers()["cache-control"], "public, max-age=600");
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    let jwks: Value = response.json().await.unwrap();
    let listed = keys(&sesame);
    assert_eq!(
        states(&listed),
        pairs(&[("ES256", "next"), ("RS256", "next"), ("ES256", "signing"), ("RS256", "signing")])
    );
    let published: Vec<&str> = jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap()).collect();
    let stored: Vec<&str> = listed.iter().map(|k| k["kid"].as_str().unwrap()).collect();
    assert_eq!(published, stored, "the next keys are published too");
    for key in jwks["keys"].as_array().unwrap() {
        assert_eq!(key["use"], "sig");
        assert!(key.get("d").is_none() && key.get("p").is_none(), "no private member: {key}");
        match key["alg"].as_str().unwrap() {
            "ES256" => assert!(key["kty"] == "EC" && key["crv"] == "P-256" && key["x"].is_string()),
            "RS256" => assert!(key["kty"] == "RSA" && key["e"] == "AQAB" && key["n"].as_str().unwrap().len() >= 342),
            other => panic!("unexpected alg {other}"),
        }
    }
    drop(server);
    // A second start generates nothing more.
    let _server = start(&sesame);
    assert_eq!(keys(&sesame).len(), 4);
}
