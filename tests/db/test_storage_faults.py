"""When the storage fails underneath: 503 (507 for a full disk) with Retry-After and a sentence the
caller can act on, one log line per incident, /ready telling the truth while /health (liveness)
stays 200 — and nothing hangs."""

from __future__ import annotations

import concurrent.futures
import errno
import logging
import os
import sqlite3
import subprocess

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from fujo import outbound
from fujo.api.app import create_app
from fujo.config import Settings
from fujo.db import faults, health
from fujo.db.database import Database
from fujo.db.migrate import upgrade
from fujo.terminal.localserver import LocalServer
from tests.factories import PAYER, World

# --- the classification, without a database ---------------------------------------------------


@pytest.mark.parametrize(
    ("orig", "expected"),
    [
        (sqlite3.OperationalError("database or disk is full"), faults.DISK_FULL),
        (sqlite3.OperationalError("attempt to write a readonly database"), faults.READ_ONLY),
        (sqlite3.OperationalError("database is locked"), faults.TIMEOUT),
        (sqlite3.OperationalError("unable to open database file"), faults.DOWN),
        (psycopg.errors.DiskFull("could not extend file"), faults.DISK_FULL),
        (psycopg.errors.ReadOnlySqlTransaction("read-only"), faults.READ_ONLY),
        (psycopg.errors.QueryCanceled("statement timeout"), faults.TIMEOUT),
        (psycopg.errors.LockNotAvailable("lock timeout"), faults.TIMEOUT),
        (psycopg.OperationalError("connection refused"), faults.DOWN),
    ],
)
def test_driver_errors_are_classified(orig, expected):
    assert faults.classify(OperationalError("SELECT …", {}, orig)) == expected


def test_a_programming_error_is_not_a_storage_fault():
    assert faults.classify(ValueError("bug")) is None


def test_one_log_line_per_incident_not_one_per_request(caplog):
    log = faults.IncidentLog(window=3600)
    exc = OperationalError("SELECT", {}, sqlite3.OperationalError("database or disk is full: /secret/path 生保一郎"))
    with caplog.at_level(logging.INFO, logger="fujo.storage"):
        for _ in range(1000):
            log.report(faults.DISK_FULL, exc)
    lines = [r.getMessage() for r in caplog.records if r.name == "fujo.storage"]
    assert lines == ["storage fault: disk full (OperationalError); answering 507"]
    assert "生保一郎" not in caplog.text and "/secret/path" not in caplog.text


# --- real databases that fail -------------------------------------------------------------------


