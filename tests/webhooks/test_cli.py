"""``fujo worker``: ``--once`` delivers what is due (a fresh process picks up where the last stopped);
without it the worker runs until SIGTERM and stops cleanly; killed (SIGKILL) in the middle of a
delivery, another worker process delivers everything once the dead one's lease has expired."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from fujo.cli.main import app
from fujo.db import schema as s
from fujo.webhooks import service
from tests.factories import CLINIC, PHARMACY


def test_worker_once_delivers_what_is_due(world, db, receiver, monkeypatch):
    hook = service.register_webhook(db, world.principal("clinic"), url=receiver.url + "/cli")
    receiver.secret = hook["secret"]
    world.ticket(world.recipient())
    world.ticket(world.recipient())
    monkeypatch.setenv("FUJO_DATABASE_URL", db.url)
    res = CliRunner().invoke(app, ["worker", "--once", "--timeout", "0.5"])
    assert res.exit_code == 0, res.output
    assert "delivered 2 event(s)" in res.output
    assert len(receiver.accepted()) == 2 and all(r.verified for r in receiver.requests)
    world.ticket(world.recipient())  # a new process, later: only what is new
    res = CliRunner().invoke(app, ["worker", "--once", "--timeout", "0.5"])
    assert "delivered 1 event(s)" in res.output and len(receiver.accepted()) == 3


def test_worker_runs_until_sigterm(sqlite_database, tmp_path):
    env = {**os.environ, "FUJO_DATABASE_URL": sqlite_database.url, "FUJO_DATA_DIR": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-c", "from fujo.cli.main import app; app()", "worker", "--interval", "0.1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 15
        line = ""
        while time.monotonic() < deadline and "started" not in line:
            line = proc.stderr.readline() if proc.stderr else ""
            if not line and proc.poll() is not None:
                break
        assert "started" in line, line
        time.sleep(0.3)  # a few idle passes
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "stopped" in err and "Traceback" not in err


# a worker process with short waits: a lost claim expires after 4 × --timeout = 2 s (the worker never
# lets a lease be shorter than an attempt could take)
WORKER = [
    *("worker", "--interval", "0.05", "--timeout", "0.5", "--backoff", "0.05", "--backoff-cap", "0.2"),
    *("--lease", "0.1"),
]


def _worker(env: dict, log) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", "from fujo.cli.main import app; app()", *WORKER],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )


def _until(done, proc: subprocess.Popen, what: str, seconds: float = 30) -> None:
    """Poll ``done()`` until true; fail when ``seconds`` pass or the worker exits (a bound, not a timing assertion)."""
    deadline = time.monotonic() + seconds
    while not done():
        assert proc.poll() is None, f"the worker exited ({proc.returncode}) before {what}"
        assert time.monotonic() < deadline, f"no {what} within {seconds} s"
        time.sleep(0.02)


# two worker processes against one database: PostgreSQL's case (the services' tests run on both databases;
# this one costs two process starts and a lease's expiry, so once)
@pytest.mark.parametrize("db", ["postgresql"], indirect=True)
def test_a_worker_killed_mid_delivery_loses_nothing(world, db, receiver, tmp_path):
    """Events pending for two facilities; the first worker delivers one, then the receiver holds the
    next request unanswered and the worker is SIGKILLed while it waits. A second worker process sends
    every event id — the one in flight again, with the same id — in order per facility, signed."""
    clinic = service.register_webhook(db, world.principal("clinic"), url=receiver.url + "/clinic")
    pharmacy = service.register_webhook(db, world.principal("pharmacy"), url=receiver.url + "/pharmacy")
    receiver.secrets = {"/clinic": clinic["secret"], "/pharmacy": pharmacy["secret"]}
    expected = {
        "/clinic": [service.event_id(CLINIC, world.ticket(world.recipient())["seq"]) for _ in range(3)],
        "/pharmacy": [
            service.event_id(PHARMACY, world.ticket(world.recipient(), facility=PHARMACY)["seq"]) for _ in range(2)
        ],
    }
    receiver.script = ["ok", "block"]
    env = {**os.environ, "FUJO_DATABASE_URL": db.url, "FUJO_DATA_DIR": str(tmp_path)}
    with (tmp_path / "worker1.log").open("wb") as log1, (tmp_path / "worker2.log").open("wb") as log2:
        first = _worker(env, log1)
        try:
            _until(receiver.blocked.is_set, first, "request held by the receiver")
            first.kill()  # SIGKILL: no handler, no clean-up, its claim on the webhook stays behind
            assert first.wait(10) == -signal.SIGKILL
        finally:
            if first.poll() is None:
                first.kill()
                first.wait()
        held = receiver.requests[-1]
        assert held.answered is None and len(receiver.accepted()) == 1
        d, ep = s.webhook_deliveries, s.webhook_endpoints
        with db.read() as conn:  # killed mid-delivery: the attempt never came to be recorded
            assert conn.execute(select(d.c.id).where(d.c.event_id == held.event["id"])).first() is None
            owners = set(conn.execute(select(ep.c.lease_owner).where(ep.c.lease_owner.is_not(None))).scalars())
        assert len(owners) == 1  # … and the dead worker still holds the webhook it was serving

        second = _worker(env, log2)
        try:
            everything = {i for ids in expected.values() for i in ids}
            _until(lambda: everything <= {e["id"] for e in receiver.accepted()}, second, "delivery of every event")
            second.send_signal(signal.SIGTERM)
            second.wait(10)
        finally:
            if second.poll() is None:
                second.kill()
                second.wait()
    for path, ids in expected.items():
        got = receiver.accepted(path)
        assert list(dict.fromkeys(e["id"] for e in got)) == ids, path  # every id, in order, at least once
        assert [e["seq"] for e in got] == sorted(e["seq"] for e in got)
    assert held.event["id"] in {e["id"] for e in receiver.accepted()}  # the one in flight, sent again
    assert all(r.verified for r in receiver.requests)
    assert second.returncode == 0, (tmp_path / "worker2.log").read_text()
