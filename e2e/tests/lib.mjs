// Helpers for the browser tests: a real `sesame` release binary on a fresh SQLite database,
// e-mails read from its outbox folder, Debian's Chromium driven by playwright-core, axe-core.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
export const root = join(here, "..", "..");
export const sesameBin = process.env.SESAME_BIN ? resolve(process.env.SESAME_BIN) : join(root, "target", "release", "sesame");
const chromiumPath = process.env.CHROMIUM ?? "/usr/bin/chromium";
const axePath = join(here, "..", "node_modules", "axe-core", "axe.min.js");
export const screenshotDir = join(root, "docs", "screenshots");
const artefactDir = join(root, "e2e", "artefacts");

const BRANDING = {
  SESAME_BRANDING__PORTAL_NAME: "Norm'uni",
  SESAME_BRANDING__ORGANISATION_NAME: "Normand'e-santé",
  SESAME_BRANDING__SUPPORT_EMAIL: "support@normand-esante.fr",
  SESAME_BRANDING__SUPPORT_PHONE: "02 50 53 70 01",
};

async function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

// Servers still running when a test file's process ends (a test that failed before its
// `finally`) are stopped with it instead of keeping it alive.
const children = new Set();
process.on("exit", () => children.forEach((c) => c.kill("SIGKILL")));

/** Starts `sesame serve` in a fresh folder. `host` names the public address: security keys
 * need a domain name (WebAuthn refuses an IP address), and `localhost` is the one allowed on http.
 * `tls` ({ cert, key, clientCa?, fetch }) serves Sésame's own HTTPS; `fetch` must trust its authority. */
export async function startSesame({ captcha = false, config = null, host = "127.0.0.1", tls = null } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "sesame-e2e-"));
  if (config) writeFileSync(join(dir, "sesame.toml"), config);
  const port = await freePort();
  const base = `${tls ? "https" : "http"}://${host}:${port}`;
  const tlsEnv = tls
    ? {
        SESAME_TLS__CERT_FILE: tls.cert,
        SESAME_TLS__KEY_FILE: tls.key,
        ...(tls.clientCa ? { SESAME_TLS__CLIENT_CA_FILE: tls.clientCa } : {}),
      }
    : {};
  const probe = tls ? tls.fetch : fetch;
  const env = {
    ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("SESAME_"))),
    ...BRANDING,
    SESAME_LISTEN: `127.0.0.1:${port}`,
    SESAME_PUBLIC_URL: base,
    SESAME_CAPTCHA__ENABLED: String(captcha),
    SESAME_MAIL__POLL_INTERVAL_SECS: "1",
    ...tlsEnv,
    ...(config ? { SESAME_CONFIG: "sesame.toml" } : {}),
  };
  const run = (args) => {
    const r = spawnSync(sesameBin, args, { cwd: dir, env, encoding: "utf8" });
    assert.equal(r.status, 0, `sesame ${args.join(" ")}: ${r.stderr}`);
    return r.stdout;
  };
  const child = spawn(sesameBin, ["serve"], { cwd: dir, env, stdio: ["ignore", "ignore", "pipe"] });
  children.add(child);
  child.stderr.unref();
  child.unref();
  child.on("exit", () => children.delete(child));
  let log = "";
  child.stderr.on("data", (d) => (log += d));
  for (let i = 0; i < 100; i++) {
    try {
      if ((await probe(`${tls ? "https" : "http"}://127.0.0.1:${port}/healthz`)).ok) break;
    } catch {}
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    base,
    dir,
    run,
    log: () => log,
    stop: () => child.kill("SIGTERM"),
  };
}

// --- E-mails ------------------------------------------------------------------------------

/** RFC 2047: whitespace between two encoded words is not part of the text; elsewhere it is. */
function decodeWords(header) {
  return header.replace(/(\?=)\s+(?==\?utf-8\?)/gi, "$1").replace(/=\?utf-8\?([bq])\?([^?]*)\?=/gi, (_, enc, text) =>
    enc.toLowerCase() === "b"
      ? Buffer.from(text, "base64").toString("utf8")
      : Buffer.from(text.replace(/_/g, " ").replace(/=([0-9A-F]{2})/gi, (_, h) => String.fromCharCode(parseInt(h, 16))), "latin1").toString("utf8"),
  );
}

function decodeBody(body, encoding) {
  if (/base64/i.test(encoding)) return Buffer.from(body.replace(/\s+/g, ""), "base64").toString("utf8");
  if (/quoted-printable/i.test(encoding)) {
    const bytes = body.replace(/=\r?\n/g, "").replace(/=([0-9A-F]{2})/gi, (_, h) => String.fromCharCode(parseInt(h, 16)));
    return Buffer.from(bytes, "latin1").toString("utf8");
  }
  return body;
}

