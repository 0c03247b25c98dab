"""A PostgreSQL instance of a test's own (initdb, its own port) that the test may freeze, stop and
start again, and `fujo serve` on it in its own process: the helpers of the fault tests under load
(tests/db/test_frozen_postgresql.py, tests/db/test_stopped_postgresql.py)."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
from sqlalchemy import create_engine, text

from fujo import outbound
from fujo.terminal.localserver import free_port

PG_BIN = Path(sorted(glob.glob("/usr/lib/postgresql/*/bin"))[-1]) if glob.glob("/usr/lib/postgresql/*/bin") else None

T = TypeVar("T")


def as_postgres() -> list[str]:
    """initdb refuses root: as root, run the instance as the ``postgres`` user."""
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def pg_ctl(data: Path, *args: str) -> subprocess.CompletedProcess:
    """``pg_ctl -D data …`` as the instance's user (``-w``: waits until it is done)."""
    assert PG_BIN is not None
    return subprocess.run([*as_postgres(), str(PG_BIN / "pg_ctl"), "-D", str(data), *args], capture_output=True)


def start_instance(data: Path) -> None:
    """Start the instance again, on the port and socket it was made with (its postgresql.conf)."""
    log = data.parent / "log"
    started = pg_ctl(data, "-l", str(log), "-w", "-t", "30", "start")
    assert started.returncode == 0, started.stderr.decode() + (log.read_text() if log.exists() else "")


def stop_instance(data: Path, mode: str) -> None:
    """``pg_ctl stop -m mode`` (smart, fast or immediate), waiting until the postmaster is gone."""
    stopped = pg_ctl(data, "-m", mode, "-w", "-t", "30", "stop")
    assert stopped.returncode == 0, stopped.stderr.decode()


@contextlib.contextmanager
def throwaway_postgresql() -> Iterator[tuple[str, Path]]:
    """A PostgreSQL instance of its own (initdb, pg_ctl) on a free port; its URL and data directory.
    Always resumed and stopped at the end, whatever happened."""
    assert PG_BIN is not None, "the PostgreSQL server binaries are needed (/usr/lib/postgresql/*/bin)"
    base = Path(tempfile.mkdtemp(prefix="fujo-pg-"))  # not pytest's tmp_path: the postgres user must reach it
    data, sock = base / "data", base / "sock"
    sock.mkdir()
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
        shutil.chown(sock, "postgres", "postgres")
    port = free_port()
    initdb = [str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-N"]
    subprocess.run([*as_postgres(), *initdb, "-E", "UTF8", "--locale=C"], check=True, capture_output=True)
    # in its configuration, not on pg_ctl's command line: a test that stops it starts it the same way
    with (data / "postgresql.conf").open("a") as conf:
        conf.write(
            f"\nlisten_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = '{sock}'\n"
            "fsync = off\nfull_page_writes = off\n"
        )
    try:
        start_instance(data)
        admin = create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text("CREATE DATABASE fujo"))
        admin.dispose()
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/fujo", data
    finally:
        signal_instance(data, signal.SIGCONT)  # a stopped instance cannot be shut down
        pg_ctl(data, "-m", "immediate", "-w", "stop")
        shutil.rmtree(base, ignore_errors=True)


def instance_pids(data: Path) -> list[int]:
    """The postmaster and every process it started (backends, checkpointer, walwriter …)."""
    try:
        postmaster = int((data / "postmaster.pid").read_text().split()[0])
    except (FileNotFoundError, IndexError, ValueError):
        return []
    children = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            fields = Path(stat).read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        if int(fields[1]) == postmaster:  # fields[1] is the parent's pid
            children.append(int(stat.split("/")[2]))
    return [postmaster, *children]


def signal_instance(data: Path, sig: signal.Signals) -> int:
    """``sig`` to the whole instance: the postmaster first when stopping (it can fork no more
    backends then), last when resuming. The number of processes signalled."""
    pids = instance_pids(data)
    for pid in pids if sig == signal.SIGSTOP else reversed(pids):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
    return len(pids)


@contextlib.contextmanager
def fujo_serve(url: str, data_dir: Path) -> Iterator[tuple[subprocess.Popen, str]]:
    """`fujo serve` on the database, in its own process; the process and its URL. It connects only
    when asked, so it may start before the migration (its imports overlap the test's setup)."""
    port = free_port()
    env = {**os.environ, "FUJO_DATABASE_URL": url, "FUJO_DATA_DIR": str(data_dir)}
    fujo = os.path.join(os.path.dirname(sys.executable), "fujo")
    proc = subprocess.Popen(
        [fujo, "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        yield proc, f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def wait_ready(proc: subprocess.Popen, base: str) -> None:
    """Until the server answers /ready 200: a bound, not a speed (its imports take 10 s and more on a
    busy 2-CPU machine)."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if outbound.get(f"{base}/api/v1/ready", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise AssertionError("the server did not start")


@contextlib.contextmanager
def served_world(ca, tmp_path: Path) -> Iterator[tuple[Path, subprocess.Popen, str, Any, Any, list[dict]]]:
    """A throw-away PostgreSQL, migrated, with five recipients holding a 医療券 each, served by
    ``fujo serve`` in its own process once it is ready: (pgdata, process, base URL, db, world, people)."""
    from fujo.db.database import Database
    from fujo.db.migrate import upgrade
    from tests.factories import World

    with throwaway_postgresql() as (url, pgdata), fujo_serve(url, tmp_path) as (proc, base):
        db = Database(url)
        try:
            upgrade(db)
            world = World(db, ca, tmp_path)
            people = [world.recipient() for _ in range(5)]
            for r in people:
                world.ticket(r)
            wait_ready(proc, base)
            yield pgdata, proc, base, db, world, people
        finally:
            db.dispose()


def poll(fn: Callable[[], T], seconds: float, every: float = 0.05) -> T:
    """``fn()`` until it returns something true, for at most ``seconds``; that value (or the last)."""
    deadline = time.monotonic() + seconds
    while True:
        got = fn()
        if got or time.monotonic() >= deadline:
            return got
        time.sleep(every)
