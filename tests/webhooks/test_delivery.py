"""Late tickets pushed: a receiver on 127.0.0.1 that fails, times out and recovers gets every change
of the feed at least once, each recognisable by its id, in order per facility, signed; the log has
every attempt; a new worker resumes without loss. On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from fujo.bulk.service import changes_since
from fujo.db import schema as s
from fujo.registry.service import TICKET_COLUMNS, amend_ticket, cancel_ticket
from fujo.webhooks import service
from tests.factories import CLINIC, OTHER, PHARMACY, World


def _hook(world: World, key: str, url: str, **kw) -> dict:
    return service.register_webhook(world.db, world.principal(key), url=url, **kw)


def _feed_ids(world: World, key: str, cursor: int) -> list[str]:
    """The event ids the change feed itself names after ``cursor`` (the source of truth)."""
    p = world.principal(key)
    out, more = [], True
    while more:
        feed = changes_since(world.db, p, cursor, 1000)
        out += [service.event_id(p.code, c["Seq"]) for c in feed["Changes"]]
        cursor, more = feed["Cursor"], feed["HasMore"]
    return out


def _first_arrivals(events: list[dict]) -> list[str]:
    """Ids in the order they were first accepted (a receiver drops the repeats)."""
    return list(dict.fromkeys(e["id"] for e in events))


def _log(db, endpoint_id: int) -> list:
    d = s.webhook_deliveries
    with db.read() as conn:
        return conn.execute(select(d).where(d.c.endpoint_id == endpoint_id).order_by(d.c.id)).all()


def _amend(world: World, ticket: dict, **changes) -> dict:
    data = {c: ticket[c] for c in TICKET_COLUMNS if ticket.get(c) is not None} | changes
    return amend_ticket(world.db, world.principal("office"), key=ticket["ticket_key"], data=data, reason="訂正")


def test_every_change_arrives_once_at_least_in_order_and_signed_through_failures(
    world, db, receiver, make_worker, caplog
):
    caplog.set_level(logging.INFO, logger="fujo.webhooks")
    clinic = _hook(world, "clinic", receiver.url + "/clinic?token=abc", secret="clinic-secret-0123456789")
    pharmacy = _hook(world, "pharmacy", receiver.url + "/pharmacy")
    receiver.secrets = {"/clinic": "clinic-secret-0123456789", "/pharmacy": pharmacy["secret"]}
    receiver.script = ["fail", "hang"]  # the first attempt gets 500, the second no answer in time

    a, b, c = world.recipient(name="甲野一郎"), world.recipient(name="乙野二郎"), world.recipient(name="丙野三郎")
    ta = world.ticket(a)  # registered for the clinic
    tb = world.ticket(b, on=dt.date(2024, 8, 1))  # a second month
    world.ticket(c, facility=PHARMACY)  # the pharmacy's, never the clinic's
    worker = make_worker()
    first = _feed_ids(world, "clinic", clinic["cursor"])
    receiver.wait_for(set(first), worker)
    mid = changes_since(db, world.principal("clinic"), 0)["Cursor"]

    # late and later changes: amended, cancelled, moved to another facility, registered after the visit
    _amend(world, ta, injury_name1="気管支炎")
    cancel_ticket(db, world.principal("office"), key=tb["ticket_key"], reason="誤登録")
    tc = world.ticket(c)
    _amend(world, tc, designated_facility_code=OTHER, designated_facility_name="▲▲クリニック")
    late = world.ticket(world.recipient(name="丁野四郎"))
    receiver.script = ["fail", "fail", "hang"]
    expected = first + _feed_ids(world, "clinic", mid)
    receiver.wait_for(set(expected), worker)
    expected_pharmacy = _feed_ids(world, "pharmacy", pharmacy["cursor"])
    receiver.wait_for(set(expected_pharmacy), worker)

    got = receiver.accepted("/clinic")
    assert {e["id"] for e in got} == set(expected)  # every change, nothing else
    assert _first_arrivals(got) == expected  # in the feed's order
    assert [e["seq"] for e in got] == sorted(e["seq"] for e in got)
    assert _first_arrivals(receiver.accepted("/pharmacy")) == expected_pharmacy  # only its own
    # every request signed with its webhook's secret: as docs/API.md tells a receiver to check it, and as fujo's
    # own verify_signature does
    assert receiver.requests and all(r.verified and r.fujo_verified for r in receiver.requests)
    assert all(r.headers["Fujo-Event-Id"] == r.event["id"] for r in receiver.requests)

    types = {e["data"]["TicketKey"]: e["type"] for e in got}
    assert types[ta["ticket_key"]] == "ticket.amended"
    assert types[tb["ticket_key"]] == "ticket.cancelled"
    assert types[tc["ticket_key"]] == "ticket.removed"
    assert types[late["ticket_key"]] == "ticket.registered"
    up = next(e for e in got if e["data"]["TicketKey"] == late["ticket_key"])
    assert up["data"]["Change"] == "upsert" and up["data"]["Result"]["Name"] == "丁野四郎"
    assert up["facility_code"] == CLINIC
    removed = next(e for e in got if e["data"]["TicketKey"] == tc["ticket_key"])
    assert removed["data"] == {"Change": "removed", "TicketKey": tc["ticket_key"], "Seq": removed["seq"]}

    # retries carry the same id and the same body, the attempt number grows
    by_id: dict[str, list] = {}
    for r in receiver.requests:
        by_id.setdefault(r.event["id"], []).append(r)
    retried = [rs for rs in by_id.values() if len(rs) > 1]
    assert retried
    for rs in retried:
        assert len({x.body for x in rs}) == 1
        assert [int(x.headers["Fujo-Delivery-Attempt"]) for x in rs] == list(range(1, len(rs) + 1))

    # the log: one row per attempt, the failures named, nothing about a person, no URL
    log = _log(db, clinic["id"]) + _log(db, pharmacy["id"])
    assert len(log) == len(receiver.requests)
    outcomes = {x.outcome for x in log}
    assert {"delivered", "http_error", "timeout"} <= outcomes
    assert {x.error for x in log if x.outcome == "http_error"} == {"HTTP 500"}
    assert all(x.duration_ms >= 0 and x.attempt >= 1 for x in log)
    text = repr(log) + caplog.text
    for secret in ("甲野", "丁野", a["recipient_number"], late["recipient_number"], "token=abc", "127.0.0.1"):
        assert secret not in text

    # delivered: the bodies are gone from the outbox, the cursor is at the feed's
    with db.read() as conn:
        left = conn.execute(select(s.webhook_events.c.body).where(s.webhook_events.c.body.is_not(None))).all()
    assert left == []
    listed = service.list_webhooks(db, world.principal("clinic"))["webhooks"][0]
    assert listed["pending_events"] == 0 and listed["failures"] == 0 and listed["last_error"] is None
    assert listed["cursor"] == changes_since(db, world.principal("clinic"), 0)["Cursor"]

    # the screen shows the same events, with the same ids, as delivered
    shown = {e["event_id"]: e for e in service.recent_events(db, world.principal("clinic"))["events"]}
    assert set(expected) <= set(shown)
    assert all(shown[i]["webhook"] == "delivered" for i in expected)


def test_the_order_holds_behind_a_failing_event(world, db, receiver, make_worker):
    hook = _hook(world, "clinic", receiver.url + "/hook")
    receiver.secret = hook["secret"]
    for _ in range(3):
        world.ticket(world.recipient())
    receiver.script = ["fail"] * 4
    worker = make_worker(backoff_base=0.01, backoff_cap=0.02)
    expected = _feed_ids(world, "clinic", hook["cursor"])
    receiver.wait_for(set(expected), worker)
    seen = [r.event["id"] for r in receiver.requests]
    # the first event was tried 5 times before the second was sent at all
    assert seen[:5] == [expected[0]] * 5 and _first_arrivals(receiver.accepted()) == expected
    waits = [x.at for x in _log(db, hook["id"])]
    assert waits == sorted(waits)


def test_a_new_worker_resumes_without_loss_after_a_stop_or_a_crash(world, db, receiver, make_worker, monkeypatch):
    hook = _hook(world, "clinic", receiver.url + "/hook")
    receiver.secret = hook["secret"]
    for _ in range(4):
        world.ticket(world.recipient())
    expected = _feed_ids(world, "clinic", hook["cursor"])

    # worker 1 delivers two, and stops (as on SIGTERM, after the attempt under way)
    w1 = make_worker(max_per_pass=2)
    assert w1.run_once() == 2
    w1.close()

    # changes while no worker runs, and worker 2 dies between the receiver's 200 and its record
    world.ticket(world.recipient(name="再開五郎"))
    w2 = make_worker()
    real = service.record_attempt

    def crash(*a, **k):
        monkeypatch.setattr(service, "record_attempt", real)
        raise OperationalError("UPDATE", {}, Exception("server closed the connection"))

    monkeypatch.setattr(service, "record_attempt", crash)
    with pytest.raises(OperationalError):
        w2.run_once()
    w2.close()
    assert service.record_attempt is real
    # … still holding its lease, as a killed process would: a new worker waits for it to expire
    with db.write() as conn:
        conn.execute(
            s.webhook_endpoints.update().values(
                lease_owner="dead-worker", lease_until=db.now() + dt.timedelta(seconds=0.3)
            )
        )
    w3 = make_worker()
    assert w3.run_once() == 0
    expected = _feed_ids(world, "clinic", hook["cursor"])
    receiver.wait_for(set(expected), w3)

    got = receiver.accepted()
    assert _first_arrivals(got) == expected  # all of them, in order
    arrivals = Counter(e["id"] for e in got)
    crashed = expected[2]  # worker 2's: accepted, its 200 never recorded
    assert arrivals[crashed] >= 2  # so it came again, with the same id
    # Every other arrival is an attempt on record: at least once, never an unrecorded send. (An answer
    # slower than the worker's timeout under load is logged as failed though the receiver took it, and
    # sent again: a repeat the receiver drops by its id.)
    attempts = Counter(r.event_id for r in _log(db, hook["id"]))
    assert {e: n for e, n in arrivals.items() if n > attempts[e] + (e == crashed)} == {}
    assert all(r.verified for r in receiver.requests)


def test_events_of_a_facility_that_switched_medical_assistance_off_wait(world, db, receiver, make_worker):
    from fujo.facility.service import set_medical_assistance

    hook = _hook(world, "clinic", receiver.url + "/hook")
    receiver.secret = hook["secret"]
    world.ticket(world.recipient())
    set_medical_assistance(db, world.principal("clinic"), False)
    worker = make_worker()
    assert worker.run_once() == 0 and receiver.requests == []
    listed = service.list_webhooks(db, world.principal("clinic"))["webhooks"][0]
    assert listed["last_error"] == "medical_assistance_disabled" and listed["pending_events"] == 0
    set_medical_assistance(db, world.principal("clinic"), True)
    with db.write() as conn:  # the hold is over (it lasts backoff_cap)
        conn.execute(s.webhook_endpoints.update().values(next_attempt_at=None))
    receiver.wait_for(set(_feed_ids(world, "clinic", hook["cursor"])), worker)


def test_a_deleted_webhook_gets_nothing_more(world, db, receiver, make_worker):
    hook = _hook(world, "clinic", receiver.url + "/hook")
    receiver.secret = hook["secret"]
    world.ticket(world.recipient())
    receiver.script = ["fail"]
    worker = make_worker(backoff_base=5, backoff_cap=5)
    worker.run_once()
    assert len(receiver.requests) == 1
    service.delete_webhook(db, world.principal("clinic"), hook["id"])
    with db.write() as conn:
        conn.execute(s.webhook_endpoints.update().values(next_attempt_at=None))
    assert worker.run_once() == 0 and len(receiver.requests) == 1
    with db.read() as conn:  # what was waiting is erased; the log stays
        assert conn.execute(select(s.webhook_events.c.body).where(s.webhook_events.c.body.is_not(None))).all() == []
    assert len(service.deliveries(db, world.principal("clinic"), hook["id"])["deliveries"]) == 1


def test_from_cursor_replays_earlier_changes_and_the_access_log_names_the_webhook(world, db, receiver, make_worker):
    from fujo.audit.verify import verify

    a, b = world.recipient(), world.recipient()
    world.ticket(a)
    world.ticket(b)
    hook = _hook(world, "clinic", receiver.url + "/hook", from_cursor=0)
    receiver.secret = hook["secret"]
    expected = _feed_ids(world, "clinic", 0)
    assert len(expected) == 2
    receiver.wait_for(set(expected), make_worker())
    assert _first_arrivals(receiver.accepted()) == expected
    # the people the worker read for the facility are in the access log, channel "webhook", as 受付
    cl = s.check_log
    with db.read() as conn:
        rows = conn.execute(select(cl.c.recipient_id, cl.c.role).where(cl.c.channel == "webhook")).all()
    assert sorted(rows) == sorted([(a["id"], "reception"), (b["id"], "reception")])
    assert verify(db).ok
