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
