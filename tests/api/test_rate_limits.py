"""Rate limits per credential and class (429 with Retry-After), and the sign-in throttle, counted in
the database: two server processes (two apps on one database here) behave as one."""

from __future__ import annotations

from fastapi.testclient import TestClient

from fujo.api import ratelimit
from fujo.api.app import create_app
from fujo.db import windows
from fujo.web.kit import Throttle
from tests.factories import PAYER
from tests.helpers import run_coroutine


def _body(r):
    return {"insurer_number": PAYER, "identification_number": r["recipient_number"], "birthdate": r["birthdate"]}


def test_the_routes_are_classified():
    assert ratelimit.class_of("POST", "/api/v1/checks/numbers") == "checks"
    assert ratelimit.class_of("POST", "/api/v1/checks/numbers/batch") == "checks"
    assert ratelimit.class_of("GET", "/api/v1/facility/tickets") == "bulk"
    assert ratelimit.class_of("POST", "/api/v1/imports/tickets") == "imports"
    assert ratelimit.class_of("POST", "/api/v1/medinfo/medication/imports") == "imports"
    assert ratelimit.class_of("GET", "/api/v1/recipients") is None
    assert ratelimit.limits_from_env("checks=5, bulk=x,nope=3") == {**ratelimit.DEFAULT_LIMITS, "checks": 5}


def test_over_the_limit_is_429_with_retry_after_and_is_not_recorded(client, app, world, db, steady_window):
    app.state.rate_limiter = ratelimit.RateLimiter(db, {"checks": 3})
    r = world.recipient()
    world.ticket(r)
    answers = [client.post("/api/v1/checks/numbers", json=_body(r), headers=world.auth("clinic")) for _ in range(5)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
    err = answers[3].json()["error"]
    assert err["code"] == "rate_limited" and answers[3].headers["Retry-After"] == "31"  # half a window left, rounded up
    assert "1分間に3件まで" in err["message_ja"]
    # another facility's credential has its own count; other routes are not limited
    assert client.post("/api/v1/checks/numbers", json=_body(r), headers=world.auth("other")).status_code == 200
    assert client.get("/api/v1/facility/settings", headers=world.auth("clinic")).status_code == 200
    from sqlalchemy import text

    with db.engine.connect() as c:  # only the three answered checks are recorded
        assert c.execute(text("SELECT count(*) FROM check_log WHERE method = 'numbers'")).scalar() == 4


def test_two_processes_share_one_limit(world, db, settings, ca, monkeypatch, steady_window):
    monkeypatch.setattr(ratelimit, "FLUSH_EVERY", 0.0)  # add to the shared window at every request
    r = world.recipient()
    world.ticket(r)
    a, b = create_app(settings, db, ca), create_app(settings, db, ca)
    for app in (a, b):
        app.state.rate_limiter = ratelimit.RateLimiter(db, {"checks": 4})
    with TestClient(a) as ca_, TestClient(b) as cb:
        codes = [
            (ca_ if i % 2 else cb)
            .post("/api/v1/checks/numbers", json=_body(r), headers=world.auth("clinic"))
            .status_code
            for i in range(6)
        ]
    assert codes.count(200) == 4 and codes[-2:] == [429, 429]


def test_the_sign_in_throttle_holds_across_processes(db):
    first, second = Throttle(db), Throttle(db)  # two processes' throttles
    for _ in range(Throttle.LIMIT):
        first.fail("login:clerk", "ip:10.0.0.1")
    assert second.blocked("login:clerk") and second.blocked("ip:10.0.0.1")
    assert not second.blocked("login:someone-else")
    second.ok("login:clerk")
    assert not first.blocked("login:clerk") and first.blocked("ip:10.0.0.1")


def test_old_windows_are_counted_apart(db):
    assert windows.add(db, "k", 60, now=1_000_000) == 1
    assert windows.add(db, "k", 60, 2, now=1_000_010) == 3
    assert windows.add(db, "k", 60, now=1_000_070) == 1  # the next minute
    assert windows.count(db, ["k", "other"], 60, now=1_000_075) == {"k": 1, "other": 0}


def test_a_database_that_does_not_answer_does_not_hold_the_request(db, monkeypatch):
    """The shared count's addition waits FLUSH_TIMEOUT at most (a frozen PostgreSQL once held every
    check whose second's flush fell in the freeze until the thaw); what it counted is added once."""
    import asyncio
    import threading

    gate, added = threading.Event(), []
    real = windows.add

    def frozen(*args):
        gate.wait(30)
        added.append(args[3])
        return real(*args)

    monkeypatch.setattr(windows, "add", frozen)
    monkeypatch.setattr(ratelimit, "FLUSH_TIMEOUT", 0.2)
    limiter = ratelimit.RateLimiter(db, {"checks": 100})

    async def go():
        await asyncio.wait_for(limiter.hit(7, "checks"), 10)  # answered, not held until the thaw
        gate.set()  # the database thaws (asyncio.run then waits for the thread to end)

    run_coroutine(go())
    assert added == [1]  # the addition under way lands once, when the database answers
    (count,) = limiter._counts.values()
    assert count.pending == 0  # and is not added again by the next flush
