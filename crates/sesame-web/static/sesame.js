// Optional: ticks the policy rules that can be judged in the browser while the user types.
// The server checks every rule again; without this script nothing is lost.
(function () {
  "use strict";
  var list = document.querySelector("[data-politique]");
  var input = document.getElementById("nouveau_mot_de_passe");
  if (!list || !input) { return; }
  function count(s) { return Array.from(s.normalize("NFKC")).length; }
  var min = 0;
  var minRule = list.querySelector('[data-regle="min_length"]');
  if (minRule) { var m = minRule.textContent.match(/(\d+)/); if (m) { min = parseInt(m[1], 10); } }
  var checks = {
    min_length: function (p) { return count(p) >= min; },
    max_length: function (p) { return count(p) <= 256; },
    lowercase: function (p) { return /[a-z]/.test(p); },
    uppercase: function (p) { return /[A-Z]/.test(p); },
    digit: function (p) { return /[0-9]/.test(p); },
    special: function (p) { return /[^A-Za-z0-9]/.test(p); }
  };
  input.addEventListener("input", function () {
    var p = input.value;
    Object.keys(checks).forEach(function (rule) {
      var li = list.querySelector('[data-regle="' + rule + '"]');
      if (!li) { return; }
      var ok = p.length > 0 && checks[rule](p);
      li.classList.toggle("regle-respectee", ok);
      li.classList.remove("regle-non-respectee");
    });
  });
}());

// Optional: the captcha's accessible alternative. Finds a nonce such that
// SHA-256(challenge ":" nonce) starts with the required zero bits, then fills the form.
(function () {
  "use strict";
  var box = document.querySelector("[data-pow]");
  if (!box || !window.crypto || !window.crypto.subtle || !window.TextEncoder) { return; }
  var button = box.querySelector("[data-pow-start]");
  var status = box.querySelector("[data-pow-status]");
  var nonceField = box.querySelector('input[name="pow_nonce"]');
  var challenge = box.getAttribute("data-pow");
  var bits = parseInt(box.getAttribute("data-pow-bits"), 10);
  var encoder = new TextEncoder();
  function zeros(buffer) {
    var bytes = new Uint8Array(buffer), n = 0;
    for (var i = 0; i < bytes.length; i++) {
      if (bytes[i] === 0) { n += 8; continue; }
      return n + Math.clz32(bytes[i]) - 24;
    }
    return n;
  }
  status.textContent = "Vous pouvez aussi laisser votre navigateur faire la vérification.";
  button.hidden = false;
  button.addEventListener("click", function () {
    button.disabled = true;
    status.textContent = "Vérification en cours…";
    var start = 0;
    function batch() {
      var tries = [];
      for (var n = start; n < start + 2000; n++) {
        tries.push(crypto.subtle.digest("SHA-256", encoder.encode(challenge + ":" + n)));
      }
      Promise.all(tries).then(function (hashes) {
        for (var i = 0; i < hashes.length; i++) {
          if (zeros(hashes[i]) >= bits) {
            nonceField.value = String(start + i);
            status.textContent = "Vérification réussie : vous pouvez valider le formulaire.";
            return;
          }
        }
        start += 2000;
        batch();
      });
    }
    batch();
  });
}());

// Security keys and passkeys (WebAuthn): the form's options come from the server, binary
// fields in base64url; the browser's answer goes back the same way in a hidden field. The
// server checks everything; this only carries bytes between it and the authenticator.
(function () {
  "use strict";
  var form = document.querySelector("[data-webauthn]");
  if (!form) { return; }
  var mode = form.getAttribute("data-webauthn");
  var status = form.querySelector("[data-webauthn-status]");
  var button = form.querySelector("[data-webauthn-start]");
  var answer = form.querySelector("[data-webauthn-answer]");
  if (!window.PublicKeyCredential || !navigator.credentials) {
    status.textContent = "Ce navigateur ne permet pas d'utiliser une clé de sécurité : utilisez un navigateur récent (Firefox, Chrome, Edge ou Safari).";
    return;
  }
  function toBytes(s) {
    var b = atob(s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4));
    var bytes = new Uint8Array(b.length);
    for (var i = 0; i < b.length; i++) { bytes[i] = b.charCodeAt(i); }
    return bytes.buffer;
  }
  function toText(buffer) {
    var bytes = new Uint8Array(buffer), s = "";
    for (var i = 0; i < bytes.length; i++) { s += String.fromCharCode(bytes[i]); }
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function listed(list) {
    return (list || []).map(function (c) { return Object.assign({}, c, { id: toBytes(c.id) }); });
  }
  function options() {
    var o = JSON.parse(form.getAttribute("data-webauthn-options")).publicKey;
    o.challenge = toBytes(o.challenge);
    if (o.user) { o.user = Object.assign({}, o.user, { id: toBytes(o.user.id) }); }
    if (o.excludeCredentials) { o.excludeCredentials = listed(o.excludeCredentials); }
    if (o.allowCredentials) { o.allowCredentials = listed(o.allowCredentials); }
    return o;
  }
  function extensions(credential) {
    var results = credential.getClientExtensionResults ? credential.getClientExtensionResults() : {};
    return results.credProps ? { credProps: results.credProps } : {};
  }
  function serialise(credential) {
    var r = credential.response, response = { clientDataJSON: toText(r.clientDataJSON) };
    if (mode === "create") {
      response.attestationObject = toText(r.attestationObject);
      if (r.getTransports) { response.transports = r.getTransports(); }
    } else {
      response.authenticatorData = toText(r.authenticatorData);
      response.signature = toText(r.signature);
      response.userHandle = r.userHandle ? toText(r.userHandle) : null;
    }
    return JSON.stringify({
      id: credential.id, rawId: toText(credential.rawId), type: credential.type,
      response: response, extensions: extensions(credential)
    });
  }
  function failed(error) {
    button.disabled = false;
    if (window.console) { console.warn("WebAuthn: " + (error && error.name) + ": " + (error && error.message)); }
    if (error && error.name === "InvalidStateError") {
      status.textContent = "Cette clé est déjà enregistrée sur votre compte : utilisez-en une autre.";
    } else if (error && error.name === "NotAllowedError") {
      status.textContent = "La clé n'a pas répondu, ou l'opération a été annulée. Réessayez.";
    } else {
      status.textContent = "Le navigateur n'a pas pu utiliser la clé de sécurité. Réessayez, ou utilisez un autre moyen.";
    }
  }
  button.hidden = false;
  button.addEventListener("click", function () {
    button.disabled = true;
    status.textContent = "Touchez votre clé de sécurité, ou suivez les instructions de votre appareil…";
    var ask = mode === "create"
      ? navigator.credentials.create({ publicKey: options() })
      : navigator.credentials.get({ publicKey: options() });
    ask.then(function (credential) {
      answer.value = serialise(credential);
      status.textContent = "Vérification…";
      form.submit();
    }, failed);
  });
}());
