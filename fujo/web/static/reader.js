/* The card reader on the desk (`fujo reader`, 127.0.0.1:8766 by default), driven from the desk's card
   check and the portal's sign-in. The page asks the server for a one-time challenge, has the reader
   sign it with the card chosen and the PIN typed here, and posts only the reader's answer
   (challenge, certificate, signature, consent bits) to the server: the PIN field has no name and is
   never part of the form, and the card file never leaves the reader. No inline script (CSP). */
(function () {
  "use strict";

  var form = document.getElementById("reader-form");
  if (!form) return;
  var READER = (form.getAttribute("data-reader-url") || "").replace(/\/+$/, "");
  var NOT_RUNNING = "カードリーダーに接続できません（fujo reader を起動してください）";
  var select = form.querySelector("[data-reader-cards]");
  var pin = form.querySelector("[data-reader-pin]");
  var status = document.getElementById("reader-status");
  var button = form.querySelector("button[type=submit]");
  var consents = form.querySelectorAll("input[data-consent]");
  var until = document.getElementById("consent-until");

  function say(msg) {
    status.textContent = msg || "";
    status.hidden = !msg;
  }

  function fieldError(input, msg) {
    var out = document.getElementById(input.id + "-error");
    var box = input.closest(".field");
    if (out) out.textContent = msg || "";
    if (msg) { input.setAttribute("aria-invalid", "true"); if (box) box.classList.add("has-error"); }
    else { input.removeAttribute("aria-invalid"); if (box) box.classList.remove("has-error"); }
  }

  function option(value, text) {
    var o = document.createElement("option");
    o.value = value;
    o.textContent = text;
    return o;
  }

  function loadCards(keep) {
    return fetch(READER + "/cards", { cache: "no-store" })
      .then(function (r) { if (!r.ok) throw new Error("reader"); return r.json(); })
      .then(function (j) {
        var chosen = keep || select.value;
        select.textContent = "";
        select.appendChild(option("", j.cards.length ? "（カードを選んでください）" : "（カードリーダーにカードがありません）"));
        j.cards.forEach(function (c) {
          var text = c.card + (c.holder ? "　" + c.holder : "") + (c.serial ? "（シリアル " + c.serial + "）" : "");
          text += c.locked ? "　ロック中" : (c.remaining < j.max_tries ? "　暗証番号あと" + c.remaining + "回" : "");
          var o = option(c.card, text);
          if (c.locked) o.setAttribute("data-locked", "1");
          select.appendChild(o);
        });
        if (chosen) select.value = chosen;
        if (status.getAttribute("data-kind") === "offline") { say(""); status.removeAttribute("data-kind"); }
        return true;
      })
      .catch(function () {
        select.textContent = "";
        select.appendChild(option("", "（カードリーダーに接続できません）"));
        say(NOT_RUNNING);
        status.setAttribute("data-kind", "offline");
        return false;
      });
  }

  /* 同意の有効期限: 24 hours from now, in JST (the reader's consent lasts a day, as AvailableTime). */
  function showUntil() {
    if (!until) return;
    var any = Array.prototype.some.call(consents, function (c) { return c.checked; });
    if (!any) { until.hidden = true; until.textContent = ""; return; }
    var t = new Date(Date.now() + 24 * 3600 * 1000 + 9 * 3600 * 1000);  /* JST as UTC fields */
    var two = function (n) { return (n < 10 ? "0" : "") + n; };
    /* 和暦 as the server shows it: a day from now is in 令和 (元年 = 2019) until the next era is named */
    var year = t.getUTCFullYear() - 2018;
    until.textContent = "同意の有効期限: 令和" + (year === 1 ? "元" : year) + "年" + (t.getUTCMonth() + 1) + "月" + t.getUTCDate() +
      "日 " + two(t.getUTCHours()) + ":" + two(t.getUTCMinutes()) + " まで（24時間）";
    until.hidden = false;
  }
  consents.forEach(function (c) { c.addEventListener("change", showUntil); });
  showUntil();

  function consentGiven() {
    var out = {};
    consents.forEach(function (c) { if (c.checked) out[c.getAttribute("data-consent")] = true; });
    return out;
  }

  function fail(msg) {
    say(msg);
    button.disabled = false;
    pin.value = "";
    pin.focus();
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    say("");
    fieldError(select, "");
    fieldError(pin, "");
    if (!select.value) { fieldError(select, "カードを選んでください。"); select.focus(); return; }
    if (!/^[0-9]{4}$/.test(pin.value)) { fieldError(pin, "暗証番号は数字4桁です。"); pin.focus(); return; }
    button.disabled = true;
    var csrf = form.querySelector("input[name=csrf_token]").value;
    fetch(form.getAttribute("data-challenge-url"), {
      method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": csrf }
    })
      .then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (j) {
          if (!r.ok || !j.challenge) throw { server: (j.error && j.error.message) || "サーバーからチャレンジを取得できません。画面を開き直してください。" };
          return j;
        });
      })
      .then(function (ch) {
        var body = JSON.stringify({
          card: select.value, pin: pin.value, challenge: ch.challenge, audience: ch.audience, consent: consentGiven()
        });
        return fetch(READER + "/sign", { method: "POST", headers: { "Content-Type": "application/json" }, body: body })
          .catch(function () { throw { server: NOT_RUNNING }; });
      })
      .then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (j) {
          if (!r.ok) throw { reader: (j.error && j.error.message) || "カードリーダーが署名できませんでした。" };
          return j;
        });
      })
      .then(function (proof) {
        pin.value = "";
        ["challenge", "certificate", "signature", "consent"].forEach(function (k) {
          form.querySelector("input[name=" + k + "]").value = proof[k];
        });
        HTMLFormElement.prototype.submit.call(form);
      })
      .catch(function (e) {
        if (e && e.reader) { fail(e.reader); loadCards(select.value); }
        else fail((e && e.server) || NOT_RUNNING);
      });
  });

  loadCards();
})();
