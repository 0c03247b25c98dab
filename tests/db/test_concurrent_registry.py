"""The registry under concurrent writers, over real HTTP, on SQLite and PostgreSQL.

Several servers (each its own app, engine and audit writer — what `fujo serve --workers N` is, in
threads instead of processes) take the requests, so the writes really meet in the database: 50
identical registrations at once give one ticket and 49 duplicate refusals; a facility following the
change feed while tickets are registered sees each of its tickets exactly once. Figures are printed
(``-s``) for docs/RELIABILITY.md; nothing here asserts a duration."""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import threading
import time
from collections.abc import Iterator

import httpx
from sqlalchemy import text

from fujo import outbound
from fujo.api.app import create_app
from fujo.audit.verify import verify
from fujo.config import Settings
from fujo.db.database import Database
from tests.conftest import serving
from tests.factories import CLINIC, OTHER, World

SERVERS = 6
SAME = 50  # identical registrations at once
FOLLOWED = 48  # tickets registered while the follower follows: half for the follower's facility
REGISTRARS = 4


@contextlib.contextmanager
def servers(db: Database, ca, tmp_path, n: int = SERVERS) -> Iterator[list[str]]:
    """``n`` servers on the same database, each with an engine (pool) and audit writer of its own."""
    with contextlib.ExitStack() as stack:
        urls = []
        for _ in range(n):
            own = Database(db.url)
            stack.callback(own.dispose)
            app = create_app(Settings(database_url=db.url, data_dir=tmp_path), own, ca)
            urls.append(stack.enter_context(serving(app)))
        yield urls


def _duplicate(res: httpx.Response) -> bool:
    """The registry's refusal of the same ticket twice (docs/API.md, POST /tickets)."""
    if res.status_code != 422:
        return False
    fields = {(f["field"], f["code"]) for f in res.json()["error"].get("fields", [])}
    return bool(fields) and fields <= {
        ("issue_number", "duplicate_issue_number"),
        ("designated_facility_code", "duplicate_ticket"),
    }


def test_fifty_identical_registrations_at_once_give_one_ticket(world: World, db, ca, tmp_path):
    r = world.recipient()
    ticket = World.ticket_data(r)  # one 医療券: recipient, month, facility, 交付番号 — sent 50 times
    start = threading.Barrier(SAME)
    with servers(db, ca, tmp_path) as urls, contextlib.ExitStack() as stack:
        clients = [
            stack.enter_context(outbound.client(base_url=u, headers=world.auth("office"), timeout=60)) for u in urls
        ]

        def register(i: int) -> tuple[int, str, float]:
            c = clients[i % len(clients)]
            start.wait()  # the 50 posts leave together
            sent = time.monotonic()
            res = c.post("/api/v1/tickets", json=ticket)
            took = time.monotonic() - sent
            kind = "created" if res.status_code == 201 else "duplicate" if _duplicate(res) else res.text[:200]
            return res.status_code, kind, took

        with concurrent.futures.ThreadPoolExecutor(SAME) as pool:
            answers = list(pool.map(register, range(SAME)))
        wall = max(t for _, _, t in answers)
    kinds = collections.Counter(k for _, k, _ in answers)
    assert kinds == {"created": 1, "duplicate": SAME - 1}, kinds
    assert all(s < 500 for s, _, _ in answers)
    with db.read() as c:
        rows = c.execute(text("SELECT count(*) FROM tickets WHERE recipient_id = :r"), {"r": r["id"]}).scalar()
        entries = c.execute(
            text("SELECT count(*) FROM check_log WHERE reason = 'ticket.register' AND recipient_id = :r"),
            {"r": r["id"]},
        ).scalar()
    assert (rows, entries) == (1, 1)  # one ticket, one audit entry: the refused ones left nothing
    report = verify(db)
    assert report.ok, report.problem
    took = sorted(t for _, _, t in answers)
    print(
        f"\n{db.engine.dialect.name}: {SAME} identical registrations at once over {SERVERS} servers, all answered in"
        f" {wall * 1000:.0f} ms:"
        f" {dict(kinds)}; answer times median {took[len(took) // 2] * 1000:.0f} ms, max {took[-1] * 1000:.0f} ms;"
        f" audit chain of {report.entries} entries verifies"
    )


def test_a_cursor_follower_sees_each_ticket_registered_meanwhile_exactly_once(world: World, db, ca, tmp_path):
    people = [world.recipient() for _ in range(FOLLOWED)]
    # alternately for the follower's facility and another one: the feed must carry only its own
    plan = [(p, CLINIC if i % 2 == 0 else OTHER) for i, p in enumerate(people)]
    registered: dict[str, list[str]] = {CLINIC: [], OTHER: []}
    failed: list[str] = []
    lock = threading.Lock()
    done = threading.Event()
    seen: list[str] = []  # TicketKey of every upsert the follower was given, in order
    polls = 0
    with servers(db, ca, tmp_path) as urls:

        def registrar(k: int) -> None:
            with outbound.client(base_url=urls[1 + k % (len(urls) - 1)], headers=world.auth("office"), timeout=60) as c:
                for person, facility in plan[k::REGISTRARS]:
                    res = c.post("/api/v1/tickets", json=World.ticket_data(person, facility=facility))
                    with lock:
                        if res.status_code == 201:
                            registered[facility].append(res.json()["ticket_key"])
                        else:
                            failed.append(f"{res.status_code} {res.text[:200]}")

        def follow() -> None:
            nonlocal polls
            cursor = 0
            with outbound.client(base_url=urls[0], headers=world.auth("clinic"), timeout=60) as c:
                while True:
                    last_round = done.is_set()  # every registration answered before this poll was sent
                    res = c.get("/api/v1/facility/tickets/changes", params={"cursor": cursor, "limit": 5})
                    polls += 1
                    assert res.status_code == 200, res.text
                    page = res.json()
                    assert page["Cursor"] >= cursor
                    seen.extend(ch["TicketKey"] for ch in page["Changes"] if ch["Change"] == "upsert")
                    assert all(ch["Change"] == "upsert" for ch in page["Changes"]), page["Changes"]
                    cursor = page["Cursor"]
                    if page["HasMore"]:
                        continue
                    if last_round:  # drained after the last registration was answered: all is seen
                        return
                    time.sleep(0.1)  # a follower polls; bulk is rate-limited (120 a minute)

        began = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(REGISTRARS + 1) as pool:
            follower = pool.submit(follow)
            writers = [pool.submit(registrar, k) for k in range(REGISTRARS)]
            for w in writers:
                w.result()
            done.set()
            follower.result(timeout=60)
        wall = time.monotonic() - began
    assert failed == []
    assert len(registered[CLINIC]) == FOLLOWED // 2
    twice = [k for k, n in collections.Counter(seen).items() if n > 1]
    assert twice == [], f"{len(twice)} tickets were handed over twice"
    missed = set(registered[CLINIC]) - set(seen)
    assert not missed, f"{len(missed)} tickets were never handed over"
    assert set(seen) == set(registered[CLINIC])  # and none of the other facility's
    assert verify(db).ok
    print(
        f"\n{db.engine.dialect.name}: {FOLLOWED} tickets registered by {REGISTRARS} threads in {wall * 1000:.0f} ms,"
        f" {len(registered[CLINIC])} for the follower's facility; it polled {polls} times (limit 5) and was handed"
        f" each of them once ({len(seen)} upserts, 0 missed, 0 twice, none of the other facility's)"
    )
