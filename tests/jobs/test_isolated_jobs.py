"""The server runs each import job in a child process (fujo.jobs.isolated): the import's Python work
does not share the server's interpreter lock with the checks. Killed, the child takes nothing with it
(the server answers on, the job is queued again and redone, all or nothing); a server that stops
while a child runs stops it and queues its job again. On SQLite and PostgreSQL.

To catch a child in the middle of its job, the test holds the lock the import needs: the recipients
table on PostgreSQL (the child has claimed the job and waits at its first row), SQLite's one write
lock (the child waits to claim it)."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import textwrap

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from fujo.db import schema
from tests.db.throwaway_pg import poll
from tests.factories import PAYER, World
from tests.helpers import wait_for_job

COLUMNS = list(World.recipient_data())


def _csv(n: int) -> bytes:
    rows = [World.recipient_data() for _ in range(n)]
    return ("\r\n".join([",".join(COLUMNS)] + [",".join(r[c] for c in COLUMNS) for r in rows]) + "\r\n").encode()


def _recipients(db) -> int:
    with db.read() as c:
        return c.execute(select(func.count()).select_from(schema.recipients)).scalar_one()


def _job(db):
    with db.read() as c:
        return c.execute(select(schema.jobs)).one()


@contextlib.contextmanager
def _import_held(db):
    """Hold what the import must write through until the block ends."""
    if db.is_sqlite:
        conn = sqlite3.connect(db.url.removeprefix("sqlite:///"), isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            conn.execute("ROLLBACK")
            conn.close()
        return
    with db.engine.connect() as conn, conn.begin():
        conn.exec_driver_sql("LOCK TABLE recipients IN SHARE ROW EXCLUSIVE MODE")
        yield


def _submitted(client, app, world, rows: int):
    """An import job of ``rows`` recipients, queued while the server's runner is paused (SQLite's
    write lock, held next, would refuse the job's own row)."""
    app.state.job_runner.close()
    res = client.post("/api/v1/imports/recipients", headers=world.auth("office"), files={"file": ("r.csv", _csv(rows))})
    assert res.status_code == 202 and res.json()["state"] == "queued"
    return res


def _resumed(app) -> None:
    app.state.job_runner.stop.clear()
    app.state.job_runner.wake()


def _child_under_way(app, db):
    """The job's child process once it runs (on PostgreSQL: once it has claimed the job)."""
    runner = app.state.job_runner

    def started():
        child = runner.child
        if child is None or not child.is_alive():
            return None
        return child if db.is_sqlite or _job(db).state == "running" else None

    child = poll(started, 30)
    assert child, "the job's child process did not start"
    return child


def test_a_killed_import_process_leaves_the_server_answering_and_its_job_is_redone(app, world, db):
    r = world.recipient()
    world.ticket(r)
    before = _recipients(db)
    with TestClient(app) as client:
        res = _submitted(client, app, world, 300)
        with _import_held(db):
            _resumed(app)
            child = _child_under_way(app, db)
            assert child.pid != os.getpid()  # the import is not the server's
            if not db.is_sqlite:  # the import waits at its first row: a check is answered meanwhile
                body = {
                    "insurer_number": PAYER,
                    "identification_number": r["recipient_number"],
                    "birthdate": r["birthdate"],
                }
                assert client.post("/api/v1/checks/numbers", json=body, headers=world.auth("clinic")).status_code == 200
            child.kill()  # as the kernel's OOM killer would
        job = wait_for_job(client, res.headers["Location"], world.auth("office"))
        assert client.get("/api/v1/health").json() == {"status": "ok"}  # the server lived on
    assert (job["state"], job["report"]["written"]) == ("done", 300)
    # PostgreSQL: killed after its claim, so this is the job's second run; SQLite: before it
    assert job["attempts"] == (1 if db.is_sqlite else 2)
    assert _recipients(db) == before + 300  # all or nothing: the killed run left no row


def test_a_server_that_stops_stops_its_import_and_queues_the_job_again(app, world, db):
    with TestClient(app) as client:
        _submitted(client, app, world, 5)
        with _import_held(db):
            _resumed(app)
            child = _child_under_way(app, db)
            app.state.job_runner.close(timeout=0.2)  # the server's shutdown, with a short patience
            assert not child.is_alive() and app.state.job_runner.child is None
    job = _job(db)
    assert (job.state, job.lease_owner) == ("queued", None)  # the next start (or `fujo worker`) takes it at once
    assert _recipients(db) == 0


# Three jobs for the server's runner (no such job: each child starts, finds nothing to claim and ends),
# from a server's script or from ``python -c``
_START_JOBS = """
import os
import sys
from fujo.db.database import Database
from fujo.db.migrate import upgrade
from fujo.jobs import isolated
from fujo.jobs.runner import JobRunner
db = Database(sys.argv[1])
upgrade(db)
runner = JobRunner(db, data_dir=os.path.dirname(os.environ["RUNS"]), isolate=True)
for _ in range(3):
    assert isolated.execute(runner, "00000000-0000-0000-0000-000000000000") is False
"""
_SERVER_SCRIPT = (
    "import os\n"
    'with open(os.environ["RUNS"], "a") as f:  # every run of this file, as the server\'s script or again\n'
    "    f.write(__name__ + '\\n')\n"
    'if __name__ == "__main__":\n' + textwrap.indent(_START_JOBS, "    ")
)


