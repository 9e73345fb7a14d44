// The guide's flows in a real browser, with axe-core on every page and state and screenshots.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { startSesame, outbox, waitForMail, launch, newPage, checkA11y, screenshots, printAxeSummary, stepper } from "./lib.mjs";

const PERSONAL = "la mer du nord est froide";
const CHANGED = "un phare au bout de la jetée";
const RESET = "les goélands tournent au-dessus du port";

after(() => printAxeSummary());

test("account created by the CLI, first connection, Mon compte, change, logout, Mot de passe oublié, new sign-in", async () => {
  const sesame = await startSesame({ captcha: false });
  const browser = await launch();
  const page = await newPage(browser);
  const step = stepper(page, sesame);
  try {
    // Support creates the account: two separate e-mails.
    sesame.run(["account", "create", "--email", "jeanne.dupont@example.fr", "--first-name", "Jeanne", "--last-name", "Dupont", "--national-id", "10003456786"]);
    const mails = outbox(sesame);
    assert.equal(mails.length, 2);
    assert.equal(mails[0].subject, "Norm'uni : votre identifiant de connexion");
    const identifier = mails[0].text.match(/Votre identifiant de connexion est : (\S+)/)[1];
    const temporary = mails[1].text.match(/utilisez le mot de passe provisoire suivant :\s+(\S+)/)[1];
    assert.equal(identifier, "jdupont");
    assert.equal(temporary.length, 20);

    await step("01-login", async () => {
      await page.goto(sesame.base + "/");
      await checkA11y(page, "Je me connecte");
      await screenshots(page, "01-je-me-connecte");
    });
    await step("02-wrong-password", async () => {
      await page.fill("#identifiant", identifier);
      await page.fill("#mot_de_passe", "pas le bon mot de passe");
      await page.click("button[type=submit]");
      await page.waitForSelector("#erreurs");
      assert.match(await page.textContent("#erreurs"), /Identifiant ou mot de passe incorrect/);
      await checkA11y(page, "Je me connecte, mot de passe erroné");
      await screenshots(page, "02-mot-de-passe-errone");
    });
    await step("03-first-connection", async () => {
      await page.fill("#identifiant", identifier);
      await page.fill("#mot_de_passe", temporary);
      await page.click("button[type=submit]");
      await page.waitForURL("**/premiere-connexion");
      await checkA11y(page, "Définir mon mot de passe personnel");
      await screenshots(page, "03-premiere-connexion");
      await page.fill("#nouveau_mot_de_passe", "soleil");
      await page.fill("#confirmation", "soleil");
      await page.click("form.carte button[type=submit]");
      await page.waitForSelector("#erreurs");
      assert.match(await page.textContent("#erreurs"), /au moins 15 caractères/);
      await checkA11y(page, "Définir mon mot de passe personnel, refus de la politique");
      await screenshots(page, "04-premiere-connexion-refus");
      await page.fill("#nouveau_mot_de_passe", PERSONAL);
      await page.fill("#confirmation", PERSONAL);
      await page.click("form.carte button[type=submit]");
      await page.waitForURL("**/services?confirmation=premiere-connexion");
      assert.match(await page.textContent("main"), /Votre changement de mot de passe est effectué/);
      await checkA11y(page, "Mes services e-santé");
      await screenshots(page, "05-mes-services");
    });
    await step("06-mon-compte", async () => {
      await page.click("text=Mon compte");
      await page.waitForURL("**/mon-compte");
      assert.match(await page.textContent("main"), /\*{7}@example\.fr/);
      await checkA11y(page, "Mon compte");
      await screenshots(page, "06-mon-compte");
      await page.fill("#mot_de_passe_actuel", PERSONAL);
      await page.fill("#nouveau_mot_de_passe", CHANGED);
      await page.fill("#confirmation", CHANGED);
      await page.click("text=Changer mon mot de passe >> nth=-1");
      await page.waitForURL("**/mon-compte?confirmation=mot-de-passe");
      await checkA11y(page, "Mon compte, mot de passe changé");
      await page.click("main form[action='/deconnexion'] button");
      await page.waitForURL("**/?info=deconnecte");
      assert.match(await page.textContent("main"), /Vous êtes déconnecté/);
      await checkA11y(page, "Déconnecté");
    });
    await step("07-forgotten-password", async () => {
      await page.click("text=Mot de passe oublié");
      await page.waitForURL("**/mot-de-passe-oublie");
      await checkA11y(page, "Mot de passe oublié");
      await screenshots(page, "07-mot-de-passe-oublie");
      await page.fill("#identifiant", identifier);
      await page.click("form.carte button[type=submit]");
      await page.waitForSelector("h1:text('Confirmation')");
      assert.match(await page.textContent("main"), /Votre demande de changement de mot de passe est prise en compte/);
      await checkA11y(page, "Mot de passe oublié, confirmation");
      await screenshots(page, "08-demande-prise-en-compte");
      const mail = await waitForMail(sesame, "reset_link");
      assert.match(mail.text, /Une demande de changement de mot de passe sur votre compte a été demandée/);
      const link = mail.text.match(/Valider : (\S+)/)[1];
      await page.goto(link);
      await page.waitForURL("**/mot-de-passe-oublie/nouveau");
      assert.ok(!page.url().includes("jeton"), "the token left the address bar");
      await checkA11y(page, "Choisir un nouveau mot de passe");
      await screenshots(page, "09-nouveau-mot-de-passe");
      await page.fill("#nouveau_mot_de_passe", RESET);
      await page.fill("#confirmation", RESET);
      await page.click("form.carte button[type=submit]");
      await page.waitForSelector("text=Votre changement de mot de passe est effectué");
      await checkA11y(page, "Changement effectué");
      await screenshots(page, "10-changement-effectue");
      const confirmation = await waitForMail(sesame, "password_changed", 3);
      assert.match(confirmation.text, /Si vous n'avez pas effectué ce changement, merci de contacter le support technique de Normand'e-santé au 02 50 53 70 01/);
      // The same link a second time: the expired-link page.
      await page.goto(link);
      assert.match(await page.textContent("h1"), /Lien invalide ou expiré/);
      await checkA11y(page, "Lien invalide ou expiré");
      await screenshots(page, "11-lien-expire");
    });
    await step("12-new-sign-in", async () => {
      await page.goto(sesame.base + "/");
      await page.fill("#identifiant", identifier);
      await page.fill("#mot_de_passe", RESET);
      await page.click("button[type=submit]");
      await page.waitForURL("**/services");
      assert.match(await page.textContent("h1"), /Mes services e-santé/);
    });
  } finally {
    await browser.close();
    sesame.stop();
  }
});
