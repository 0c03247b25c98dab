"""The webhook routes: the facility's own credential only (管理者 to change), URL and secret refused
field by field, the secret shown once, the delivery log and the test event. SQLite and PostgreSQL."""

from __future__ import annotations

import time

from fujo.webhooks import service
from fujo.webhooks.models import DeliveryOut, WebhookCreatedOut, WebhookOut
from tests.factories import World
from tests.helpers import snapshot

API = "/api/v1/facility/webhooks"


def _register(client, world: World, url: str, who: str = "clinic", **kw):
    return client.post(API, headers=world.auth(who), json={"url": url, **kw})


def test_a_manager_registers_lists_and_deletes_and_the_secret_is_shown_once(client, world):
    res = _register(client, world, "https://rececon.example.jp/fujo/events")
    assert res.status_code == 201, res.text
    hook = res.json()
    assert set(hook) == set(WebhookCreatedOut.model_fields)
    assert hook["secret"].startswith("whsec_") and len(hook["secret"]) > 40
    assert hook["url"] == "https://rececon.example.jp/fujo/events" and hook["pending_events"] == 0
    assert hook["created_by"]
    listed = client.get(API, headers=world.role_auth("clinic", "reception")).json()["webhooks"]
    assert [x["id"] for x in listed] == [hook["id"]]
    assert set(listed[0]) == set(WebhookOut.model_fields)  # never the secret again
    assert hook["secret"] not in str(listed)
    own = _register(client, world, "http://10.0.0.5:8080/hook", secret="my-own-secret-0123456789")
    assert own.status_code == 201 and own.json()["secret"] == "my-own-secret-0123456789"
    assert client.delete(f"{API}/{hook['id']}", headers=world.auth("clinic")).status_code == 204
    assert [x["id"] for x in client.get(API, headers=world.auth("clinic")).json()["webhooks"]] == [own.json()["id"]]
    assert client.delete(f"{API}/{hook['id']}", headers=world.auth("clinic")).status_code == 404


BAD = [  # (body, field, problem)
    ({"url": "ftp://example.jp/x"}, "url", "url_scheme"),
    ({"url": "https://user:pass@example.jp/x"}, "url", "url_credentials"),
    ({"url": "https:///only/a/path"}, "url", "url_host"),
    ({"url": "https://example.jp/x#frag"}, "url", "url_fragment"),
    ({"url": "http://169.254.169.254/latest/meta-data"}, "url", "url_address"),
    ({"url": "http://[ff02::1]/x"}, "url", "url_address"),
    ({"url": "https://example.jp:99999/x"}, "url", "url_format"),
    ({"url": "https://exa mple.jp/"}, "url", "url_format"),
    ({"url": "https://example.jp/" + "a" * 500}, "url", "too_long"),
    ({"url": ""}, "url", "required"),
    ({"url": "https://example.jp/x", "secret": "short"}, "secret", "secret_length"),
    ({"url": "https://example.jp/x", "secret": "has spaces in it 0123"}, "secret", "secret_characters"),
    ({"url": "https://example.jp/x", "from_cursor": 10**9}, "from_cursor", "cursor"),
]


def test_bad_input_is_refused_with_field_and_problem_and_writes_nothing(client, world, db):
    before = snapshot(db)
    for body, field, code in BAD:
        res = client.post(API, headers=world.auth("clinic"), json=body)
        assert res.status_code == 422, (body, res.text)
        err = res.json()["error"]
        assert err["code"] == "validation_error"
        assert [(f["field"], f["code"]) for f in err["fields"]] == [(field, code)], body
        assert all(f["message_ja"] and f["message_en"] for f in err["fields"])
    assert snapshot(db) == before


def test_only_the_facility_itself_and_only_its_manager_may_change(client, world):
    assert client.post(API, json={"url": "https://example.jp/x"}).status_code == 401
    for who in ("office", "admin", "insurer"):
        res = _register(client, world, "https://example.jp/x", who=who)
        assert res.status_code == 403 and res.json()["error"]["code"] == "forbidden", who
        assert client.get(API, headers=world.auth(who)).status_code == 403
    reception = world.role_auth("clinic", "reception")
    res = client.post(API, headers=reception, json={"url": "https://example.jp/x"})
    assert res.status_code == 403 and res.json()["error"]["code"] == "forbidden"
    hook = _register(client, world, "https://example.jp/x").json()
    assert client.delete(f"{API}/{hook['id']}", headers=reception).status_code == 403
    assert client.post(f"{API}/{hook['id']}/test", headers=reception).status_code == 403
    assert client.get(f"{API}/{hook['id']}/deliveries", headers=reception).status_code == 200
    # another facility does not even learn that it exists
    for path, method in ((f"{API}/{hook['id']}", "DELETE"), (f"{API}/{hook['id']}/test", "POST")):
        assert client.request(method, path, headers=world.auth("pharmacy")).status_code == 404
    assert client.get(f"{API}/{hook['id']}/deliveries", headers=world.auth("pharmacy")).status_code == 404
    assert client.get(API, headers=world.auth("pharmacy")).json() == {"webhooks": []}


def test_duplicates_and_too_many_are_conflicts(client, world):
    assert _register(client, world, "https://example.jp/1").status_code == 201
    res = _register(client, world, "https://example.jp/1")
    assert res.status_code == 409 and res.json()["error"]["code"] == "conflict"
    for i in range(2, service.MAX_ENDPOINTS + 1):
        assert _register(client, world, f"https://example.jp/{i}").status_code == 201
    assert _register(client, world, "https://example.jp/extra").status_code == 409
    assert _register(client, world, "https://example.jp/1", who="pharmacy").status_code == 201  # per facility


