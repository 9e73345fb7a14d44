//! Each preset's checklist and refusals on the pages (every rule of every preset is also
//! unit-tested in sesame-core).

mod common;

use common::{Options, TestApp};
use sesame_core::policy::{PolicySettings, Preset};

async fn app_with(preset: Preset) -> (TestApp, reqwest::Client, String) {
    let app = TestApp::start_with(Options { policy: PolicySettings { preset }, ..Options::default() }).await;
    let temporary = app.jeanne().await;
    let browser = app.browser();
    app.login(&browser, "jdupont", &temporary).await;
    (app, browser, temporary)
}

async fn refusals(app: &TestApp, browser: &reqwest::Client, password: &str) -> Vec<String> {
    let form = app.get(browser, "/premiere-connexion").await;
    app.post(browser, "/premiere-connexion", &form, &[("nouveau_mot_de_passe", password), ("confirmation", password)])
        .await
        .errors()
}

#[tokio::test]
async fn cnil_case_1_shows_and_enforces_its_entropy_rule() {
    let (app, browser, _) = app_with(Preset::Cnil2022Cas1).await;
    let form = app.get(&browser, "/premiere-connexion").await;
    assert!(form.body.contains("Une complexité d'au moins 80 bits au sens de la CNIL"));
    assert!(!form.body.contains("Au moins 15 caractères"));
    assert_eq!(
        refusals(&app, &browser, "K7#mQ2$vL9@").await,
        [
            "Le mot de passe est trop simple : 73 bits de complexité pour 80 exigés. Allongez-le ou variez les caractères."
        ]
    );
    assert!(refusals(&app, &browser, "K7#mQ2$vL9@p").await.is_empty(), "the CNIL's own example is accepted");
}

#[tokio::test]
async fn classique_requires_every_kind_of_character_and_refuses_the_last_five_passwords() {
    let (app, browser, _) = app_with(Preset::Classique).await;
    assert_eq!(
        refusals(&app, &browser, "kq9!vzm2wlpx").await,
        ["Le mot de passe doit contenir au moins une lettre majuscule."]
    );
    assert_eq!(
        refusals(&app, &browser, "Kqxvzmywlpxb").await,
        [
            "Le mot de passe doit contenir au moins un chiffre.",
            "Le mot de passe doit contenir au moins un caractère spécial."
        ]
    );
    // Set a first personal password, then two more; going back to the first is refused.
    let first = "Kq9!vzm2wlpX";
    assert!(refusals(&app, &browser, first).await.is_empty());
    let mut current = first.to_owned();
    for next in ["Zr8?htn4bcqW", "Pm3#xkd7gvsL"] {
        let page = app.get(&browser, "/mon-compte").await;
        let done = app
            .post(
                &browser,
                "/mon-compte/mot-de-passe",
                &page,
                &[("mot_de_passe_actuel", &current), ("nouveau_mot_de_passe", next), ("confirmation", next)],
            )
            .await;
        assert_eq!(done.status, 303, "{:?}", done.errors());
        current = next.to_owned();
    }
    let page = app.get(&browser, "/mon-compte").await;
    assert!(page.body.contains("Différent de vos 5 derniers mots de passe"));
    let back = app
        .post(
            &browser,
            "/mon-compte/mot-de-passe",
            &page,
            &[("mot_de_passe_actuel", &current), ("nouveau_mot_de_passe", first), ("confirmation", first)],
        )
        .await;
    assert_eq!(back.errors(), ["Le nouveau mot de passe doit être différent de vos 5 derniers mots de passe."]);
    assert!(
        back.body.contains(r#"data-regle="not_recent" class="regle-non-respectee""#),
        "the checklist marks the failed rule"
    );
}
