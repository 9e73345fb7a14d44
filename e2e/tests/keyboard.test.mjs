// Keyboard only (Tab, typing, Enter) with visible focus; the captcha's parts; error pages.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { startSesame, outbox, waitForMail, launch, newPage, checkA11y, screenshots, keepArtefacts, printAxeSummary } from "./lib.mjs";

after(() => printAxeSummary());

/** Tabs until `selector` has the focus, checking every stop shows a visible focus indicator. */
async function tabTo(page, selector) {
  for (let i = 0; i < 30; i++) {
    await page.keyboard.press("Tab");
    const state = await page.evaluate((sel) => {
      const el = document.activeElement;
      const style = getComputedStyle(el);
      const visible = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0 || style.boxShadow !== "none";
      return { reached: el.matches(sel), visible, tag: el.tagName + (el.id ? "#" + el.id : "") };
    }, selector);
    assert.ok(state.visible, `no visible focus on ${state.tag}`);
    if (state.reached) return;
  }
  throw new Error(`${selector} never got the focus`);
}

test("sign-in and password reset with the keyboard alone", async () => {
  const sesame = await startSesame({ captcha: false });
  const browser = await launch();
  const page = await newPage(browser);
  try {
    sesame.run(["account", "create", "--email", "paul@example.fr", "--first-name", "Paul", "--last-name", "Martin"]);
    const temporary = outbox(sesame)[1].text.match(/utilisez le mot de passe provisoire suivant :\s+(\S+)/)[1];
    await page.goto(sesame.base + "/");
    await tabTo(page, "#identifiant");
    await page.keyboard.type("pmartin");
    await tabTo(page, "#mot_de_passe");
    await page.keyboard.type(temporary);
    await page.keyboard.press("Enter");
    await page.waitForURL("**/premiere-connexion");
    await tabTo(page, "#nouveau_mot_de_passe");
    await page.keyboard.type("la mer du nord est froide");
    await tabTo(page, "#confirmation");
    await page.keyboard.type("la mer du nord est froide");
    await page.keyboard.press("Enter");
    await page.waitForURL("**/services?confirmation=premiere-connexion");

    const other = await newPage(browser);
    await other.goto(sesame.base + "/");
    await tabTo(other, "a[href='/mot-de-passe-oublie']");
    await other.keyboard.press("Enter");
    await other.waitForURL("**/mot-de-passe-oublie");
    await tabTo(other, "#identifiant");
    await other.keyboard.type("pmartin");
    await other.keyboard.press("Enter");
    await other.waitForSelector("h1:text('Confirmation')");
    const link = (await waitForMail(sesame, "reset_link")).text.match(/Valider : (\S+)/)[1];
    await other.goto(link);
    await tabTo(other, "#nouveau_mot_de_passe");
    await other.keyboard.type("un phare au bout de la jetée");
    await tabTo(other, "#confirmation");
    await other.keyboard.type("un phare au bout de la jetée");
    await other.keyboard.press("Enter");
    await other.waitForSelector("text=Votre changement de mot de passe est effectué");
  } catch (e) {
    await keepArtefacts(page, "keyboard");
    throw e;
  } finally {
    await browser.close();
    sesame.stop();
  }
});

test("the captcha shows its image, a new code and a working accessible alternative", async () => {
  const sesame = await startSesame({ captcha: true });
  const browser = await launch();
  const page = await newPage(browser);
  try {
    sesame.run(["account", "create", "--email", "lea@example.fr", "--first-name", "Léa", "--last-name", "Bernard"]);
    await page.goto(sesame.base + "/mot-de-passe-oublie");
    const img = page.locator("fieldset.captcha img");
    assert.match(await img.getAttribute("src"), /^data:image\/png;base64,/);
    assert.ok((await img.getAttribute("alt")).length > 20, "the image has a text alternative");
    assert.equal(await page.locator("label[for=captcha]").textContent(), "Code à recopier");
    await checkA11y(page, "Mot de passe oublié avec captcha");
    await screenshots(page, "12-captcha");
    const before = await img.getAttribute("src");
    await page.click("text=Nouveau code");
    await page.waitForLoadState();
    assert.notEqual(await page.locator("fieldset.captcha img").getAttribute("src"), before, "a new code");
    // The alternative: the browser solves the proof of work; no image reading.
    await page.fill("#identifiant", "lbernard");
    await page.click("text=Vérifier sans lire l'image");
    await page.waitForSelector("text=Vérification réussie", { timeout: 30000 });
    await page.click("form.carte button[type=submit] >> text=Valider");
    await page.waitForSelector("h1:text('Confirmation')");
    await waitForMail(sesame, "reset_link");
    // A wrong code is refused with its message tied to the field.
    await page.goto(sesame.base + "/mot-de-passe-oublie");
    await page.fill("#identifiant", "lbernard");
    await page.fill("#captcha", "zzzzzz");
    await page.click("form.carte button[type=submit] >> text=Valider");
    await page.waitForSelector("#erreurs");
    assert.equal(await page.getAttribute("#captcha", "aria-invalid"), "true");
    await checkA11y(page, "Mot de passe oublié, code erroné");
  } catch (e) {
    await keepArtefacts(page, "captcha");
    throw e;
  } finally {
    await browser.close();
    sesame.stop();
  }
});

test("error pages are French, accessible and carry a request id", async () => {
  const sesame = await startSesame();
  const browser = await launch();
  const page = await newPage(browser);
  try {
    const response = await page.goto(sesame.base + "/nulle-part");
    assert.equal(response.status(), 404);
    assert.match(await page.textContent("h1"), /Page introuvable/);
    assert.match(await page.textContent("main"), /Référence de la requête/);
    await checkA11y(page, "Page introuvable");
    await screenshots(page, "13-page-introuvable");
  } finally {
    await browser.close();
    sesame.stop();
  }
});
