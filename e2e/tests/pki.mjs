// A throw-away certification authority made with the OpenSSL command line (not with our own
// code): the server certificate Sésame serves HTTPS with, and a health-professional card
// (the client certificate of "Authentification par certificat client").
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Agent, fetch as undiciFetch } from "undici";

function openssl(dir, args) {
  const r = spawnSync("openssl", args, { cwd: dir, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`openssl ${args.join(" ")}: ${r.stderr}`);
}

/** Signs `name`.pem (key `name`-key.pem) for `subject` with the extensions in `ext`. */
function issue(dir, name, subject, ext) {
  writeFileSync(join(dir, `${name}.ext`), ext);
  openssl(dir, ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", `${name}-key.pem`, "-out", `${name}.csr`, "-subj", subject]);
  openssl(dir, ["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial", "-days", "2", "-out", `${name}.pem`, "-extfile", `${name}.ext`]);
}

/** The authority, a server certificate for localhost and 127.0.0.1, and Jeanne Dupont's card
 * carrying her RPPS number in its common name. `fetch` trusts the authority. */
export function testAuthority(rpps) {
  const dir = mkdtempSync(join(tmpdir(), "sesame-e2e-pki-"));
  openssl(dir, [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca-key.pem", "-out", "ca.pem", "-days", "2",
    "-subj", "/O=Sesame e2e/CN=Autorite de test", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  issue(dir, "server", "/CN=localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n");
  issue(dir, "card", `/O=Sesame e2e/CN=Jeanne Dupont 8${rpps}`, "extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n");
  const ca = readFileSync(join(dir, "ca.pem"), "utf8");
  const dispatcher = new Agent({ connect: { ca } });
  return {
    dir,
    ca: join(dir, "ca.pem"),
    server: { cert: join(dir, "server.pem"), key: join(dir, "server-key.pem") },
    card: { certPath: join(dir, "card.pem"), keyPath: join(dir, "card-key.pem") },
    fetch: (url, options = {}) => undiciFetch(url, { ...options, dispatcher }),
  };
}
