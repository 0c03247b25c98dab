"""Counters of fixed time windows kept in the database (``rate_windows``), so that rate limits and
the sign-in throttle hold across every server process (``fujo serve --workers N``, or several
servers on one PostgreSQL) and across restarts."""

from __future__ import annotations

import time
from collections.abc import Iterable

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite

from . import schema as s
from .database import Database

w_ = s.rate_windows
KEEP = 24 * 3600  # windows older than this are deleted now and then


def window_start(window: int, now: float | None = None) -> int:
    t = time.time() if now is None else now
    return int(t // window * window)


def add(db: Database, key: str, window: int, n: int = 1, now: float | None = None) -> int:
    """Add ``n`` to ``key``'s current window; the window's total (every process's) afterwards."""
    start = window_start(window, now)
    dialect = sqlite if db.is_sqlite else postgresql
    stmt = dialect.insert(w_).values(key=key[:120], window_start=start, count=n)
    stmt = stmt.on_conflict_do_update(
        index_elements=[w_.c.key, w_.c.window_start], set_={"count": w_.c.count + stmt.excluded.count}
    ).returning(w_.c.count)
    with db.write() as conn:
        total = conn.execute(stmt).scalar_one()
        if start % 3600 < window and total == n:  # the first hit of a new hour's first window: tidy up
            conn.execute(delete(w_).where(w_.c.window_start < start - KEEP))
    return int(total)


def count(db: Database, keys: Iterable[str], window: int, now: float | None = None) -> dict[str, int]:
    """The current window's totals of ``keys`` (0 for a key without hits)."""
    ks = [k[:120] for k in keys]
    start = window_start(window, now)
    with db.read() as conn:
        rows = conn.execute(
            select(w_.c.key, w_.c.count.label("n")).where(w_.c.key.in_(ks), w_.c.window_start == start)
        ).all()
    found = {r.key: int(r.n) for r in rows}  # (a Row's own .count is tuple.count)
    return {k: found.get(k, 0) for k in ks}


def clear(db: Database, keys: Iterable[str]) -> None:
    with db.write() as conn:
        conn.execute(delete(w_).where(w_.c.key.in_([k[:120] for k in keys])))
