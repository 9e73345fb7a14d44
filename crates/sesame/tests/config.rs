//! `sesame config check` / `show`, and configuration layering.

#![expect(clippy::unwrap_used, reason = "tests")]

mod common;

use common::Sesame;

#[test]
fn no_configuration_at_all_is_valid() {
    let run = Sesame::new().run(&["config", "check"]).ok();
    assert!(run.stdout.contains("The configuration is valid."), "{}", run.stdout);
    assert!(run.stdout.contains("listen:     127.0.0.1:8080"));
    assert!(run.stdout.contains("public URL: http://localhost:8080"));
    assert!(run.stdout.contains("database:   sqlite://./data/sesame.db"));
    assert!(run.stdout.contains("e-mail:     files in ./data/outbox"));
    assert!(run.stdout.contains("second factor: never: asked of those who enrolled one"), "{}", run.stdout);
    assert!(run.stdout.contains("security keys: offered (WebAuthn relying party localhost)"), "{}", run.stdout);
    let ip = Sesame::new().env("SESAME_PUBLIC_URL", "https://192.0.2.10").run(&["config", "check"]).ok();
    assert!(ip.stdout.contains("security keys: not offered: public_url is an IP address"), "{}", ip.stdout);
    assert!(
        ip.stdout.contains("warning: public_url: is an IP address: browsers accept security keys only on a domain name: security keys and passkeys are not offered, only authenticator apps"),
        "{}",
        ip.stdout
    );
    let always = Sesame::new().env("SESAME_SECOND_FACTOR__REQUIRED", "always").run(&["config", "check"]).ok();
    assert!(always.stdout.contains("second factor: always: every account enrols one"), "{}", always.stdout);
    let wrong = Sesame::new().env("SESAME_SECOND_FACTOR__REQUIRED", "sometimes").run(&["config", "check"]).bad_input();
    assert!(wrong.stdout.contains("second_factor.required"), "{}", wrong.stdout);
}

#[test]
fn every_problem_is_listed_with_its_key_and_origin() {
    let sesame =
        Sesame::new().env("SESAME_MAIL__TRANSPORT", "pigeon").env("SESAME_ACCOUNTS__TEMPORARY_PASSWORD_DAYS", "0");
    std::fs::write(
        sesame.path("sesame.toml"),
        r#"
listen = "not an address"
public_url = "ftp://portal"
colour = "blue"

[branding]
portal_name = "Norm'uni"
support_email = "support at example"

[hashing]
memory_kib = 1024
"#,
    )
    .unwrap();
    let run = sesame.run(&["--config", "sesame.toml", "config", "check"]).bad_input();
    let out = run.stdout;
    for expected in [
        "error: colour: unknown key 'colour'",
        "error: mail.transport: ",
        "error: listen: 'not an address' is not an address and port",
        "error: public_url: 'ftp://portal' must start with https:// or http://",
        "error: branding.support_email:",
        "error: hashing.memory_kib: must be at least 19456",
        "error: accounts.temporary_password_days: must be between 1 and 90",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }
    assert!(out.contains("sesame.toml"), "the file is named as an origin:\n{out}");
    assert!(out.contains("SESAME_"), "the environment is named as an origin:\n{out}");
    assert!(run.stderr.contains("the configuration has 7 problems"), "{}", run.stderr);
}

#[test]
fn other_commands_refuse_an_invalid_configuration_without_touching_anything() {
    let sesame = Sesame::new().env("SESAME_LISTEN", "nowhere");
    let run = sesame.run(&["account", "list"]).bad_input();
    assert!(run.stderr.contains("listen:"), "{}", run.stderr);
    assert!(!sesame.path("data").exists(), "nothing was created");
}

#[test]
fn a_missing_configuration_file_is_reported() {
    let run = Sesame::new().run(&["--config", "absent.toml", "config", "check"]).bad_input();
    assert!(run.stdout.contains("cannot read the configuration file absent.toml"), "{}", run.stdout);
}

