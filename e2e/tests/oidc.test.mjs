// OpenID Connect with relying parties we did not write: npm `openid-client` (OpenID-certified)
// drives Sésame's own HTTPS, served with a certificate of a throw-away authority made by the
// OpenSSL command line, while Chromium signs the professional in on Sésame's pages with the real
// Content-Security-Policy (no bypass): the guide's first connection on the way to a service, the
// consent page, a second step asked by a service, the health-professional card, sign-out from
// the service. The library checks discovery, the issuer, `iss` in the answer (RFC 9207), state,
// PKCE, the ID token's signature against the JWKS, nonce and the userinfo subject.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import * as oidc from "openid-client";
import * as OTPAuth from "otpauth";
import { startSesame, outbox, launch, stepper, firstConnection } from "./lib.mjs";
import { testAuthority } from "./pki.mjs";

const RPPS = "10003456786";
const PERSONAL = "la mer du nord est froide";
const pki = testAuthority(RPPS);
const CONFIG = `
[client_certificate]
enabled = true
`;

/** The relying party's web side: its callback and its page after sign-out, on a loopback port. */
async function relyingParty() {
  const server = createServer((req, res) => {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end(`<!doctype html><html lang="fr"><title>Téléconsultation</title><p>${req.url.startsWith("/cb") ? "Retour de Sésame" : "Déconnecté"}</p></html>`);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const base = `http://127.0.0.1:${server.address().port}`;
  return { base, close: () => server.close() };
}

/** A browser profile trusting nobody but presenting Jeanne's card to Sésame when `card`. */
async function profile(browser, sesame, { card = false } = {}) {
  const context = await browser.newContext({
    viewport: { width: 1280, height: 800 },
    locale: "fr-FR",
    ignoreHTTPSErrors: true, // Chromium does not know the test authority; openid-client does.
    clientCertificates: card ? [{ origin: sesame.base, ...pki.card }] : [],
  });
  return context.newPage();
}

/** An authorization request as openid-client builds it, and what it must check on return. */
async function authorization(config, redirectUri, scope, extra = {}) {
  const pkceCodeVerifier = oidc.randomPKCECodeVerifier();
  const expectedState = oidc.randomState();
  const expectedNonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope,
    state: expectedState,
    nonce: expectedNonce,
    code_challenge: await oidc.calculatePKCECodeChallenge(pkceCodeVerifier),
    code_challenge_method: "S256",
    ...extra,
  });
  return { url, checks: { pkceCodeVerifier, expectedState, expectedNonce, idTokenExpected: true } };
}

function register(sesame, args) {
  return JSON.parse(sesame.run(["client", "create", ...args, "--json"]));
}

async function start() {
  const sesame = await startSesame({ captcha: false, config: CONFIG, tls: { ...pki.server, clientCa: pki.ca, fetch: pki.fetch } });
  sesame.run(["account", "create", "--email", "jeanne.dupont@example.fr", "--first-name", "Jeanne", "--last-name", "Dupont", "--national-id", RPPS]);
  const temporary = outbox(sesame)[1].text.match(/utilisez le mot de passe provisoire suivant :\s+(\S+)/)[1];
  return { sesame, temporary };
}

test("a service signs Jeanne in with openid-client: first connection, consent, userinfo, refresh, sign-out", async () => {
  const { sesame, temporary } = await start();
  const rp = await relyingParty();
  const browser = await launch();
  const page = await profile(browser, sesame);
  const step = stepper(page, sesame);
  try {
    const { client_id, client_secret } = register(sesame, [
      "--name", "Téléconsultation", "--redirect-uri", `${rp.base}/cb`, "--post-logout-redirect-uri", `${rp.base}/au-revoir`,
    ]);
    const config = await oidc.discovery(new URL(sesame.base), client_id, client_secret, oidc.ClientSecretBasic(), { [oidc.customFetch]: pki.fetch });
    assert.equal(config.serverMetadata().issuer, sesame.base);
    const { url, checks } = await authorization(config, `${rp.base}/cb`, "openid profile email sante");
    let tokens;
    await step("60-oidc-first-connection", async () => {
      await page.goto(url.href);
      await page.waitForURL(`${sesame.base}/connexion?pour=service`);
      // The guide's first connection, then back towards the service: its consent page.
      await firstConnection(page, sesame, "jdupont", temporary, PERSONAL, { toService: true });
      await page.waitForURL("**/oidc/authorize**");
      const consent = await page.textContent("main");
      assert.match(consent, /Téléconsultation/);
      assert.match(consent, /identifiant national/i);
      await page.click("button[value=accepter]");
      await page.waitForURL(`${rp.base}/cb?**`);
    });
    await step("61-oidc-tokens", async () => {
      tokens = await oidc.authorizationCodeGrant(config, new URL(page.url()), checks);
      const claims = tokens.claims();
      assert.equal(claims.iss, sesame.base);
      assert.equal(claims.aud, client_id);
      assert.equal(claims.preferred_username, "jdupont");
      assert.equal(claims.idnat_ps, `8${RPPS}`);
      assert.deepEqual(claims.amr, ["pwd"]);
      assert.ok(claims.sid && claims.auth_time, "sid and auth_time");
      const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
      assert.equal(userinfo.email, "jeanne.dupont@example.fr");
      assert.equal(userinfo.family_name, "Dupont");
      const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token);
      assert.notEqual(refreshed.refresh_token, tokens.refresh_token, "rotated");
      assert.equal(refreshed.claims().sub, claims.sub);
      await assert.rejects(oidc.refreshTokenGrant(config, tokens.refresh_token), (e) => e.error === "invalid_grant", "reuse refused");
      // The reuse ended the family: the refreshed tokens are dead too.
      assert.equal((await oidc.tokenIntrospection(config, refreshed.access_token)).active, false);
    });
    await step("62-oidc-sign-out", async () => {
      const second = await authorization(config, `${rp.base}/cb`, "openid");
      await page.goto(second.url.href); // signed in and consented: straight back
      await page.waitForURL(`${rp.base}/cb?**`);
      tokens = await oidc.authorizationCodeGrant(config, new URL(page.url()), second.checks);
      const end = oidc.buildEndSessionUrl(config, { id_token_hint: tokens.id_token, post_logout_redirect_uri: `${rp.base}/au-revoir`, state: "fin" });
      await page.goto(end.href);
      await page.waitForURL(`${rp.base}/au-revoir?state=fin`);
      assert.equal((await oidc.tokenIntrospection(config, tokens.access_token)).active, false, "signing out revoked the tokens");
      await page.goto(`${sesame.base}/services`);
      await page.waitForURL(`${sesame.base}/`);
    });
  } finally {
    await browser.close();
    rp.close();
    sesame.stop();
  }
});

