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