def _client(db: Database, tmp_path, ca) -> TestClient:
    app = create_app(Settings(database_url=db.url, data_dir=tmp_path), db, ca)
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def small_disk(tmp_path):
    """A 16 MB filesystem of its own (tmpfs; the tests run as root, as CI does)."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mnt)], capture_output=True)
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def _fill(disk) -> None:
    """Write until the filesystem says ENOSPC."""
    with open(disk / "filler", "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
                os.fsync(f.fileno())
        except OSError as e:
            assert e.errno == errno.ENOSPC


def test_a_full_disk_answers_507_with_retry_after_and_records_nothing(small_disk, tmp_path, ca):
    db = Database(f"sqlite:///{small_disk / 'fujo.db'}")
    upgrade(db)
    world = World(db, ca, tmp_path)
    r = world.recipient()
    world.ticket(r)
    body = {"insurer_number": PAYER, "identification_number": r["recipient_number"], "birthdate": r["birthdate"]}
    with _client(db, tmp_path, ca) as client:
        assert client.post("/api/v1/checks/numbers", json=body, headers=world.auth("clinic")).status_code == 200
        _fill(small_disk)
        answers = [client.post("/api/v1/checks/numbers", json=body, headers=world.auth("clinic")) for _ in range(50)]
        answers.append(client.post("/api/v1/recipients", json=world.recipient_data(), headers=world.auth("office")))
        assert {a.status_code for a in answers} == {507}, [a.status_code for a in answers][:5]
        err = answers[0].json()["error"]
        assert (err["code"], answers[0].headers["Retry-After"]) == ("storage_full", "60")
        assert "保存領域が一杯" in err["message_ja"]
        assert "INSERT" not in answers[0].text and "sqlite" not in answers[0].text.lower()
        health._last_write.pop(id(db), None)
        assert client.get("/api/v1/health").status_code == 200  # liveness: the process serves
        res = client.get("/api/v1/ready")
        assert res.status_code == 507 and res.json()["error"]["code"] == "storage_full"
        assert "(disk full)" in res.json()["error"]["message_en"]
        (small_disk / "filler").unlink()  # space again: the server serves again, nothing was restarted
        health._last_write.pop(id(db), None)
        assert client.get("/api/v1/ready").status_code == 200
        assert client.post("/api/v1/checks/numbers", json=body, headers=world.auth("clinic")).status_code == 200
    with db.engine.connect() as c:  # the two answered checks are recorded, none of the refused ones
        assert c.execute(text("SELECT count(*) FROM check_log WHERE method = 'numbers'")).scalar() == 2
    db.dispose()


def test_a_read_only_database_answers_503_and_health_says_so(tmp_path, ca):
    path = tmp_path / "ro.db"
    rw = Database(f"sqlite:///{path}")
    upgrade(rw)
    world = World(rw, ca, tmp_path)
    r = world.recipient()
    rw.dispose()
    ro = Database(f"sqlite:///file:{path}?mode=ro&uri=true")
    with _client(ro, tmp_path, ca) as client:
        res = client.post("/api/v1/recipients", json=world.recipient_data(), headers=world.auth("office"))
        assert res.status_code == 503, res.text
        assert res.json()["error"]["code"] == "storage_read_only"
        assert res.headers["Retry-After"] == "5"
        assert (
            client.get(f"/api/v1/recipients/{PAYER}/{r['recipient_number']}", headers=world.auth("office")).status_code
            == 200
        )
        health._last_write.pop(id(ro), None)
        res = client.get("/api/v1/ready")
        assert res.status_code == 503 and res.json()["error"]["code"] == "storage_read_only"
    ro.dispose()


def test_a_stopped_postgresql_answers_503_at_once(tmp_path, ca):
    down = Database("postgresql+psycopg://postgres@127.0.0.1:1/test")  # nothing listens on port 1
    app = create_app(Settings(database_url=down.url, data_dir=tmp_path), down, ca)
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/api/v1/health").status_code == 200  # liveness never touches the database
        res = client.get("/api/v1/ready")
        assert res.status_code == 503 and res.headers["Retry-After"] == "5"
        assert res.json()["error"]["message_en"].endswith("(database unreachable)")
        res = client.post(
            "/api/v1/checks/numbers", json={"insurer_number": PAYER}, headers={"Authorization": "Bearer fujo_x"}
        )
        assert res.status_code == 503
        assert res.json()["error"]["code"] == "storage_unavailable"
        assert res.headers["Retry-After"] == "5"
    down.dispose()


def test_a_hung_database_does_not_freeze_the_server(postgresql_database, ca, tmp_path, monkeypatch):
    """A lock held elsewhere stops every check's read; the server goes on answering /health and
    the screens while the checks wait, and the checks end in 503, never hang."""
    from fujo.eligibility import service as checks
    from tests.conftest import _empty

    db = postgresql_database
    _empty(db)
    world = World(db, ca, tmp_path)
    r = world.recipient()
    world.ticket(r)
    # long enough that /health and the sign-in page answer first even when both cores are loaded
    # (at 3 s a loaded run saw the checks end before them)
    monkeypatch.setattr(checks, "CHECK_TIMEOUT", 10.0)
    app = create_app(Settings(database_url=db.url, data_dir=tmp_path), db, ca)
    body = {"insurer_number": PAYER, "identification_number": r["recipient_number"], "birthdate": r["birthdate"]}
    locker = db.engine.connect()
    tx = locker.begin()
    locker.execute(text("LOCK TABLE tickets IN ACCESS EXCLUSIVE MODE"))
    try:
        with LocalServer(app) as server, concurrent.futures.ThreadPoolExecutor(4) as pool:
            auth = world.auth("clinic")
            pending = [
                pool.submit(httpx.post, f"{server.url}/api/v1/checks/numbers", json=body, headers=auth, timeout=30)
                for _ in range(3)
            ]
            served = outbound.get(f"{server.url}/api/v1/health", timeout=30)
            login = outbound.get(f"{server.url}/login", timeout=30)
            assert served.status_code == 200 and login.status_code == 200
            assert not all(p.done() for p in pending)  # the checks were still waiting meanwhile
            answers = [p.result() for p in pending]
        assert {a.status_code for a in answers} == {503}
        assert answers[0].json()["error"]["code"] == "timeout"
    finally:
        tx.rollback()
        locker.close()


def test_every_postgresql_session_has_its_waits_bounded_and_no_jit(postgresql_database):
    """The limits fujo.db.engine sets on each PostgreSQL connection, as the server reports them."""
    from sqlalchemy import text as sql

    from fujo.db import engine as e

    with postgresql_database.read() as c:
        got = {k: c.execute(sql(f"SHOW {k}")).scalar() for k in ("statement_timeout", "lock_timeout", "jit")}
    assert got == {
        "statement_timeout": f"{e.STATEMENT_TIMEOUT_MS // 1000}s",
        "lock_timeout": f"{e.LOCK_TIMEOUT_MS // 1000}s",
        "jit": "off",
    }
