"""Printing 医療券/調剤券 from the welfare office's screens: the links, the PDF answers, the scope
(another office gets 404 and learns nothing) and the check-log record. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import re

from fujo.accounts.service import create_user
from fujo.audit.service import access_log
from tests.registry.test_ticket_pdf import pages_text
from tests.web.test_web_http import _login


def test_office_prints_one_ticket_and_a_month(client, users, world, tmp_path):
    r = world.recipient(name="印刷太郎")
    t = world.ticket(r)
    world.ticket(world.recipient(name="印刷次郎"))
    _login(client, users["office"])
    page = client.get(f"/office/tickets/{t['ticket_key']}").text
    assert f'href="/office/tickets/{t["ticket_key"]}/print.pdf"' in page and "印刷（PDF）" in page
    res = client.get(f"/office/tickets/{t['ticket_key']}/print.pdf")
    assert res.status_code == 200
    assert res.headers["content-type"] == "application/pdf"
    assert res.headers["content-disposition"] == f'inline; filename="ticket-{t["ticket_key"]}.pdf"'
    assert res.headers["cache-control"] == "no-store"
    [one] = pages_text(res.content, tmp_path)
    assert "印刷太郎" in one and "令和6年7月1日" in one and "入院外" in one

    assert 'action="/office/print.pdf"' in client.get("/office").text
    assert 'href="/office/print.pdf?month=202407"' in client.get("/office/late", params={"month": "2024-07"}).text
    res = client.get("/office/print.pdf", params={"month": "2024-07"})
    assert res.status_code == 200 and res.headers["content-type"] == "application/pdf"
    assert 'filename="tickets-202407.pdf"' in res.headers["content-disposition"]
    pages = pages_text(res.content, tmp_path)
    assert len(pages) == 2
    assert sorted(n for p in pages for n in ("印刷太郎", "印刷次郎") if n in p) == ["印刷太郎", "印刷次郎"]
    log = [e for e in access_log(world.db, None, [r["id"]]) if e["method"] != "registry"]
    assert [e["method_ja"] for e in log] == ["医療券/調剤券の印刷（福祉事務所）"] * 2


def test_month_without_tickets_and_bad_month_are_refused_with_a_message(client, users):
    _login(client, users["office"])
    res = client.get("/office/print.pdf", params={"month": "2024-07"})
    assert res.status_code == 404 and "令和6年7月の医療券/調剤券はありません" in res.text
    assert client.get("/office/print.pdf", params={"month": "2024-13"}).status_code == 422


def test_another_office_cannot_print_and_learns_nothing(client, users, world, db):
    r = world.recipient(name="秘密花子")
    t = world.ticket(r)
    create_user(db, world.orgs["office2"]["id"], login="office2", password="office2-pass-123", role="manager")
    _login(client, (world.orgs["office2"]["code"], "office2", "office2-pass-123"))
    res = client.get(f"/office/tickets/{t['ticket_key']}/print.pdf")
    assert res.status_code == 404 and "秘密花子" not in res.text and r["recipient_number"] not in res.text
    assert res.headers["content-type"].startswith("text/html")
    res = client.get("/office/print.pdf", params={"month": "2024-07"})
    assert res.status_code == 404 and "秘密花子" not in res.text
    assert client.get("/office/tickets/not-a-uuid/print.pdf").status_code == 404
    assert [e for e in access_log(db, None, [r["id"]]) if e["method"] != "registry"] == []


def test_facilities_cannot_print(client, users, world):
    t = world.ticket(world.recipient())
    _login(client, users["clinic"])
    res = client.get(f"/office/tickets/{t['ticket_key']}/print.pdf", follow_redirects=False)
    assert res.status_code == 403 and not re.search(rb"%PDF", res.content)
