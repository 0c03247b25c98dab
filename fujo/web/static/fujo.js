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

  /* The registry's refusals as the clerk types: the form (as it stands) goes to the server's
     validation — the very checks saving makes, writing nothing — and each field shows its problem
     next to it. Only fields the clerk has touched or that hold a value are updated, so an untouched
     empty field does not say "required" yet; the check-digit hints above still come first. */
  document.querySelectorAll("form[data-live-validate]").forEach(function (form) {
    if (!window.fetch || !window.FormData) return;
    var url = form.getAttribute("data-live-validate");
    var token = form.querySelector("input[name=csrf_token]");
    var touched = {}, timer = null, sent = 0;
    var typing = function (el) {  /* a number still being typed: its own hint waits, so does the server's */
      var kind = el.getAttribute("data-check"), v = el.value.trim();
      return el === document.activeElement && kind && !problem(kind, v, false) && problem(kind, v, true);
    };
    var apply = function (errors) {
      form.querySelectorAll("input[name][id], select[name][id], textarea[name][id]").forEach(function (el) {
        if (el.type === "hidden" || !document.getElementById(el.id + "-error")) return;
        if (!touched[el.name] && el.value.trim() === "") return;
        if (typing(el)) return;
        var local = el.hasAttribute("data-check") ? problem(el.getAttribute("data-check"), el.value.trim(), true) : null;
        show(el, local || (errors[el.name] || []).join(" "));
      });
    };
    var run = function () {
      var mine = ++sent;
      fetch(url, {
        method: "POST",
        body: new FormData(form),
        credentials: "same-origin",
        headers: { "X-CSRF-Token": token ? token.value : "", "Accept": "application/json" }
      })
        .then(function (r) { return r.json(); })
        .then(function (j) {
          if (mine !== sent) return;
          apply(j.errors || {});
          var said = form.querySelector("[data-live-message]");  /* a refusal of the whole form (409 …) */
          if (said) said.textContent = j.message || "";
          Object.keys(j.readings || {}).forEach(function (name) {  /* 和暦 of each date as typed */
            var out = document.getElementById("f-" + name + "-reading");
            if (out) out.textContent = j.readings[name];
          });
        })
        .catch(function () { /* the server checks again on saving */ });
    };
    var later = function (ev, wait) {
      var el = ev.target;
      if (!el.name || el.type === "hidden") return;
      touched[el.name] = true;
      window.clearTimeout(timer);
      timer = window.setTimeout(run, wait);
    };
    form.addEventListener("input", function (ev) { later(ev, 400); });
    form.addEventListener("change", function (ev) { later(ev, 100); });
    form.addEventListener("focusout", function (ev) { later(ev, 50); });
  });

  /* Facility suggestions (combobox + listbox): part of a name, カナ or the first digits of a code
     → the registry's matches; ↑↓ choose, Enter takes one (its code goes into the code field, which
     then shows the registry's name and is validated), Esc closes. Hidden without JavaScript. */
  document.querySelectorAll("input[data-suggest-for]").forEach(function (search) {
    var target = document.getElementById(search.getAttribute("data-suggest-for"));
    var list = document.getElementById(search.getAttribute("aria-controls"));
    var box = search.closest("[data-suggest]");
    if (!target || !list || !window.fetch) return;
    if (box) box.hidden = false;
    var items = [], active = -1, timer = null, asked = 0;
    var close = function () {
      list.hidden = true; search.setAttribute("aria-expanded", "false");
      search.removeAttribute("aria-activedescendant"); active = -1;
    };
    var mark = function (i) {
      active = i;
      items.forEach(function (li, k) { li.setAttribute("aria-selected", k === i ? "true" : "false"); });
      if (i >= 0) { search.setAttribute("aria-activedescendant", items[i].id); items[i].scrollIntoView({ block: "nearest" }); }
      else search.removeAttribute("aria-activedescendant");
    };
    var choose = function (li) {
      target.value = li.getAttribute("data-code");
      search.value = li.getAttribute("data-name");
      close();
      target.dispatchEvent(new Event("input", { bubbles: true }));
      target.dispatchEvent(new Event("change", { bubbles: true }));
    };
    var fill = function (results) {
      list.textContent = ""; items = [];
      if (!results.length) {
        var none = document.createElement("li");
        none.className = "none"; none.setAttribute("aria-disabled", "true");
        none.textContent = "該当する医療機関はありません（登録簿にない場合は運用管理者に登録を依頼してください）。";
        list.appendChild(none);
      }
      results.forEach(function (f, k) {
        var li = document.createElement("li");
        li.id = list.id + "-" + k;
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", "false");
        li.setAttribute("data-code", f.code);
        li.setAttribute("data-name", f.name);
        li.textContent = f.name + "（" + f.kind + "）" + f.code;
        li.addEventListener("mousedown", function (ev) { ev.preventDefault(); choose(li); });
        list.appendChild(li); items.push(li);
      });
      list.hidden = false; search.setAttribute("aria-expanded", "true"); mark(-1);
    };
    var ask = function () {
      var q = search.value.trim(), mine = ++asked;
      if (!q) { close(); return; }
      fetch(search.getAttribute("data-suggest-url") + "?q=" + encodeURIComponent(q), { credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (j) { if (mine === asked && search.value.trim() === q) fill(j.results || []); })
        .catch(close);
    };
    search.addEventListener("input", function () { window.clearTimeout(timer); timer = window.setTimeout(ask, 200); });
    search.addEventListener("keydown", function (ev) {
      var open = !list.hidden && items.length;
      if (ev.key === "ArrowDown") { ev.preventDefault(); if (list.hidden) ask(); else if (open) mark((active + 1) % items.length); }
      else if (ev.key === "ArrowUp") { ev.preventDefault(); if (open) mark(active <= 0 ? items.length - 1 : active - 1); }
      else if (ev.key === "Enter") {  /* never submits the ticket form from here */
        ev.preventDefault();
        if (list.hidden) ask();
        else if (active >= 0) choose(items[active]);
        else if (items.length === 1) choose(items[0]);
      }
      else if (ev.key === "Escape") { if (!list.hidden) { ev.preventDefault(); close(); } }
    });
    search.addEventListener("blur", close);
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

  /* Date entries (R6.7.10, 令和6年7月10日, 2024-07-10; _forms.html date_input; data-date="month":
     a month, R6.7, 令和6年7月, 2024-07; "datetime": a date and an optional time, R6.1.1 16:10): the era selector is
     shown; the 和暦 reading and the era conversion come from the server's date reader (/dates/read),
     so the page has no second reader of dates. An entry typed without its era (6.7.10) is read in
     the chosen era and completed (R6.7.10) when the clerk leaves the field or sends the form; picking
     another era rewrites a typed date in it (西暦: 2024-07-10). Without JavaScript the selector stays
     hidden and the server reads what was typed. */
  document.querySelectorAll("input[data-date]").forEach(function (input) {
    var era = document.querySelector('select[data-era-for="' + input.id + '"]');
    var out = document.getElementById(input.id + "-reading");
    if (!window.fetch || !window.URLSearchParams) return;
    if (era) era.hidden = false;
    var asked = 0, timer = null, known = null;  /* known: the last answer, for the value it was about */
    var ask = function (mode) {
      var mine = ++asked, sent = input.value, body = new URLSearchParams();
      body.set("value", sent);
      body.set("era", era ? era.value : "");
      body.set("label", input.getAttribute("data-label") || "日付");
      if (input.getAttribute("data-date") !== "wareki") body.set("kind", input.getAttribute("data-date"));
      if (mode === "convert") body.set("convert", "true");
      fetch("/dates/read", { method: "POST", body: body, credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.json(); })
        .then(function (j) {
          if (mine !== asked || input.value !== sent) return;  /* the clerk has typed on */
          known = { value: sent, era: era ? era.value : "", answer: j };
          if (out) out.textContent = j.reading || "";
          if (mode && !j.error && j.entry) input.value = j.entry;
          if (mode || !j.error) show(input, j.error || "");
        })
        .catch(function () { /* the server reads the date again on saving */ });
    };
    input.addEventListener("input", function () { window.clearTimeout(timer); timer = window.setTimeout(function () { ask(null); }, 250); });
    input.addEventListener("change", function () { window.clearTimeout(timer); ask("complete"); });
    if (era) era.addEventListener("change", function () { window.clearTimeout(timer); ask("convert"); });
    if (input.form) input.form.addEventListener("submit", function () {
      /* sent before the field was left (Enter): complete 6.7.10 from the answer already at hand */
      if (known && known.value === input.value && (!era || known.era === era.value) && !known.answer.error && known.answer.entry)
        input.value = known.answer.entry;
    });
  });
})();
