"""The facility's screen 「更新通知」 (/desk/events): the same events as the webhooks, with the same ids,
added live by polling /desk/events/feed; what changed and when, never who. SQLite and PostgreSQL."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from fujo.accounts.service import create_user
from fujo.facility.service import set_medical_assistance
from fujo.registry.service import cancel_ticket
from fujo.webhooks import service
from tests.factories import PHARMACY, World


def _signed_in(app, world: World, org: str, role: str = "reception") -> TestClient:
    login = f"ev-{org}-{role}"
    create_user(world.db, world.orgs[org]["id"], login=login, password="events-pass-123", display_name=login, role=role)
    c = TestClient(app)
    tok = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text).group(1)
    res = c.post(
        "/login",
        data={"csrf_token": tok, "org_code": world.orgs[org]["code"], "login": login, "password": "events-pass-123"},
        follow_redirects=False,
    )
    assert res.status_code == 303
    return c


def test_the_screen_lists_the_facilitys_events_and_polls_for_new_ones(app, world, db):
    a = world.recipient(name="画面一郎")
    t = world.ticket(a)
    world.ticket(world.recipient(name="薬局二郎"), facility=PHARMACY)  # not the clinic's
    code = world.orgs["clinic"]["code"]
    with _signed_in(app, world, "clinic") as c:
        page = c.get("/desk/events")
        assert page.status_code == 200
        html = page.text
        assert 'href="/desk/events" aria-current="page"' in html  # in the menu
        mine = service.recent_events(db, world.principal("clinic"))["events"]
        assert [e["event_id"] for e in mine] == [service.event_id(code, t["seq"])]
        assert f'id="{mine[0]["event_id"]}"' in html and "医療券/調剤券の登録" in html and "令和6年7月" in html
        assert "画面一郎" not in html and a["recipient_number"] not in html and "薬局二郎" not in html
        assert '<script src="/static/events.js" defer></script>' in html and "<script>" not in html
        latest = int(re.search(r'data-latest="(\d+)"', html).group(1))
        assert c.get("/desk/events/feed", params={"after": latest}).json()["events"] == []

        cancel_ticket(db, world.principal("office"), key=t["ticket_key"], reason="誤登録")
        late = world.ticket(world.recipient(name="後日三郎"))
        feed = c.get("/desk/events/feed", params={"after": latest}).json()
        assert [(e["event_type"], e["ticket_key"]) for e in feed["events"]] == [
            ("ticket.cancelled", t["ticket_key"]),
            ("ticket.registered", late["ticket_key"]),
        ]
        assert feed["events"][1]["event_id"] == service.event_id(code, late["seq"])
        assert feed["events"][1]["month_param"] == "2024-07" and feed["events"][1]["webhook"] is None
        assert "後日三郎" not in str(feed)
        js = c.get("/static/events.js")
        assert js.status_code == 200 and "javascript" in js.headers["content-type"]
        assert "/desk/events/feed?after=" in js.text and "innerHTML" not in js.text

        # with a webhook: how each event's delivery stands, and the webhook itself (never its secret)
        hook = service.register_webhook(db, world.principal("clinic"), url="https://rececon.example.jp/hook")
        world.ticket(world.recipient())
        html = c.get("/desk/events").text
        assert "送信待ち" in html and "https://rececon.example.jp/hook" in html
        assert hook["secret"] not in html


def test_the_screen_is_the_facilitys_and_needs_medical_assistance(app, world, db):
    with _signed_in(app, world, "office", "caseworker") as c:
        assert c.get("/desk/events").status_code == 403
        assert c.get("/desk/events/feed").status_code == 403
    set_medical_assistance(db, world.principal("clinic"), False)
    with _signed_in(app, world, "clinic") as c:
        page = c.get("/desk/events")
        assert page.status_code == 403 and "利用しない" in page.text
        res = c.get("/desk/events/feed")
        assert res.status_code == 403 and "利用しない" in res.json()["error"]
    with TestClient(app) as anonymous:
        res = anonymous.get("/desk/events", follow_redirects=False)
        assert res.status_code in (303, 307) and "/login" in res.headers["location"]
