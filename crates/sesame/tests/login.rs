//! `sesame login` through a real pseudo-terminal, against a real `sesame serve`.

#![expect(clippy::unwrap_used, reason = "tests")]

mod common;

use common::{Sesame, start};
use rexpect::session::spawn_command;
use std::os::unix::fs::PermissionsExt as _;

const TIMEOUT_MS: Option<u64> = Some(20_000);

/// rexpect reads the terminal byte by byte as Latin-1: expect the UTF-8 bytes of the text.
fn bytes(text: &str) -> String {
    text.bytes().map(char::from).collect()
}

fn temporary_password(sesame: &Sesame) -> String {
    let run = sesame
        .run(&[
            "account",
            "create",
            "--email",
            "jeanne@example.fr",
            "--first-name",
            "Jeanne",
            "--last-name",
            "Dupont",
            "--show-password",
        ])
        .ok();
    run.stdout.lines().find_map(|l| l.strip_prefix("Temporary password: ")).unwrap().to_owned()
}

#[test]
fn first_connection_from_the_terminal_client() {
    let sesame = Sesame::new();
    let temporary = temporary_password(&sesame);
    let server = start(&sesame);
    let mut command = sesame.command(&["login", "--url", &server.base, "--save-token", "tokens.json"]);
    command.stdin(std::process::Stdio::inherit());
    let mut p = spawn_command(command, TIMEOUT_MS).unwrap();
    p.exp_string(&bytes("Identifiant : ")).unwrap();
    p.send_line("jdupont").unwrap();
    p.exp_string(&bytes("Mot de passe : ")).unwrap();
    p.send_line(&temporary).unwrap();
    p.exp_string(&bytes("Première connexion : définissez votre mot de passe personnel")).unwrap();
    p.exp_string(&bytes("Politique de sécurité :")).unwrap();
    p.exp_string(&bytes("Au moins 15 caractères")).unwrap();
    // A mismatch, then a refused password, then a good one.
    p.exp_string(&bytes("Nouveau mot de passe : ")).unwrap();
    p.send_line("la mer du nord est froide").unwrap();
    p.exp_string(&bytes("Confirmez le nouveau mot de passe : ")).unwrap();
    p.send_line("autre chose").unwrap();
    p.exp_string(&bytes("Les deux saisies ne sont pas identiques.")).unwrap();
    p.exp_string(&bytes("Nouveau mot de passe : ")).unwrap();
    p.send_line("soleil").unwrap();
    p.exp_string(&bytes("Confirmez le nouveau mot de passe : ")).unwrap();
    p.send_line("soleil").unwrap();
    p.exp_string(&bytes("Mot de passe refusé :")).unwrap();
    p.exp_string(&bytes("Le mot de passe doit contenir au moins 15 caractères (il en contient 6).")).unwrap();
    p.exp_string(&bytes("Nouveau mot de passe : ")).unwrap();
    p.send_line("la mer du nord est froide").unwrap();
    p.exp_string(&bytes("Confirmez le nouveau mot de passe : ")).unwrap();
    p.send_line("la mer du nord est froide").unwrap();
    p.exp_string(&bytes("Votre changement de mot de passe a bien été pris en compte.")).unwrap();
    p.exp_string(&bytes("Connexion réussie : Jeanne Dupont (jdupont).")).unwrap();
    let rest = p.exp_eof().unwrap();
    assert!(!rest.contains("la mer du nord"), "passwords are never echoed");
    let tokens = sesame.path("tokens.json");
    assert_eq!(std::fs::metadata(&tokens).unwrap().permissions().mode() & 0o777, 0o600);
    let saved: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&tokens).unwrap()).unwrap();
    assert_eq!(saved["token_type"], "Bearer");

    // The next time, the personal password signs in directly and nothing is written.
    let mut again =
        spawn_command(sesame.command(&["login", "--url", &server.base, "--identifier", "jdupont"]), TIMEOUT_MS)
            .unwrap();
    again.exp_string(&bytes("Mot de passe : ")).unwrap();
    again.send_line("la mer du nord est froide").unwrap();
    again.exp_string(&bytes("Connexion réussie : Jeanne Dupont (jdupont).")).unwrap();
    again.exp_eof().unwrap();
}

