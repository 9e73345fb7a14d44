// Security keys in a real browser: Chromium's virtual FIDO2 authenticator (DevTools' WebAuthn
// domain) plays the key, so the ceremony goes through the browser's own WebAuthn code and our
// page script, not a client we wrote. Registered from Mon compte, the same key refused a second
// time, the second step signed with it (refused when the signature is bogus, the key not touched,
// or its PIN not verified),
// then the key removed by proving it once more. axe-core on every page, screenshots.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { startSesame, outbox, waitForMail, launch, newPage, checkA11y, screenshots, printAxeSummary, stepper, firstConnection } from "./lib.mjs";

const PERSONAL = "la mer du nord est froide";

after(() => printAxeSummary());

/** A USB security key with a PIN, as a FIDO2 key from a shop: not synced, so "hwk". */
async function plugKey(page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("WebAuthn.enable", { enableUI: false });
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: "usb",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  const key = {
    credentials: async () => (await cdp.send("WebAuthn.getCredentials", { authenticatorId })).credentials,
    /** Puts the key's credential back with this signature counter, as a copy of the key would be. */
    setCounter: async (signCount) => {
      const [credential] = (await cdp.send("WebAuthn.getCredentials", { authenticatorId })).credentials;
      await cdp.send("WebAuthn.removeCredential", { authenticatorId, credentialId: credential.credentialId });
      await cdp.send("WebAuthn.addCredential", { authenticatorId, credential: { ...credential, signCount } });
    },
    misbehave: (bits) => cdp.send("WebAuthn.setResponseOverrideBits", { authenticatorId, isBogusSignature: false, isBadUV: false, isBadUP: false, ...bits }),
  };
  return key;
}

async function signIn(page, sesame) {
  await page.goto(sesame.base + "/");
  await page.fill("#identifiant", "jdupont");
  await page.fill("#mot_de_passe", PERSONAL);
  await page.click("button[type=submit]");
  await page.waitForURL("**/connexion/second-facteur");
}

async function signOut(page) {
  await page.click("text=Se déconnecter");
  await page.waitForURL("**/?info=deconnecte");
}

