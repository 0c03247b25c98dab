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

from sqlalchemy import ColumnElement, String, Table, any_, literal, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection, Dialect, Engine, Row

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


def insert_many(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """``conn.execute(table.insert(), rows)`` for many rows with the same keys. On SQLite, the driver's
    executemany over tuples made with each column's own bind processor (what SQLAlchemy does per row,
    done once a column): an import's rows are written under the database's one write lock, and
    SQLAlchemy's per-row parameter work was most of that time (50,000 recipients: ≈ 1 s)."""
    prepared = prepare_insert(conn.dialect, table, rows)
    if prepared is not None:
        conn.exec_driver_sql(*prepared)
    elif rows:  # not SQLite, or columns SQLAlchemy fills in (Python-side defaults)
        conn.execute(table.insert(), rows)


def prepare_insert(
    dialect: Dialect, table: Table, rows: list[dict[str, Any]]
) -> tuple[str, list[tuple[Any, ...]]] | None:
    """What :func:`insert_many` sends SQLite for ``rows`` — the statement and the driver's parameter
    tuples — made *before* the write transaction (run it with ``conn.exec_driver_sql(sql, params)``):
    the bind processors are pure functions of the values, so the per-row work need not be done while
    the database's one write lock is held. None where :func:`insert_many` leaves the rows to
    SQLAlchemy (not SQLite, no rows, or a column with a Python-side default)."""
    if dialect.name != "sqlite" or not rows:
        return None
    keys = list(rows[0])
    if any(c.default is not None and c.key not in keys for c in table.c):
        return None
    compiled = table.insert().compile(dialect=dialect, column_keys=keys)
    order = compiled.positiontup or keys
    procs = [table.c[k].type.dialect_impl(dialect).bind_processor(dialect) for k in order]
    params = [
        tuple(r[k] if p is None or r[k] is None else p(r[k]) for k, p in zip(order, procs, strict=True)) for r in rows
    ]
    return str(compiled), params


def one_of(conn: Connection, column: ColumnElement[Any], values: list[str]) -> ColumnElement[bool]:
    """``column IN values``: on PostgreSQL as ``= ANY(array)``, one parameter whatever the count. The
    driver prepares a statement it has run five times, and its generic plan (plan_cache_mode,
    fujo.db.engine) for a list of hundreds of parameters over the partitioned tickets took 3× as
    long as for one array (measured on the change feed: 55–98 ms against 20–35 ms for 500 keys)."""
    if conn.dialect.name == "postgresql":
        return column == any_(literal(values, ARRAY(String)))
    return column.in_(values)


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
