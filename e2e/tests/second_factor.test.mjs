// "Vérification en deux étapes" in a real browser: enrolling an authenticator app from Mon
// compte (the otpauth:// URI read by the otpauth library, as an app would), the recovery codes,
// the second step after the password; axe-core on every page and state, screenshots.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import * as OTPAuth from "otpauth";
import { startSesame, outbox, launch, newPage, checkA11y, screenshots, printAxeSummary, stepper, firstConnection } from "./lib.mjs";

const PERSONAL = "la mer du nord est froide";

after(() => printAxeSummary());

test("an authenticator app enrolled from Mon compte is asked after the password", async () => {
  const sesame = await startSesame({ captcha: false });
  const browser = await launch();
  const page = await newPage(browser);
  const step = stepper(page, sesame);
  try {
    sesame.run(["account", "create", "--email", "jeanne.dupont@example.fr", "--first-name", "Jeanne", "--last-name", "Dupont"]);
    const temporary = outbox(sesame)[1].text.match(/utilisez le mot de passe provisoire suivant :\s+(\S+)/)[1];
    let totp;
    let confirmedStep;
    await step("20-first-connection", async () => {
      await firstConnection(page, sesame, "jdupont", temporary, PERSONAL);
    });
    await step("21-enrol-start", async () => {
      await page.goto(sesame.base + "/mon-compte");
      await page.click("text=Ajouter une application d'authentification");
      await page.waitForURL("**/mon-compte/second-facteur/application");
      await checkA11y(page, "Ajouter une application d'authentification");
      await screenshots(page, "20-second-facteur-ajout");
      await page.fill("#mot_de_passe", "pas le bon");
      await page.click("main form button[type=submit]");
      await page.waitForSelector("#erreurs");
      assert.match(await page.textContent("#erreurs"), /Le mot de passe est incorrect/);
      await checkA11y(page, "Ajouter une application, mot de passe erroné");
      await page.fill("#mot_de_passe", PERSONAL);
      await page.fill("#nom", "Téléphone professionnel");
      await page.click("main form button[type=submit]");
      await page.waitForURL(/\/mon-compte\/second-facteur\/application\/\d+$/);
    });
    await step("22-enrol-qr", async () => {
      assert.ok(await page.isVisible(".qr svg"), "the QR code is drawn");
      await checkA11y(page, "QR code et clé");
      await screenshots(page, "21-second-facteur-qr-code");
      await page.click("summary");
      const uri = (await page.textContent("details code")).trim();
      totp = OTPAuth.URI.parse(uri);
      assert.equal(totp.issuer, "Norm'uni");
      assert.equal(totp.label, "jdupont");
      const key = (await page.textContent("dd code.cle")).replace(/\s/g, "");
      assert.equal(key, totp.secret.base32, "the key in groups is the URI's key");
      await page.fill("#code", "000000");
      await page.click("main form button[type=submit]");
      await page.waitForSelector("#erreurs");
      assert.match(await page.textContent("#erreurs"), /Code incorrect/);
      await checkA11y(page, "QR code, code incorrect");
      confirmedStep = Math.floor(Date.now() / 30000);
      await page.fill("#code", totp.generate({ timestamp: confirmedStep * 30000 }));
      await page.click("main form button[type=submit]");
      await page.waitForSelector("ol.codes-secours");
    });
    let codes;
    await step("23-recovery-codes", async () => {
      codes = await page.$$eval("ol.codes-secours code", (els) => els.map((e) => e.textContent));
      assert.equal(codes.length, 10);
      const href = await page.getAttribute("a[download]", "href");
      assert.ok(decodeURIComponent(href.split(",")[1]).includes(codes[9]), "the text file holds the codes");
      await checkA11y(page, "Codes de secours");
      await screenshots(page, "22-codes-de-secours");
      await page.click("text=J'ai noté mes codes");
      await page.waitForURL("**/mon-compte");
      assert.match(await page.textContent("main"), /Téléphone professionnel/);
      assert.match(await page.textContent("main"), /10\s+sur 10/);
      await checkA11y(page, "Mon compte avec un second facteur");
      await screenshots(page, "23-mon-compte-second-facteur");
      await page.click("text=Se déconnecter");
      await page.waitForURL("**/?info=deconnecte");
    });
    await step("24-second-step", async () => {
      await page.fill("#identifiant", "jdupont");
      await page.fill("#mot_de_passe", PERSONAL);
      await page.click("button[type=submit]");
      await page.waitForURL("**/connexion/second-facteur");
      await checkA11y(page, "Vérification en deux étapes");
      await screenshots(page, "24-verification-en-deux-etapes");
      await page.fill("#code", "123456");
      await page.click("main form button[type=submit]");
      await page.waitForSelector("#erreurs");
      assert.match(await page.textContent("#erreurs"), /Code incorrect/);
      await checkA11y(page, "Vérification en deux étapes, code incorrect");
      await screenshots(page, "25-verification-code-incorrect");
      // The confirming step is used up; the next one is within the accepted drift.
      await page.fill("#code", totp.generate({ timestamp: (confirmedStep + 1) * 30000 }));
      await page.click("main form button[type=submit]");
      await page.waitForURL("**/services");
      await page.goto(sesame.base + "/mon-compte");
      assert.match(await page.textContent("main"), /Mot de passe et application d'authentification/);
    });
    await step("25-recovery-code", async () => {
      await page.click("text=Se déconnecter");
      await page.waitForURL("**/?info=deconnecte");
      await page.fill("#identifiant", "jdupont");
      await page.fill("#mot_de_passe", PERSONAL);
      await page.click("button[type=submit]");
      await page.waitForURL("**/connexion/second-facteur");
      await page.fill("#code", codes[0].toLowerCase());
      await page.click("main form button[type=submit]");
      await page.waitForURL("**/services");
    });
  } finally {
    await browser.close();
    sesame.stop();
  }
});