test("a security key registered from Mon compte signs the second step and its own removal", async () => {
  // WebAuthn needs a domain name: localhost is the only one browsers accept without https.
  const sesame = await startSesame({ captcha: false, host: "localhost" });
  const browser = await launch();
  const page = await newPage(browser);
  const step = stepper(page, sesame);
  // What the page script reports when the browser refuses (the error's name and message).
  page.on("console", (message) => message.text().startsWith("WebAuthn:") && console.log(`# ${message.text()}`));
  try {
    sesame.run(["account", "create", "--email", "jeanne.dupont@example.fr", "--first-name", "Jeanne", "--last-name", "Dupont"]);
    const temporary = outbox(sesame)[1].text.match(/utilisez le mot de passe provisoire suivant :\s+(\S+)/)[1];
    const key = await plugKey(page);
    await step("30-first-connection", async () => {
      await firstConnection(page, sesame, "jdupont", temporary, PERSONAL);
    });
    await step("31-register", async () => {
      await page.goto(sesame.base + "/mon-compte");
      await page.click("main >> text=Ajouter une clé de sécurité");
      await page.waitForURL("**/mon-compte/second-facteur/cle");
      await checkA11y(page, "Ajouter une clé de sécurité");
      await screenshots(page, "26-cle-de-securite-ajout");
      await page.fill("#mot_de_passe", PERSONAL);
      await page.fill("#nom", "Clé bleue");
      await page.click("main form button[type=submit]");
      await page.waitForURL(/\/mon-compte\/second-facteur\/cle\/\d+$/);
      await page.waitForSelector("[data-webauthn-start]:not([hidden])");
      await checkA11y(page, "Enregistrer la clé");
      await screenshots(page, "27-cle-de-securite-enregistrer");
      assert.equal((await key.credentials()).length, 0);
      await page.click("[data-webauthn-start]");
      // The first second factor comes with its recovery codes.
      await page.waitForSelector("ol.codes-secours");
      assert.equal((await key.credentials()).length, 1, "the authenticator made one credential");
      await page.click("text=J'ai noté mes codes");
      await page.waitForURL("**/mon-compte");
      const main = await page.textContent("main");
      assert.match(main, /clé de sécurité « Clé bleue »/i);
      await checkA11y(page, "Mon compte avec une clé de sécurité");
    });
    await step("32-same-key-again", async () => {
      // The account's keys are excluded: the browser itself refuses, nothing is stored.
      await page.click("main >> text=Ajouter une clé de sécurité");
      await page.fill("#mot_de_passe", PERSONAL);
      await page.fill("#nom", "La même");
      await page.click("main form button[type=submit]");
      await page.waitForSelector("[data-webauthn-start]:not([hidden])");
      await page.click("[data-webauthn-start]");
      await page.waitForFunction(() => /déjà enregistrée/.test(document.querySelector("[data-webauthn-status]").textContent));
      assert.equal((await key.credentials()).length, 1);
      await page.goto(sesame.base + "/mon-compte");
      assert.doesNotMatch(await page.textContent("main"), /La même/);
    });
    await step("33-second-step-refused", async () => {
      await signOut(page);
      await signIn(page, sesame);
      await page.waitForSelector("[data-webauthn-start]:not([hidden])");
      await checkA11y(page, "Vérification en deux étapes avec une clé");
      await screenshots(page, "28-verification-cle-de-securite");
      for (const bits of [{ isBogusSignature: true }, { isBadUP: true }, { isBadUV: true }]) {
        await key.misbehave(bits);
        // The answer is a new page: drop the previous one's error first, so that the wait is for this try's.
        await page.evaluate(() => document.querySelector("#erreurs")?.remove());
        await page.click("[data-webauthn-start]");
        await page.waitForSelector("#erreurs");
        assert.match(await page.textContent("#erreurs"), /La clé de sécurité n'a pas été reconnue/, JSON.stringify(bits));
        assert.ok(page.url().endsWith("/connexion/second-facteur"), "still at the second step");
        // The page offers a fresh challenge: the refused one cannot be replayed.
        await page.waitForSelector("[data-webauthn-start]:not([hidden])");
      }
      await checkA11y(page, "Vérification en deux étapes, clé refusée");
      const cookie = (await page.context().cookies()).map((c) => `${c.name}=${c.value}`).join("; ");
      const services = await fetch(sesame.base + "/services", { redirect: "manual", headers: { cookie } });
      assert.equal(services.status, 303, "no session after a refused key");
      assert.equal(services.headers.get("location"), "/");
    });
    await step("34-second-step-signed", async () => {
      await key.misbehave({});
      await page.click("[data-webauthn-start]");
      await page.waitForURL("**/services");
      await page.goto(sesame.base + "/mon-compte");
      const main = await page.textContent("main");
      assert.match(main, /Mot de passe et clé de sécurité/);
      assert.match(main, /dernière utilisation le/);
      const added = await waitForMail(sesame, "second_factor");
      assert.match(added.subject, /un second facteur a été ajouté/);
      assert.match(added.text, /« Clé bleue »/, "the registration was e-mailed with the key's name");
    });
    await step("35-cloned-key", async () => {
      // A copy of the key answers with a counter below the one last seen: refused, and the
      // holder is told by e-mail that the key may have been copied.
      await signOut(page);
      await key.setCounter(0);
      await signIn(page, sesame);
      await page.waitForSelector("[data-webauthn-start]:not([hidden])");
      await page.click("[data-webauthn-start]");
      await page.waitForSelector("#erreurs");
      assert.ok(page.url().endsWith("/connexion/second-facteur"), "no session for a copy");
      const warning = await waitForMail(sesame, "second_factor", 2);
      assert.match(warning.subject, /votre clé de sécurité a peut-être été copiée/);
      assert.match(warning.text, /Clé bleue/);
      // The genuine key, further on, still signs in.
      await key.setCounter(1000);
      await page.waitForSelector("[data-webauthn-start]:not([hidden])");
      await page.click("[data-webauthn-start]");
      await page.waitForURL("**/services");
    });
    await step("36-remove-with-key", async () => {
      await page.goto(sesame.base + "/mon-compte");
      await page.click("main >> text=Retirer");
      await page.waitForURL(/\/mon-compte\/second-facteur\/\d+\/retirer$/);
      await page.waitForSelector("[data-webauthn-start]:not([hidden])");
      await checkA11y(page, "Retirer une clé de sécurité");
      await page.fill("#mot_de_passe", PERSONAL);
      await key.misbehave({ isBogusSignature: true });
      await page.click("[data-webauthn-start]");
      await page.waitForSelector("#erreurs");
      assert.match(await page.textContent("#erreurs"), /La clé de sécurité n'a pas été reconnue/);
      await page.goto(sesame.base + "/mon-compte");
      assert.match(await page.textContent("main"), /Clé bleue/, "a bad signature removes nothing");
      await page.click("main >> text=Retirer");
      await page.fill("#mot_de_passe", PERSONAL);
      await key.misbehave({});
      await page.click("[data-webauthn-start]");
      await page.waitForURL("**/mon-compte?*");
      assert.doesNotMatch(await page.textContent("main"), /Clé bleue/);
    });
    await step("37-no-second-step-left", async () => {
      await signOut(page);
      await page.fill("#identifiant", "jdupont");
      await page.fill("#mot_de_passe", PERSONAL);
      await page.click("button[type=submit]");
      await page.waitForURL("**/services");
    });
  } finally {
    await browser.close();
    sesame.stop();
  }
});
