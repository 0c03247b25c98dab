"""A PostgreSQL stopped under load (`pg_ctl stop -m fast`, then `-m immediate`: the backends are
ended, the port refuses connections) and started again on the same port.

On a throw-away instance, `fujo serve` in its own process under 4 threads checking by numbers and one
registering recipients: while the database is down every answer is 503 ``storage_unavailable`` with
``Retry-After``, ``/api/v1/health`` answers 200 and ``/api/v1/ready`` 503; after `pg_ctl start` the
same server process answers 200 again (no restart), every check answered 200 is in ``check_log``,
every registration answered 201 is in the registry, and the audit chain verifies. The figures are
printed (``-s``) for docs/RELIABILITY.md; nothing here asserts a duration."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import httpx
from sqlalchemy import text

from fujo import outbound
from fujo.audit.verify import verify
from tests.db.throwaway_pg import poll, served_world, start_instance, stop_instance
from tests.factories import PAYER

CHECK_THREADS = 4
CLIENT_TIMEOUT = 25.0  # s: above every server-side bound a request can meet (auth 5 s, reads 10 s, record 10 s)
MODES = ("fast", "immediate")  # fast: backends ended cleanly, a checkpoint; immediate: killed, recovery on start
RETRY_PAUSE = 0.05  # s a load thread waits after a refusal (a real client honours Retry-After; this keeps the load up)


@dataclass(frozen=True)
class Answer:
    kind: str  # check | register
    sent: float
    answered: float
    status: int
    code: str | None
    retry_after: str | None


def test_a_postgresql_stopped_under_load_is_survived_without_a_restart(ca, tmp_path):
    with served_world(ca, tmp_path) as (pgdata, proc, base, db, world, people):
        answers: list[Answer] = []
        check_ids: list[int] = []
        registered: list[str] = []  # recipient numbers answered 201
        failures: list[str] = []
        lock = threading.Lock()
        stop = threading.Event()

        def send(c: httpx.Client, kind: str, path: str, body: dict) -> httpx.Response | None:
            sent = time.monotonic()
            try:
                res = c.post(path, json=body)
            except httpx.HTTPError as e:  # a hang past the client's bound, or a dropped connection
                with lock:
                    failures.append(f"{kind}: {type(e).__name__}")
                return None
            code = res.json()["error"]["code"] if res.status_code >= 400 else None
            with lock:
                answers.append(
                    Answer(kind, sent, time.monotonic(), res.status_code, code, res.headers.get("Retry-After"))
                )
            if res.status_code >= 400:
                time.sleep(RETRY_PAUSE)
            return res

        def checks(i: int) -> None:
            with outbound.client(base_url=base, headers=world.auth("clinic"), timeout=CLIENT_TIMEOUT) as c:
                while not stop.is_set():
                    r = people[i % len(people)]
                    body = {"insurer_number": PAYER, "identification_number": r["recipient_number"]}
                    res = send(c, "check", "/api/v1/checks/numbers", {**body, "birthdate": r["birthdate"]})
                    if res is not None and res.status_code == 200:
                        with lock:
                            check_ids.append(res.json()["CheckId"])
                    i += 1

        def registrations() -> None:
            with outbound.client(base_url=base, headers=world.auth("office"), timeout=CLIENT_TIMEOUT) as c:
                while not stop.wait(0.05):
                    data = world.recipient_data()
                    res = send(c, "register", "/api/v1/recipients", data)
                    if res is not None and res.status_code == 201:
                        with lock:
                            registered.append(data["recipient_number"])

        def fresh_check() -> bool:
            with outbound.client(base_url=base, headers=world.auth("clinic"), timeout=CLIENT_TIMEOUT) as c:
                r = people[0]
                body = {"insurer_number": PAYER, "identification_number": r["recipient_number"]}
                res = send(c, "check", "/api/v1/checks/numbers", {**body, "birthdate": r["birthdate"]})
                return res is not None and res.status_code == 200

        def grown(checks: int, registrations: int) -> bool:
            """At least this many checks answered 200 and registrations answered 201 in all."""
            with lock:
                return len(check_ids) >= checks and len(registered) >= registrations

        def counts() -> tuple[int, int]:
            """The totals of :func:`grown` once 10 more checks and 2 more registrations are answered."""
            with lock:
                return len(check_ids) + 10, len(registered) + 2

        threads = [threading.Thread(target=checks, args=(i,)) for i in range(CHECK_THREADS)]
        threads.append(threading.Thread(target=registrations))
        probe = outbound.client(base_url=base, timeout=5.0)  # health and ready: a load balancer's bound
        outages: list[dict] = []
        try:
            for t in threads:
                t.start()
            for mode in MODES:
                assert poll(lambda want=counts(): grown(*want), 15), f"the load did not get going ({mode})"
                want = counts()
                asked = time.monotonic()
                stop_instance(pgdata, mode)
                down = time.monotonic()  # from here nothing listens on the port
                # while it is down: the answers of the load threads (collected below), liveness and readiness
                health = [probe.get("/api/v1/health") for _ in range(3)]
                assert all(h.status_code == 200 and h.json() == {"status": "ok"} for h in health)
                sent = time.monotonic()
                ready = probe.get("/api/v1/ready")
                ready_took = time.monotonic() - sent
                assert ready.status_code == 503, ready.text
                assert ready.headers["Retry-After"] == "5"
                assert ready.json()["error"]["message_en"].endswith("(database unreachable)")

                def answered_since(t: float) -> bool:
                    with lock:
                        seen = {a.kind for a in answers if a.sent >= t}
                    return seen >= {"check", "register"}

                assert poll(lambda t=down: answered_since(t), 10), (
                    "the load threads were not answered while the database was down"
                )
                time.sleep(0.5)  # a little more load against the stopped database
                restarted = time.monotonic()
                start_instance(pgdata)
                started = time.monotonic()
                assert poll(fresh_check, 20), f"checks did not recover after pg_ctl start ({mode})"
                check_back = time.monotonic() - started
                assert poll(lambda: probe.get("/api/v1/ready").status_code == 200, 20)
                ready_back = time.monotonic() - started
                assert poll(lambda want=want: grown(*want), 20), f"the load did not come back ({mode})"
                assert proc.poll() is None  # the same server process all along: no restart
                outages.append(
                    {
                        "mode": mode,
                        "asked": asked,
                        "down": down,
                        "restarted": restarted,
                        "stop_took": down - asked,
                        "start_took": started - restarted,
                        "health": len(health),
                        "ready_took": ready_took,
                        "check_back": check_back,
                        "ready_back": ready_back,
                    }
                )
        finally:
            stop.set()
            for t in threads:
                t.join(CLIENT_TIMEOUT + 5)
            probe.close()

        assert failures == [], failures  # every request got an answer within the client's bound
        statuses = {(a.kind, a.status) for a in answers}
        assert statuses <= {("check", 200), ("check", 503), ("register", 201), ("register", 503)}, statuses
        refused = [a for a in answers if a.status == 503]
        # a stopped database is storage_unavailable, and every refusal says when to retry
        assert {a.code for a in refused} == {"storage_unavailable"}, {a.code for a in refused}
        assert all(a.retry_after == "5" for a in refused), [a for a in refused if a.retry_after != "5"][:3]
        for o in outages:  # sent once the port was closed and answered before the restart: every one a 503
            while_down = [a for a in answers if a.sent >= o["down"] and a.answered <= o["restarted"]]
            assert while_down and all(a.status == 503 for a in while_down), o["mode"]
            o["while_down"] = while_down
            o["in_stop"] = [a for a in answers if a.sent < o["down"] and a.answered >= o["asked"]]
        with db.engine.connect() as conn:
            logged = set(conn.execute(text("SELECT id FROM check_log")).scalars())
            present = set(conn.execute(text("SELECT recipient_number FROM recipients")).scalars())
        lost_checks = set(check_ids) - logged
        lost_registrations = set(registered) - present
        assert not lost_checks, f"{len(lost_checks)} answered checks are not in check_log"
        assert not lost_registrations, f"{len(lost_registrations)} answered registrations are not in recipients"
        report = verify(db)
        assert report.problem is None, report.problem
        db.dispose()

    print(f"\nPostgreSQL stopped under load ({CHECK_THREADS} threads checking by numbers, 1 registering):")
    for o in outages:
        wd = o["while_down"]
        print(
            f"  pg_ctl stop -m {o['mode']}: took {o['stop_took'] * 1000:.0f} ms (answers in flight then:"
            f" {sorted({a.status for a in o['in_stop']})}); down {o['restarted'] - o['down']:.1f} s;"
            f" {len(wd)} answers while down, all 503 storage_unavailable + Retry-After"
            f" ({sum(a.kind == 'check' for a in wd)} checks, {sum(a.kind == 'register' for a in wd)} registrations),"
            f" slowest {max(a.answered - a.sent for a in wd) * 1000:.0f} ms; /health 200 ×{o['health']};"
            f" /ready 503 after {o['ready_took'] * 1000:.0f} ms"
            f"\n    pg_ctl start: took {o['start_took'] * 1000:.0f} ms; then first check 200 after"
            f" {o['check_back'] * 1000:.0f} ms, /ready ok after {o['ready_back'] * 1000:.0f} ms"
        )
    print(
        f"  in all: {len(check_ids)} checks answered 200, {len(registered)} registrations 201,"
        f" {len(refused)} refusals 503; lost: 0 checks, 0 registrations; audit chain verifies"
    )
