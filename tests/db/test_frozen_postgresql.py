"""A PostgreSQL that freezes under load (every process of the instance SIGSTOPped: the kernel still
accepts and acknowledges, nothing answers — what a stalled disk or a paused VM looks like).

On a throw-away instance on its own port, `fujo serve` under a load of checks by numbers:
``/api/v1/health`` (liveness) goes on answering 200, the checks end in 503 instead of hanging,
``/api/v1/ready`` says 503 so a load balancer takes the instance out; after SIGCONT the same server
process serves again (no restart) and loses no answered check. The figures are printed (``-s``)
for docs/RELIABILITY.md; nothing here asserts a duration."""

from __future__ import annotations

import concurrent.futures
import signal
import threading
import time

import httpx
from sqlalchemy import text

from fujo import outbound
from fujo.audit.verify import verify
from tests.db.throwaway_pg import poll, served_world, signal_instance
from tests.factories import PAYER

LOAD_THREADS = 4
CLIENT_TIMEOUT = 25.0  # s: above every server-side bound a check can meet (auth 5 s, reads 10 s, record 10 s)


def test_a_frozen_postgresql_under_load_is_survived_without_a_restart(ca, tmp_path):
    with served_world(ca, tmp_path) as (pgdata, proc, base, db, world, people):
        answers: list[tuple[float, float, int, str | None, str | None]] = []  # sent, took, status, code, Retry-After
        check_ids: list[int] = []
        failures: list[str] = []
        lock = threading.Lock()
        stop = threading.Event()

        def body(i: int) -> dict:
            r = people[i % len(people)]
            return {
                "insurer_number": PAYER,
                "identification_number": r["recipient_number"],
                "birthdate": r["birthdate"],
            }

        def check(c: httpx.Client, i: int) -> httpx.Response:
            sent = time.monotonic()
            res = c.post("/api/v1/checks/numbers", json=body(i))
            took = time.monotonic() - sent
            code = res.json()["error"]["code"] if res.status_code != 200 else None
            with lock:
                answers.append((sent, took, res.status_code, code, res.headers.get("Retry-After")))
                if res.status_code == 200:
                    check_ids.append(res.json()["CheckId"])
            return res

        def load(i: int) -> None:
            with outbound.client(base_url=base, headers=world.auth("clinic"), timeout=CLIENT_TIMEOUT) as c:
                n = i
                while not stop.is_set():
                    try:
                        check(c, n)
                    except httpx.HTTPError as e:  # a hang past the client's bound, or a dropped connection
                        with lock:
                            failures.append(type(e).__name__)
                        return
                    n += 1

        threads = [threading.Thread(target=load, args=(i,)) for i in range(LOAD_THREADS)]
        probe = outbound.client(base_url=base, timeout=2.0)  # health and ready: a load balancer's bound
        try:
            for t in threads:
                t.start()
            assert poll(lambda: len(check_ids) >= 50, 20), "the load did not get going"
            before = len(check_ids)

            frozen_at = time.monotonic()
            stopped = signal_instance(pgdata, signal.SIGSTOP)
            assert stopped >= 5, stopped  # postmaster, checkpointer, walwriter … and the backends

            def ready_probe() -> tuple[httpx.Response, float]:
                sent = time.monotonic()
                return probe.get("/api/v1/ready", timeout=5.0), time.monotonic() - sent

            def fresh_check(i: int) -> httpx.Response:
                with outbound.client(base_url=base, headers=world.auth("clinic"), timeout=CLIENT_TIMEOUT) as c:
                    return check(c, i)

            with concurrent.futures.ThreadPoolExecutor(3) as pool:
                pending_ready = pool.submit(ready_probe)
                pending = [pool.submit(fresh_check, i) for i in range(2)]
                # liveness: answered while the checks wait on the frozen database (a 2 s client bound)
                health_took = []
                while not all(p.done() for p in pending) or not health_took:
                    sent = time.monotonic()
                    assert probe.get("/api/v1/health").json() == {"status": "ok"}
                    health_took.append(time.monotonic() - sent)
                    time.sleep(0.2)
                ready, ready_took = pending_ready.result()
                frozen = [p.result() for p in pending]
            # readiness: 503 naming the cause, within its own 2 s probe timeout (client bound 5 s)
            assert ready.status_code == 503, ready.text
            assert ready.headers["Retry-After"] == "5"
            assert ready.json()["error"]["message_en"].endswith("(database unreachable)")
            # fresh checks while frozen: each ends in 503 (the server's bound), none hangs past the client's
            assert [f.status_code for f in frozen] == [503, 503], [f.text for f in frozen]
            assert {f.json()["error"]["code"] for f in frozen} <= {"timeout", "storage_unavailable"}
            frozen_for = time.monotonic() - frozen_at

            resumed_at = time.monotonic()
            signal_instance(pgdata, signal.SIGCONT)

            def recovered() -> bool:
                with outbound.client(base_url=base, headers=world.auth("clinic"), timeout=CLIENT_TIMEOUT) as c:
                    return check(c, 0).status_code == 200

            assert poll(recovered, 30), "checks did not recover after SIGCONT"
            check_back = time.monotonic() - resumed_at
            assert poll(lambda: probe.get("/api/v1/ready", timeout=5.0).status_code == 200, 30)
            ready_back = time.monotonic() - resumed_at
            after = len(check_ids)
            assert poll(lambda: len(check_ids) >= after + 20, 20), "the load did not come back"
            assert proc.poll() is None  # the same server process all along: no restart
        finally:
            stop.set()
            for t in threads:
                t.join(CLIENT_TIMEOUT + 5)
            probe.close()
            signal_instance(pgdata, signal.SIGCONT)  # before the server is stopped: it may be waiting on it

        assert failures == [], failures  # every request got an answer within the client's bound
        statuses = {a[2] for a in answers}
        assert statuses <= {200, 503}, statuses  # no 500, no 502/504: a frozen database is a 503
        refused = [a for a in answers if a[2] == 503]
        assert refused and {a[3] for a in refused} <= {"timeout", "storage_unavailable"}, refused[:3]
        # the token lookup's bound (storage_unavailable) and the check's own (timeout) both say when to retry
        assert all(a[4] == "5" for a in refused), refused
        with db.engine.connect() as conn:
            logged = set(conn.execute(text("SELECT id FROM check_log")).scalars())
        lost = set(check_ids) - logged
        assert not lost, f"{len(lost)} answered checks are not in check_log"
        report = verify(db)
        assert report.problem is None, report.problem
        db.dispose()

    in_freeze = [a for a in refused if frozen_at <= a[0] + a[1] and a[0] <= resumed_at]
    print(
        f"\nfrozen PostgreSQL ({stopped} processes SIGSTOPped for {frozen_for:.1f} s, {LOAD_THREADS} load threads):"
        f"\n  checks answered 200 before the freeze: {before}; in all: {len(check_ids)}, lost: {len(lost)}"
        f"\n  /health while frozen: max {max(health_took) * 1000:.0f} ms over {len(health_took)} calls"
        f"\n  /ready while frozen: 503 after {ready_took * 1000:.0f} ms"
        f"\n  checks refused 503 while frozen: {len(in_freeze)}, after {min(a[1] for a in in_freeze):.1f}"
        f"–{max(a[1] for a in in_freeze):.1f} s; codes {sorted({str(a[3]) for a in in_freeze})};"
        f" Retry-After on {sum(1 for a in in_freeze if a[4])} of them"
        f"\n  after SIGCONT: first check 200 after {check_back * 1000:.0f} ms, /ready ok after {ready_back * 1000:.0f} ms"
    )
