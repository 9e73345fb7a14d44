// The guide's last page in a real browser: "Installer Therap-e autonome sur votre poste" after the
// first connection and on its own page (a Mac visitor sees the Mac installer first), and "Aide".
import { test } from "node:test";
import assert from "node:assert/strict";
import { startSesame, outbox, launch, newPage, checkA11y, screenshots, stepper, firstConnection } from "./lib.mjs";

const PERSONAL = "la mer du nord est froide";
const MAC = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Safari/537.36";

// As examples/normand-esante.toml has it: the guide's two installers and the VLC prerequisite.
const CONFIG = `
[[services]]
name = "Therap-e"
description = "Téléconsultation et téléexpertise, dans le navigateur ou avec l'application Therap-e autonome."
url = "https://www.norm-uni.fr/therap-e/"

[[downloads]]
name = "Therap-e autonome"
platform = "windows"
service = "Therap-e"
url = "https://www.norm-uni.fr/covotem/Installer/covotem-serveur-normandie-prod-inst.exe"
requirements = "Windows 10 ou 11"

[[downloads]]
name = "Therap-e autonome"
platform = "macos"
service = "Therap-e"
url = "https://www.norm-uni.fr/covotem/Installer/covotem-serveur-normandie-prod.dmg"
requirements = "macOS de 10.15 à 12.4"
sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
prerequisites = [{ name = "VLC Media Player", url = "https://www.videolan.org/vlc/download-macosx.html" }]
`;

test("after the first connection the professional installs Therap-e autonome; the help page explains the guide", async () => {
  const sesame = await startSesame({ captcha: false, config: CONFIG });
  const browser = await launch();
  const page = await newPage(browser, { userAgent: MAC });
  const step = stepper(page, sesame);
  try {
    sesame.run(["account", "create", "--email", "jeanne.dupont@example.fr", "--first-name", "Jeanne", "--last-name", "Dupont"]);
    const [identifierMail, passwordMail] = outbox(sesame);
    assert.match(passwordMail.text, /Il permet également de se connecter à Therap-e autonome\./);
    assert.match(passwordMail.text, /\/installer/);
    const identifier = identifierMail.text.match(/Votre identifiant de connexion est : (\S+)/)[1];
    const temporary = passwordMail.text.match(/utilisez le mot de passe provisoire suivant :\s+(\S+)/)[1];

    await step("13-next-step", async () => {
      await firstConnection(page, sesame, identifier, temporary, PERSONAL);
      assert.match(await page.textContent("main"), /Étape suivante : installer Therap-e autonome/);
      const first = await page.textContent(".etape-suivante li.installeur");
      assert.match(first, /Version Mac/, "the visitor's Mac first");
      assert.match(first, /le logiciel VLC Media Player doit également être installé sur votre poste/);
      await checkA11y(page, "Mes services e-santé, après la première connexion");
      await screenshots(page, "14-installer-apres-premiere-connexion");
    });
    await step("14-installer", async () => {
      await page.goto(sesame.base + "/services");
      assert.match(await page.textContent("li.service"), /Installer Therap-e autonome sur votre poste/);
      await checkA11y(page, "Mes services e-santé, avec l'application à installer");
      await screenshots(page, "15-mes-services-avec-installation");
      await page.goto(sesame.base + "/installer");
      assert.match(await page.textContent("h1"), /Installer Therap-e autonome sur votre poste/);
      assert.match(await page.textContent("main"), /votre service informatique/);
      await checkA11y(page, "Installer Therap-e autonome sur votre poste");
      await screenshots(page, "16-installer");
    });
    await step("17-aide", async () => {
      const anonymous = await newPage(browser);
      await anonymous.goto(sesame.base + "/");
      await anonymous.click("text=consultez l'aide");
      await anonymous.waitForURL("**/aide");
      for (const heading of ["Première connexion", "Changer mon mot de passe", "Mot de passe oublié", "Contacter le support"]) {
        assert.ok(await anonymous.isVisible(`h2:text-is("${heading}")`), heading);
      }
      assert.match(await anonymous.textContent("#support"), /02 50 53 70 01/);
      await checkA11y(anonymous, "Aide");
      await screenshots(anonymous, "17-aide");
      await anonymous.context().close();
    });
  } finally {
    await browser.close();
    sesame.stop();
  }
});
