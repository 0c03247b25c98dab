"""kill -9 of the server under mixed load loses no acknowledged write: every check answered 2xx has
its audit record, every registration answered 201 is there — on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import httpx
from sqlalchemy import text

from fujo import outbound
from fujo.terminal.localserver import free_port
from tests.factories import PAYER, World

STOP_AFTER = 120  # acknowledged writes before the kill


def _serve(db, tmp_path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "FUJO_DATABASE_URL": db.url, "FUJO_DATA_DIR": str(tmp_path)}
    fujo = os.path.join(os.path.dirname(sys.executable), "fujo")
    proc = subprocess.Popen(
        [fujo, "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if outbound.get(f"{url}/api/v1/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.05)
    proc.kill()
    raise AssertionError("the server did not start")


def test_kill_9_under_mixed_load_loses_no_acknowledged_write(world: World, db, tmp_path):
    people = [world.recipient() for _ in range(5)]
    for r in people:
        world.ticket(r)
    proc, url = _serve(db, tmp_path)
    check_ids: list[int] = []
    registered: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def checks(i: int) -> None:
        with outbound.client(base_url=url, headers=world.auth("clinic"), timeout=10) as c:
            while not stop.is_set():
                r = people[i % len(people)]
                body = {
                    "insurer_number": PAYER,
                    "identification_number": r["recipient_number"],
                    "birthdate": r["birthdate"],
                }
                try:
                    res = c.post("/api/v1/checks/numbers", json=body)
                except httpx.HTTPError:
                    return  # the server is gone
                if res.status_code == 200:
                    with lock:
                        check_ids.append(res.json()["CheckId"])

    def registrations() -> None:
        with outbound.client(base_url=url, headers=world.auth("office"), timeout=10) as c:
            while not stop.is_set():
                data = World.recipient_data()
                try:
                    res = c.post("/api/v1/recipients", json=data)
                except httpx.HTTPError:
                    return
                if res.status_code == 201:
                    with lock:
                        registered.append(data["recipient_number"])

    threads = [threading.Thread(target=checks, args=(i,)) for i in range(6)] + [threading.Thread(target=registrations)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60
    while len(check_ids) + len(registered) < STOP_AFTER and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)  # mid-flight: requests are being answered right now
    proc.wait(10)
    stop.set()
    for t in threads:
        t.join(15)
    assert len(check_ids) >= STOP_AFTER // 2 and registered, (len(check_ids), len(registered))
    with db.engine.connect() as conn:
        logged = set(conn.execute(text("SELECT id FROM check_log")).scalars())
        rows = set(conn.execute(text("SELECT recipient_number FROM recipients")).scalars())
    assert set(check_ids) <= logged, f"{len(set(check_ids) - logged)} acknowledged checks lost"
    assert set(registered) <= rows, f"{len(set(registered) - rows)} acknowledged registrations lost"
