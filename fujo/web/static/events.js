/* fujo: the ticket events page, live (polls /desk/events/feed; no inline script, CSP) */
(function () {
  "use strict";
  var table = document.getElementById("events");
  if (!table || !window.fetch) return;
  var body = table.querySelector("tbody");
  var status = document.getElementById("events-live");
  var after = parseInt(table.getAttribute("data-latest") || "0", 10);
  var every = parseInt(table.getAttribute("data-poll") || "5000", 10);
  var empty = document.getElementById("events-empty");
  function cell(tr, text, cls) {
    var td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    tr.appendChild(td);
    return td;
  }
  function add(e) {
    var tr = document.createElement("tr");
    tr.className = "new event-" + e.event_type.replace(".", "-");
    tr.id = e.event_id;
    cell(tr, e.changed_ja, "when");
    cell(tr, e.event_type_ja);
    cell(tr, e.ticket_type_ja, "nowrap");
    var td = cell(tr, "");
    var a = document.createElement("a");
    a.href = "/desk/tickets?month=" + encodeURIComponent(e.month_param);
    a.textContent = e.month_ja;
    td.appendChild(a);
    cell(tr, e.webhook_ja, "nowrap");
    cell(tr, e.event_id, "num");
    body.insertBefore(tr, body.firstChild);
    if (empty) { empty.remove(); empty = null; }
  }
  function poll() {
    fetch("/desk/events/feed?after=" + after, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok || r.redirected) throw new Error(String(r.status)); return r.json(); })
      .then(function (d) {
        d.events.forEach(function (e) { add(e); after = Math.max(after, e.seq); });
        if (status) status.textContent = "自動更新中（" + new Date().toLocaleTimeString("ja-JP") + " 確認）";
        setTimeout(poll, every);
      })
      .catch(function () {
        if (status) status.textContent = "自動更新を停止しました。画面を再読み込みしてください。";
      });
  }
  setTimeout(poll, every);
})();