def _run(tmp_path, program: list[str], **env: str):
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, *program, f"sqlite:///{tmp_path / 'fujo.db'}"],
        env={**os.environ, "RUNS": str(tmp_path / "runs.txt"), **env},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=os.getcwd(),
    )
    assert done.returncode == 0, done.stderr


def test_a_job_child_does_not_run_the_servers_script_again(tmp_path):
    """A server started by a script (``fujo serve`` is a console script) runs that script once more
    in the fork server, never once per job: multiprocessing would otherwise re-run it (importing the
    whole CLI) in every child."""
    script = tmp_path / "server.py"
    script.write_text(_SERVER_SCRIPT)
    _run(tmp_path, [str(script)])
    assert (tmp_path / "runs.txt").read_text().split() == ["__main__", "__mp_main__"]


def test_a_script_path_inherited_from_another_server_is_not_loaded(tmp_path):
    """A process without a script of its own (``python -c``) that inherited a server's script path
    (a subprocess of that server) loads no script into its fork server."""
    from fujo.jobs.isolated import MAIN_ENV

    script = tmp_path / "server.py"
    script.write_text(_SERVER_SCRIPT)
    _run(tmp_path, ["-c", _START_JOBS], **{MAIN_ENV: str(script)})
    assert not (tmp_path / "runs.txt").exists()  # the other server's script never ran here


def test_a_temp_folder_too_long_for_the_fork_servers_socket_is_named_and_jobs_run_all_the_same(tmp_path):
    """A ``TMPDIR`` whose path leaves no room for the fork server's socket (AF_UNIX: 107 bytes) stopped
    every job from starting, logged only as "job runner: OSError" (the job stayed queued). Now the
    runner says what is wrong, once, and runs the jobs in its own process."""
    import subprocess
    import sys

    deep = tmp_path / ("t" * 60) / ("m" * 60)
    deep.mkdir(parents=True)
    program = (
        "import logging, sys\n"
        "logging.basicConfig(level=logging.INFO, stream=sys.stderr)\n"
        "from fujo.db.database import Database\n"
        "from fujo.db.migrate import upgrade\n"
        "from fujo.jobs.runner import JobRunner\n"
        "db = Database(sys.argv[1]); upgrade(db)\n"
        "runner = JobRunner(db, isolate=True)\n"
        "print([runner.execute('00000000-0000-0000-0000-00000000000%d' % i) for i in range(2)], runner.isolate)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program, f"sqlite:///{tmp_path / 'fujo.db'}"],
        env={**os.environ, "TMPDIR": str(deep)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["[False,", "False]", "False"]  # nothing to claim, in this process
    said = [line for line in done.stderr.splitlines() if "import processes cannot start" in line]
    assert len(said) == 1 and "TMPDIR" in said[0] and "set a shorter TMPDIR" in said[0], done.stderr[-3000:]


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)  # the server's own exit: the same on either database
def test_a_server_stopped_after_a_job_leaves_no_fork_server_folder(world, db, tmp_path):
    """`fujo serve` ends after SIGTERM's graceful shutdown with exit status 0, its ``atexit`` handlers
    run: multiprocessing's removes the job fork server's folder (``pymp-…`` with its socket). uvicorn
    raising the signal again after the shutdown left one in /tmp for every server that ran a job."""
    import shutil
    import signal
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    from fujo import outbound
    from fujo.terminal.localserver import free_port

    # its own temp folder, short: the fork server's socket path must fit AF_UNIX's 108 bytes
    tmp = Path(tempfile.mkdtemp(prefix="fj-", dir="/tmp"))
    port = free_port()
    env = {**os.environ, "FUJO_DATABASE_URL": db.url, "FUJO_DATA_DIR": str(tmp_path), "TMPDIR": str(tmp)}
    fujo = os.path.join(os.path.dirname(sys.executable), "fujo")
    server = subprocess.Popen([fujo, "serve", "--port", str(port)], env=env, stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}"
        assert poll(lambda: _answers(f"{url}/api/v1/health"), 60), "the server did not start"
        res = outbound.post(
            f"{url}/api/v1/imports/recipients", headers=world.auth("office"), files={"file": ("r.csv", _csv(1))}
        )
        assert res.status_code == 202, res.text
        done = poll(lambda: _job(db).state == "done", 60)
        running = [p.name for p in tmp.iterdir() if p.name.startswith("pymp-")]  # the fork server's
    finally:
        server.send_signal(signal.SIGTERM)
        _, err = server.communicate(timeout=30)
    left = [p.name for p in tmp.iterdir()]
    shutil.rmtree(tmp, ignore_errors=True)
    assert done and running, (_job(db), err.decode()[-3000:])
    assert server.returncode == 0, err.decode()[-2000:]
    assert left == []


def _answers(url: str) -> bool:
    from fujo import outbound

    with contextlib.suppress(Exception):
        return outbound.get(url, timeout=1).status_code == 200
    return False
