"""``fujo worker``: ``--once`` delivers what is due (a fresh process picks up where the last stopped);
without it the worker runs until SIGTERM and stops cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from typer.testing import CliRunner

from fujo.cli.main import app
from fujo.webhooks import service


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