test("a desktop application asking for two factors gets them; the card signs in for it", async () => {
  const { sesame, temporary } = await start();
  const rp = await relyingParty();
  const browser = await launch();
  const page = await profile(browser, sesame);
  const step = stepper(page, sesame);
  try {
    // A public client (a desktop application): loopback redirect on any port (RFC 8252), PKCE.
    // Its ID tokens are signed ES256 (the others' RS256), as its metadata tells the library.
    const { client_id } = register(sesame, [
      "--name", "Therap-e", "--redirect-uri", "http://127.0.0.1/cb", "--public", "--first-party", "--require-second-factor", "--id-token-alg", "ES256",
    ]);
    const config = await oidc.discovery(new URL(sesame.base), client_id, { id_token_signed_response_alg: "ES256" }, oidc.None(), { [oidc.customFetch]: pki.fetch });
    let totp;
    await step("63-oidc-enrol", async () => {
      await firstConnection(page, sesame, "jdupont", temporary, PERSONAL);
      await page.goto(`${sesame.base}/mon-compte/second-facteur/application`);
      await page.fill("#mot_de_passe", PERSONAL);
      await page.fill("#nom", "Téléphone");
      await page.click("main form button[type=submit]");
      await page.waitForURL(/\/mon-compte\/second-facteur\/application\/\d+$/);
      await page.click("summary");
      totp = OTPAuth.URI.parse((await page.textContent("details code")).trim());
      await page.fill("#code", totp.generate({ timestamp: Date.now() - 30000 }));
      await page.click("main form button[type=submit]");
      await page.waitForSelector("ol.codes-secours");
    });
    await step("64-oidc-step-up", async () => {
      const { url, checks } = await authorization(config, `${rp.base}/cb`, "openid profile");
      await page.goto(url.href);
      // The session has only a password: the second step alone (a step-up), then back.
      await page.waitForURL(`${sesame.base}/connexion/second-facteur`);
      await page.fill("#code", totp.generate());
      await page.click("main form button[type=submit]");
      await page.waitForURL(`${rp.base}/cb?**`);
      const tokens = await oidc.authorizationCodeGrant(config, new URL(page.url()), checks);
      const claims = tokens.claims();
      assert.deepEqual(claims.amr, ["pwd", "otp", "mfa"]);
      assert.equal(JSON.parse(Buffer.from(tokens.id_token.split(".")[0], "base64url")).alg, "ES256");
      assert.equal(claims.acr, "urn:sesame:acr:2fa");
    });
    const card = await profile(browser, sesame, { card: true });
    await step("65-oidc-card", async () => {
      const { url, checks } = await authorization(config, `${rp.base}/cb`, "openid sante");
      await card.goto(url.href);
      await card.waitForURL(`${sesame.base}/connexion?pour=service`);
      await card.click("text=Se connecter avec un certificat");
      await card.waitForURL(`${rp.base}/cb?**`);
      const tokens = await oidc.authorizationCodeGrant(config, new URL(card.url()), checks);
      const claims = tokens.claims();
      assert.deepEqual(claims.amr, ["hwk", "sc", "pin", "mfa"]);
      assert.equal(claims.idnat_ps, `8${RPPS}`);
    });
  } finally {
    await browser.close();
    rp.close();
    sesame.stop();
  }
});
