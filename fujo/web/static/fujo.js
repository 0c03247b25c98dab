/* fujo screens: small progressive enhancements. Everything works without this file; the server
   validates every input again. No inline script (CSP script-src 'self'). */
(function () {
  "use strict";

  /* 検証番号 (modulus 10, weights 2,1,2,1… from the rightmost digit of the body) — the same rule
     as fujo.core.numbers.check_digit. */
  function checkDigit(body) {
    var total = 0;
    for (var i = 0; i < body.length; i++) {
      var d = body.charCodeAt(body.length - 1 - i) - 48;
      var p = d * (i % 2 === 0 ? 2 : 1);
      total += Math.floor(p / 10) + (p % 10);
    }
    return (10 - (total % 10)) % 10;
  }

  var PREF = function (s) { var n = parseInt(s, 10); return n >= 1 && n <= 47; };

  var RULES = {
    payer: { label: "公費負担者番号", len: 8, extra: function (v) {
      if (v.slice(0, 2) !== "12") return "公費負担者番号の法別番号は12（生活保護）でなければなりません（入力は" + v.slice(0, 2) + "）。";
      if (!PREF(v.slice(2, 4))) return "公費負担者番号の都道府県番号" + v.slice(2, 4) + "は存在しません。";
      return null; } },
    recipient: { label: "受給者番号", len: 7 },
    facility: { label: "医療機関コード", len: 10, extra: function (v) {
      if (!PREF(v.slice(0, 2))) return "医療機関コードの都道府県番号" + v.slice(0, 2) + "は存在しません。";
      if ("1346".indexOf(v.charAt(2)) < 0) return "医療機関コードの点数表番号は1（医科）・3（歯科）・4（調剤）・6（訪問看護）のいずれかです。";
      return null; } },
    insurer: { label: "保険者番号", len: 8 }
  };

  function problem(kind, v, final) {
    var r = RULES[kind];
    if (!r) return null;
    if (v === "") return null;  /* "required" is the server's to say */
    if (!/^[0-9]+$/.test(v)) return r.label + "は半角数字で入力してください。";
    var len = kind === "insurer" && v.length <= 6 ? 6 : r.len;
    if (v.length !== len) return final || v.length > len ? r.label + "は" + len + "桁です（入力は" + v.length + "桁）。" : null;
    var e = r.extra ? r.extra(v) : null;
    if (e) return e;
    if (checkDigit(v.slice(0, -1)) !== parseInt(v.slice(-1), 10)) return r.label + "の検証番号が正しくありません。";
    return null;
  }

  function show(input, msg) {
    var out = document.getElementById(input.id + "-error");
    var box = input.closest(".field");
    if (out) out.textContent = msg || "";
    if (msg) { input.setAttribute("aria-invalid", "true"); if (box) box.classList.add("has-error"); }
    else { input.removeAttribute("aria-invalid"); if (box) box.classList.remove("has-error"); }
  }

  function validate(input, final) {
    var msg = problem(input.getAttribute("data-check"), input.value.trim(), final);
    show(input, msg);
    return !msg;
  }

  document.querySelectorAll("input[data-check]").forEach(function (input) {
    input.addEventListener("input", function () { validate(input, false); });
    input.addEventListener("blur", function () { validate(input, true); });
  });

  document.querySelectorAll("form[data-validate]").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      var first = null;
      form.querySelectorAll("input[data-check]").forEach(function (input) {
        if (!validate(input, true) && !first) first = input;
      });
      if (first) { ev.preventDefault(); first.focus(); }
    });
  });

  /* 指定医療機関名 / 処方箋発行医療機関名: never typed — the facility registry's name, looked up as the
     clerk types the code (the server takes the name from the registry again when saving). */
  document.querySelectorAll("output[data-lookup-for]").forEach(function (out) {
    var input = document.getElementById(out.getAttribute("data-lookup-for"));
    if (!input || !window.fetch) return;
    var blank = "（医療機関コードから表示）";
    var lookup = function () {
      var v = input.value.trim();
      if (v.length !== 10 || problem("facility", v, true)) { out.textContent = blank; return; }
      fetch("/office/facilities/" + encodeURIComponent(v), { credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (j) { if (input.value.trim() === v) out.textContent = j.found ? j.name + "（" + j.kind + "）" : j.message; })
        .catch(function () { out.textContent = blank; });
    };
    input.addEventListener("input", lookup);
    if (input.value.trim()) lookup();
  });

  /* Error summary gets the focus, so keyboard and screen-reader users land on it. */
  var summary = document.getElementById("error-summary");
  if (summary) summary.focus();

  /* Sortable tables: header buttons sort by each cell's data-sort (or its text). */
  document.querySelectorAll("table.sortable").forEach(function (table) {
    table.querySelectorAll("thead th button").forEach(function (btn) {
      btn.addEventListener("click", function () {
        var col = parseInt(btn.getAttribute("data-col"), 10);
        var th = btn.parentNode;
        var asc = th.getAttribute("aria-sort") !== "ascending";
        table.querySelectorAll("thead th").forEach(function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", asc ? "ascending" : "descending");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        var key = function (tr) { var c = tr.cells[col]; return c.hasAttribute("data-sort") ? c.getAttribute("data-sort") : c.textContent.trim(); };
        rows.sort(function (a, b) {
          var x = key(a), y = key(b);
          var r = x < y ? -1 : x > y ? 1 : 0;
          return asc ? r : -r;
        });
        rows.forEach(function (tr) { body.appendChild(tr); });
      });
    });
  });

  /* Confirmation before irreversible actions (取消, 失効). */
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      if (!window.confirm(form.getAttribute("data-confirm"))) ev.preventDefault();
    });
  });

  /* CSV import with a progress bar: upload with XHR (upload progress), then poll the job for the
     server-side progress; when done, go to the server-rendered report. */
  var imp = document.getElementById("import-form");
  if (imp && window.XMLHttpRequest && window.FormData) {
    imp.addEventListener("submit", function (ev) {
      var file = imp.querySelector("input[type=file]");
      if (!file || !file.files.length) return;  /* let the server say what is missing */
      ev.preventDefault();
      var box = document.getElementById("import-progress");
      var bar = box.querySelector("progress");
      var text = box.querySelector(".progress-text");
      box.hidden = false;
      imp.querySelector("button[type=submit]").disabled = true;
      var xhr = new XMLHttpRequest();
      xhr.open("POST", imp.getAttribute("data-job-url"));
      xhr.setRequestHeader("X-CSRF-Token", imp.querySelector("input[name=csrf_token]").value);
      xhr.upload.onprogress = function (e) {
        if (e.lengthComputable) { bar.max = e.total; bar.value = e.loaded; text.textContent = "送信中… " + Math.round(100 * e.loaded / e.total) + "%"; }
      };
      xhr.onload = function () {
        if (xhr.status !== 202) { window.location.reload(); return; }
        var job = JSON.parse(xhr.responseText);
        var poll = function () {
          var q = new XMLHttpRequest();
          q.open("GET", job.status_url);
          q.onload = function () {
            var s = JSON.parse(q.responseText);
            if (s.total) { bar.max = s.total; bar.value = s.done; text.textContent = s.phase + " " + s.done + " / " + s.total + "行"; }
            else { bar.removeAttribute("value"); text.textContent = s.phase; }
            if (s.finished) { window.location.assign(job.report_url); }
            else { window.setTimeout(poll, 300); }
          };
          q.send();
        };
        poll();
      };
      xhr.send(new FormData(imp));
    });
  }
})();