def test_the_test_event_is_delivered_by_the_worker_and_logged(client, world, receiver, make_worker):
    hook = _register(client, world, receiver.url + "/t").json()
    receiver.secret = hook["secret"]
    res = client.post(f"{API}/{hook['id']}/test", headers=world.auth("clinic"))
    assert res.status_code == 202
    queued = res.json()
    assert queued["queued"] is True and queued["event_id"].startswith(f"evt_{world.orgs['clinic']['code']}_test_")
    assert receiver.requests == []  # not in the request path: the worker sends it
    receiver.script = ["fail"]
    receiver.wait_for({queued["event_id"]}, make_worker())
    got = receiver.accepted()[0]
    assert got["type"] == "webhook.test" and got["seq"] is None and receiver.requests[-1].verified
    log = client.get(f"{API}/{hook['id']}/deliveries", headers=world.auth("clinic")).json()
    assert log["webhook_id"] == hook["id"]
    rows = log["deliveries"]
    assert [(r["outcome"], r["attempt"], r["status_code"]) for r in rows] == [
        ("delivered", 2, 200),
        ("http_error", 1, 500),
    ]
    assert all(set(r) == set(DeliveryOut.model_fields) for r in rows)
    page = client.get(f"{API}/{hook['id']}/deliveries", headers=world.auth("clinic"), params={"before": rows[0]["id"]})
    assert [r["id"] for r in page.json()["deliveries"]] == [rows[1]["id"]]
    # the log of a deleted webhook stays readable
    assert client.delete(f"{API}/{hook['id']}", headers=world.auth("clinic")).status_code == 204
    assert len(client.get(f"{API}/{hook['id']}/deliveries", headers=world.auth("clinic")).json()["deliveries"]) == 2


def test_a_test_event_cuts_a_backoff_short(world, db, receiver, make_worker):
    hook = service.register_webhook(db, world.principal("clinic"), url=receiver.url + "/b")
    receiver.secret = hook["secret"]
    world.ticket(world.recipient())
    receiver.script = ["fail"]
    worker = make_worker(backoff_base=3600, backoff_cap=3600)
    assert worker.run_once() == 0
    assert service.list_webhooks(db, world.principal("clinic"))["webhooks"][0]["next_attempt_at"]
    assert worker.run_once() == 0 and len(receiver.requests) == 1  # waiting an hour …
    service.send_test_event(db, world.principal("clinic"), hook["id"])  # … until the receiver is repaired
    assert worker.run_once() == 2  # the waiting event first, then the test
    assert [r.event["type"] for r in receiver.requests] == ["ticket.registered", "ticket.registered", "webhook.test"]


def test_signatures_verify_only_with_the_secret_the_body_and_a_fresh_timestamp():
    body = b'{"id":"evt_1"}'
    ts = str(int(time.time()))
    h = service.signed_headers("s" * 20, "evt_1", "webhook.test", ts, body, 1)
    assert h["Fujo-Signature"].startswith("v1=") and len(h["Fujo-Signature"]) == 3 + 64
    assert service.verify_signature("s" * 20, h, body, now=time.time())
    assert service.verify_signature("s" * 20, {k.lower(): v for k, v in h.items()}, body)
    assert not service.verify_signature("t" * 20, h, body)
    assert not service.verify_signature("s" * 20, h, body + b" ")
    assert not service.verify_signature("s" * 20, h, body, now=time.time() + 3600)
    assert not service.verify_signature("s" * 20, {**h, "Fujo-Timestamp": str(int(ts) + 1)}, body)
    assert not service.verify_signature("s" * 20, {**h, "Fujo-Timestamp": "x"}, body)


def test_the_signature_is_the_documented_hmac():
    """docs/API.md's scheme, computed here with hashlib/hmac (tests/webhooks/conftest.py's receiver checks
    every delivery the same way): a known answer, and the receiver refuses what it should."""
    import hashlib
    import hmac

    from tests.webhooks.conftest import independent_verify

    body = b'{"id":"evt_1311234569_42","type":"ticket.registered"}'
    h = service.signed_headers(
        "whsec-0123456789abcdef", "evt_1311234569_42", "ticket.registered", "1721264523", body, 3
    )
    mac = hmac.new(b"whsec-0123456789abcdef", b"1721264523." + body, hashlib.sha256).hexdigest()
    assert h["Fujo-Signature"] == "v1=" + mac
    assert (h["Fujo-Timestamp"], h["Fujo-Event-Id"], h["Fujo-Delivery-Attempt"]) == (
        "1721264523",
        "evt_1311234569_42",
        "3",
    )
    at = 1721264523 + 299
    assert independent_verify("whsec-0123456789abcdef", h, body, at)
    assert not independent_verify("whsec-0123456789abcdeF", h, body, at)  # another secret
    assert not independent_verify("whsec-0123456789abcdef", h, body.replace(b"42", b"43"), at)  # another body
    assert not independent_verify("whsec-0123456789abcdef", h, body, 1721264523 + 301)  # too old
    assert not independent_verify("whsec-0123456789abcdef", {**h, "Fujo-Signature": mac}, body, at)  # no v1=