/** The e-mails written so far: { file, subject, text }, oldest first. */
export function outbox(sesame) {
  const folder = join(sesame.dir, "data", "outbox");
  let files = [];
  try {
    files = readdirSync(folder).filter((f) => f.endsWith(".eml")).sort();
  } catch {}
  return files.map((file) => {
    const raw = readFileSync(join(folder, file), "utf8");
    const subject = decodeWords((raw.match(/^Subject: (.*(?:\r?\n[ \t].*)*)/m) ?? ["", ""])[1].replace(/\r?\n(?=[ \t])/g, ""));
    const plain = raw.split(/Content-Type: text\/plain/i)[1] ?? "";
    const [head, ...rest] = plain.split(/\r?\n\r?\n/);
    const body = rest.join("\n\n").split(/\r?\n--/)[0];
    const encoding = (head.match(/Content-Transfer-Encoding: (\S+)/i) ?? ["", ""])[1];
    return { file, subject, text: decodeBody(body, encoding) };
  });
}

export async function waitForMail(sesame, kind, count = 1) {
  for (let i = 0; i < 100; i++) {
    const found = outbox(sesame).filter((m) => m.file.includes(kind));
    if (found.length >= count) return found[found.length - 1];
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no ${kind} e-mail in the outbox`);
}

// --- Browser ------------------------------------------------------------------------------

export async function launch() {
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

/** A context: a browser profile. `bypassCSP` lets axe's script in; the pages' CSP is checked elsewhere. */
export async function newPage(browser, { width = 1280, height = 800, userAgent = undefined } = {}) {
  const context = await browser.newContext({ viewport: { width, height }, bypassCSP: true, locale: "fr-FR", userAgent });
  return context.newPage();
}

const axeSummary = { pages: 0, rules: new Set(), violations: 0 };

/** Runs axe-core's WCAG 2.1 A and AA rules on the page; fails on any violation. */
export async function checkA11y(page, label) {
  await page.addScriptTag({ path: axePath });
  const result = await page.evaluate(() =>
    // eslint-disable-next-line no-undef
    axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } }),
  );
  axeSummary.pages += 1;
  for (const r of [...result.passes, ...result.violations, ...result.incomplete, ...result.inapplicable]) axeSummary.rules.add(r.id);
  axeSummary.violations += result.violations.length;
  const problems = result.violations.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
  console.log(`axe ${label}: ${result.passes.length} rules passed, ${result.violations.length} violations`);
  assert.deepEqual(problems, [], `accessibility violations on ${label}`);
}

export function printAxeSummary() {
  console.log(`axe summary: ${axeSummary.rules.size} WCAG 2.1 A/AA rules checked on ${axeSummary.pages} pages and states, ${axeSummary.violations} violations`);
}

/** No horizontal scrolling at the current width. */
export async function checkNoHorizontalScroll(page, label) {
  const [scroll, width] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
  assert.ok(scroll <= width, `${label}: page is ${scroll}px wide in a ${width}px window`);
}

/** Desktop and phone screenshots of the current page into docs/screenshots/. */
export async function screenshots(page, name) {
  mkdirSync(screenshotDir, { recursive: true });
  const viewport = page.viewportSize();
  await page.screenshot({ path: join(screenshotDir, `${name}-desktop.png`), fullPage: true });
  await page.setViewportSize({ width: 360, height: 800 });
  await checkNoHorizontalScroll(page, `${name} at 360 px`);
  await page.screenshot({ path: join(screenshotDir, `${name}-phone.png`), fullPage: true });
  await page.setViewportSize({ width: 640, height: 400 }); // 1280×800 at 200 % zoom
  await checkNoHorizontalScroll(page, `${name} at 200 % zoom`);
  await page.setViewportSize(viewport);
}

/** On failure: the page's screenshot and HTML, kept and printed to the log. */
export async function keepArtefacts(page, label) {
  try {
    mkdirSync(artefactDir, { recursive: true });
    const png = join(artefactDir, `${label}.png`);
    await page.screenshot({ path: png, fullPage: true });
    // Without script bodies (axe's injected source would drown the log).
    const html = (await page.content()).replace(/<script\b[^>]*>[\s\S]*?<\/script>/g, "<script>…</script>");
    writeFileSync(join(artefactDir, `${label}.html`), html);
    console.log(`--- artefact: ${png} (screenshot), page ${page.url()} ---\n${html}\n--- end of artefact ---`);
  } catch (e) {
    console.log(`could not keep artefacts: ${e}`);
  }
}

/** The guide's first connection: the temporary password, then a personal one; ends on "Mes
 * services". With `toService`, it starts on the sign-in page a service sent the browser to, and
 * the page goes on towards the service. */
export async function firstConnection(page, sesame, identifier, temporary, personal, { toService = false } = {}) {
  if (!toService) await page.goto(sesame.base + "/");
  await page.fill("#identifiant", identifier);
  await page.fill("#mot_de_passe", temporary);
  await page.click("button[type=submit]");
  await page.waitForURL("**/premiere-connexion");
  await page.fill("#nouveau_mot_de_passe", personal);
  await page.fill("#confirmation", personal);
  await page.click("form.carte button[type=submit]");
  if (!toService) await page.waitForURL("**/services?confirmation=premiere-connexion");
}

/** A named step of a test: on failure, the page's screenshot and HTML and the server's log. */
export function stepper(page, sesame) {
  return async (label, fn) => {
    try {
      await fn();
    } catch (e) {
      await keepArtefacts(page, label);
      console.log(sesame.log());
      throw e;
    }
  };
}