#[test]
fn a_wrong_password_is_one_clear_sentence_and_a_failure_exit_code() {
    let sesame = Sesame::new();
    temporary_password(&sesame);
    let server = start(&sesame);
    let mut p = spawn_command(sesame.command(&["login", "--url", &server.base, "--identifier", "jdupont"]), TIMEOUT_MS)
        .unwrap();
    p.exp_string(&bytes("Mot de passe : ")).unwrap();
    p.send_line("mauvais").unwrap();
    p.exp_string(&bytes("error: Identifiant ou mot de passe incorrect.")).unwrap();
    p.exp_eof().unwrap();
    match p.process().wait().unwrap() {
        rexpect::process::WaitStatus::Exited(_, code) => assert_eq!(code, 1),
        other => panic!("{other:?}"),
    }
}

#[test]
fn without_a_terminal_it_refuses_plainly() {
    let sesame = Sesame::new();
    let run = sesame.run(&["login", "--url", "http://127.0.0.1:9", "--identifier", "jdupont"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("sesame login needs a terminal"), "{}", run.stderr);
    sesame.run(&["login", "--url", "ftp://x"]).bad_input();
}

/// The CSRF token of a page's form.
fn csrf(body: &str) -> String {
    let start = body.find("name=\"csrf\" value=\"").unwrap() + 19;
    body[start..start + body[start..].find('"').unwrap()].to_owned()
}

/// Sets Jeanne's personal password and enrols an authenticator app through the portal's pages,
/// as she would in a browser; the app's secret read off the page, and the step it confirmed.
async fn enrol_on_portal(base: &str, temporary: &str, personal: &str) -> (sesame_core::totp::TotpSecret, i64) {
    let browser =
        reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let page = |path: &str| {
        let browser = browser.clone();
        let url = format!("{base}{path}");
        async move { browser.get(url).send().await.unwrap().text().await.unwrap() }
    };
    let post = |path: &str, form: Vec<(&'static str, String)>| {
        let browser = browser.clone();
        let url = format!("{base}{path}");
        async move { browser.post(url).form(&form).send().await.unwrap() }
    };
    let login = page("/").await;
    post(
        "/connexion",
        vec![("csrf", csrf(&login)), ("identifiant", "jdupont".into()), ("mot_de_passe", temporary.into())],
    )
    .await;
    let first = page("/premiere-connexion").await;
    let form =
        vec![("csrf", csrf(&first)), ("nouveau_mot_de_passe", personal.into()), ("confirmation", personal.into())];
    post("/premiere-connexion", form).await;
    let start = page("/mon-compte/second-facteur/application").await;
    let started =
        post("/mon-compte/second-facteur/application", vec![("csrf", csrf(&start)), ("mot_de_passe", personal.into())])
            .await;
    let to = started.headers()["location"].to_str().unwrap().to_owned();
    let enrol = page(&to).await;
    let marker = "<dt>Clé</dt><dd><code class=\"cle\">";
    let key_at = enrol.find(marker).unwrap() + marker.len();
    let key = &enrol[key_at..key_at + enrol[key_at..].find('<').unwrap()];
    let secret = sesame_core::totp::TotpSecret::from_base32(key).unwrap();
    let step = sesame_core::totp::step_of(time::OffsetDateTime::now_utc());
    let confirmed = post(&to, vec![("csrf", csrf(&enrol)), ("code", secret.code_at_step(step))]).await;
    assert_eq!(confirmed.status(), 200, "enrolled");
    (secret, step)
}

#[test]
fn the_terminal_client_asks_for_the_code_of_the_authenticator_app() {
    let sesame = Sesame::new();
    let temporary = temporary_password(&sesame);
    let server = start(&sesame);
    let personal = "la mer du nord est froide";
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (secret, step) = runtime.block_on(enrol_on_portal(&server.base, &temporary, personal));
    let mut p = spawn_command(sesame.command(&["login", "--url", &server.base, "--identifier", "jdupont"]), TIMEOUT_MS)
        .unwrap();
    p.exp_string(&bytes("Mot de passe : ")).unwrap();
    p.send_line(personal).unwrap();
    p.exp_string(&bytes("Saisissez le code à 6 chiffres de votre application d'authentification")).unwrap();
    p.exp_string(&bytes("Code de vérification : ")).unwrap();
    p.send_line("000000").unwrap();
    p.exp_string(&bytes("Code incorrect.")).unwrap();
    p.exp_string(&bytes("Code de vérification : ")).unwrap();
    // The confirming step is used up; the next one is within the accepted drift.
    p.send_line(&secret.code_at_step(step + 1)).unwrap();
    p.exp_string(&bytes("Connexion réussie : Jeanne Dupont (jdupont).")).unwrap();
    p.exp_eof().unwrap();
}
