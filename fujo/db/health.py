"""Whether the database can serve: a read, and — at most every :data:`WRITE_PROBE_EVERY` seconds — a
write (a read-only file or a full disk only shows when writing). For ``/api/v1/ready`` (readiness), which
load balancers poll: it answers within :data:`TIMEOUT` even when the database hangs."""

from __future__ import annotations

import asyncio
import threading
import time

from sqlalchemy import text

from . import faults
from .database import Database, next_values

TIMEOUT = 2.0
WRITE_PROBE_EVERY = 10.0

_last_write: dict[int, float] = {}
_lock = threading.Lock()


def probe(db: Database) -> None:
    """Raises what the database raises (or nothing when it serves)."""
    with db.read() as conn:
        conn.execute(text("SELECT 1"))
    now = time.monotonic()
    with _lock:
        due = now - _last_write.get(id(db), 0.0) >= WRITE_PROBE_EVERY
        if due:
            _last_write[id(db)] = now
    if due:
        try:
            with db.write() as conn:
                next_values(conn, "health_probe")
        except Exception:
            with _lock:
                _last_write.pop(id(db), None)  # probe again next time
            raise


async def check(db: Database) -> faults.Fault | None:
    """None when the database serves, else the fault (a hang counts as unreachable)."""
    try:
        await asyncio.wait_for(asyncio.to_thread(probe, db), TIMEOUT)
    except TimeoutError:
        return faults.DOWN
    except Exception as e:
        fault = faults.classify(e)
        if fault is None:
            raise
        faults.incidents.report(fault, e)
        return fault
    return None
