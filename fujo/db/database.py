"""The database handle every service receives: read and write transactions, counters, clock.

``write()`` takes SQLite's write lock at BEGIN (BEGIN IMMEDIATE) so two writers never collide on
a lock upgrade; on PostgreSQL it is an ordinary transaction. Either way a failure rolls back the
whole transaction: a half-done write never remains.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any, TypeAlias, overload

from sqlalchemy import select, update
from sqlalchemy.engine import Connection, Engine, Row

from ..core.dates import JST
from . import schema
from .engine import make_engine

DbRow: TypeAlias = Row[*tuple[Any, ...]]
"""A result row of any shape: services read Core rows by attribute (their columns are typed Any)."""
InTx = Callable[[Connection, dict[str, Any]], None] | None
"""Called inside a write transaction with the resource written (idempotency keys are stored so)."""


class Database:
    def __init__(self, url: str, engine: Engine | None = None):
        self.url = url
        self.engine = engine or make_engine(url)
        self.is_sqlite = self.engine.dialect.name == "sqlite"

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    @contextlib.contextmanager
    def read_statements(self) -> Iterator[Connection]:
        """A read whose statements are each their own snapshot: on PostgreSQL without the BEGIN and
        ROLLBACK round trips of :meth:`read` (for a read that is one statement: the check by numbers);
        on SQLite (in-process: no round trips) an ordinary read."""
        if self.is_sqlite:
            with self.read() as conn:
                yield conn
            return
        with self.engine.connect() as conn:
            yield conn.execution_options(isolation_level="AUTOCOMMIT")

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            conn = conn.execution_options(fujo_write=True)
            with conn.begin():
                yield conn

    @staticmethod
    def now() -> dt.datetime:
        return dt.datetime.now(JST)

    def dispose(self) -> None:
        self.engine.dispose()


def next_values(conn: Connection, name: str, count: int = 1) -> int:
    """Reserve ``count`` numbers of counter ``name``; returns the first. The row lock taken by the
    UPDATE is held to commit, so numbers become visible in the order they were handed out."""
    res = conn.execute(
        update(schema.counters)
        .where(schema.counters.c.name == name)
        .values(value=schema.counters.c.value + count)
        .returning(schema.counters.c.value)
    ).scalar()
    if res is None:
        conn.execute(schema.counters.insert().values(name=name, value=count))
        res = count
    return res - count + 1


def current_value(conn: Connection, name: str) -> int:
    return conn.execute(select(schema.counters.c.value).where(schema.counters.c.name == name)).scalar() or 0


@overload
def aware(ts: dt.datetime) -> dt.datetime: ...
@overload
def aware(ts: None) -> None: ...
@overload
def aware(ts: dt.datetime | None) -> dt.datetime | None: ...
def aware(ts: dt.datetime | None) -> dt.datetime | None:
    """SQLite hands back naive datetimes (stored as JST wall time); PostgreSQL aware ones."""
    if ts is None:
        return None
    return ts.replace(tzinfo=JST) if ts.tzinfo is None else ts.astimezone(JST)