#[test]
fn environment_overrides_the_file_and_secrets_come_from_files() {
    let sesame = Sesame::new()
        .env("SESAME_BRANDING__PORTAL_NAME", "Norm'uni (env)")
        .env("SESAME_MAIL__SMTP__PASSWORD_FILE", "smtp-password");
    std::fs::write(sesame.path("smtp-password"), "s3cret-relay-password\n").unwrap();
    std::fs::write(
        sesame.path("sesame.toml"),
        "[branding]\nportal_name = \"Norm'uni\"\n[mail]\ntransport = \"smtp\"\n[mail.smtp]\nhost = \"smtp.example.fr\"\nusername = \"sesame\"\n",
    )
    .unwrap();
    let show = sesame.command(&["config", "show"]).env("SESAME_CONFIG", "sesame.toml").output().unwrap();
    let shown = String::from_utf8_lossy(&show.stdout);
    assert!(show.status.success(), "{}", String::from_utf8_lossy(&show.stderr));
    assert!(shown.contains("portal_name = \"Norm'uni (env)\""), "{shown}");
    assert!(shown.contains("host = \"smtp.example.fr\""));
    assert!(!shown.contains("s3cret"), "secrets are never shown:\n{shown}");

    std::fs::remove_file(sesame.path("smtp-password")).unwrap();
    let run = sesame.run(&["--config", "sesame.toml", "config", "check"]).bad_input();
    assert!(run.stdout.contains("mail.smtp.password_file: cannot read smtp-password"), "{}", run.stdout);
}

#[test]
fn the_guide_example_configuration_is_valid() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/normand-esante.toml");
    let run = Sesame::new().run(&["--config", example, "config", "check"]).ok();
    assert!(run.stdout.contains("public URL: https://www.norm-uni.fr"), "{}", run.stdout);
    let shown = Sesame::new().run(&["--config", example, "config", "show"]).ok().stdout;
    assert!(shown.contains("[[downloads]]") && shown.contains("VLC Media Player"), "{shown}");
}

#[test]
fn invalid_downloads_and_help_files_are_reported_with_their_key() {
    let sesame = Sesame::new();
    std::fs::write(
        sesame.path("sesame.toml"),
        r#"
[[services]]
name = "Therap-e"
description = "Téléconsultation"
url = "https://www.norm-uni.fr/therap-e/"

[[downloads]]
name = "Therap-e autonome"
platform = "windows"
url = "http://www.norm-uni.fr/setup.exe"
requirements = "Windows 10"
sha256 = "pas-une-empreinte"
service = "Inconnu"

[[downloads]]
name = "Therap-e autonome"
platform = "macos"
url = "/telechargements/therap-e.dmg"
requirements = ""
prerequisites = [{ name = "VLC Media Player", url = "javascript:alert(1)" }]

[help]
file = "aide-absente.md"
"#,
    )
    .unwrap();
    let out = sesame.run(&["--config", "sesame.toml", "config", "check"]).bad_input().stdout;
    for expected in [
        "error: downloads[0].url: 'Therap-e autonome': 'http://www.norm-uni.fr/setup.exe' must be an absolute https:// address",
        "error: downloads[0].sha256: 'Therap-e autonome': 'pas-une-empreinte' is not a SHA-256",
        "error: downloads[0].service: 'Therap-e autonome': no [[services]] entry is named 'Inconnu'",
        "error: downloads[1].requirements: 'Therap-e autonome': say which systems it runs on",
        "error: downloads[1].prerequisites[0].url: 'javascript:alert(1)' must be an absolute https:// address",
        "error: help.file: cannot read aide-absente.md",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }
    std::fs::write(
        sesame.path("platform.toml"),
        "[[downloads]]\nname = \"X\"\nplatform = \"android\"\nurl = \"/x\"\nrequirements = \"y\"\n",
    )
    .unwrap();
    let out = sesame.run(&["--config", "platform.toml", "config", "check"]).bad_input().stdout;
    assert!(out.contains("downloads") && out.contains("android") && out.contains("windows"), "{out}");
}

#[test]
fn help_is_complete_for_every_command() {
    let sesame = Sesame::new();
    for args in [
        &["--help"][..],
        &["serve", "--help"],
        &["account", "create", "--help"],
        &["account", "reset-password", "--help"],
        &["mail", "flush", "--help"],
        &["audit", "--help"],
        &["backup", "--help"],
        &["config", "check", "--help"],
        &["client", "create", "--help"],
    ] {
        let run = sesame.run(args).ok();
        assert!(run.stdout.contains("Usage: sesame"), "{args:?}: {}", run.stdout);
    }
    let unknown = sesame.run(&["account", "explode"]);
    assert_eq!(unknown.code, 2);
}

#[test]
fn the_configuration_reference_shows_the_current_defaults_and_every_key() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/configuration.md")).unwrap();
    let shown = Sesame::new().run(&["config", "show"]).ok().stdout;
    assert!(doc.contains(&format!("```toml\n{shown}```")), "docs/configuration.md is out of date; paste:\n{shown}");
    let mut section = String::new();
    for line in shown.lines() {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = format!("{name}.");
        } else if let Some((key, _)) = line.split_once(" = ") {
            let full = format!("`{section}{key}`");
            assert!(doc.contains(&full), "docs/configuration.md does not describe {full}");
        }
    }
}
