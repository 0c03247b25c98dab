"""The facility's 「更新通知」 screen (/desk/events) in a real browser: static/events.js polls the feed and
adds what the welfare office registers or cancels while the page is open, newest first, without a
reload — the same events, with the same ids, as the webhooks deliver."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from fujo.registry.service import cancel_ticket
from fujo.web import events
from fujo.webhooks import service
from tests.factories import CLINIC
from tests.web.conftest import sign_in

# Screens behave the same on either database (the feed's tests run on both); the browser runs once,
# on PostgreSQL — the production database.
pytestmark = pytest.mark.parametrize("db", ["postgresql"], indirect=True)


def test_a_ticket_registered_while_the_page_is_open_appears_without_a_reload(world, users, live, page, monkeypatch):
    # the page polls every POLL_MS (5 s), written into the table's data-poll for events.js: a fifth of a
    # second here, so the test waits for the poll, not for the production interval
    monkeypatch.setattr(events, "POLL_MS", 200)
    sign_in(page, live, users["clinic"])
    page.goto(f"{live}/desk/events")
    table = page.locator("#events")
    expect(table).to_have_attribute("data-poll", "200")
    expect(page.locator("#events-empty")).to_have_text("まだ更新はありません。")
    page.evaluate("window.fujoNotReloaded = true")  # gone if the page were loaded again

    ticket = world.ticket(world.recipient(name="後日一郎"))  # registered by the office meanwhile
    first = service.event_id(CLINIC, ticket["seq"])
    row = page.locator(f"#events tbody tr[id='{first}']")
    expect(row).to_be_visible()
    assert [c.strip() for c in row.locator("td").all_inner_texts()[1:]] == [
        "医療券/調剤券の登録",
        "医療券",
        "令和6年7月",
        "—",
        first,
    ]
    assert re.fullmatch(r"令和\d+年\d+月\d+日 \d\d:\d\d", row.locator("td.when").inner_text())
    expect(row.get_by_role("link", name="令和6年7月")).to_have_attribute("href", "/desk/tickets?month=2024-07")
    expect(row).to_have_class(re.compile(r"\bnew\b"))  # marked as new
    expect(page.locator("#events-empty")).to_have_count(0)
    expect(page.locator("#events-live")).to_contain_text("自動更新中（")

    cancel_ticket(world.db, world.principal("office"), key=ticket["ticket_key"], reason="誤登録")
    rows = page.locator("#events tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_have_class(re.compile(r"\bevent-ticket-cancelled\b"))  # newest first
    assert rows.first.locator("td").nth(1).inner_text() == "医療券/調剤券の取消"
    assert rows.nth(1).get_attribute("id") == first
    assert page.evaluate("window.fujoNotReloaded") is True  # the same page all along
    assert "後日一郎" not in page.content()  # what changed and when, never who
