"""Engine creation: one code path for SQLite and PostgreSQL."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError

# Nothing waits forever on the database (a hung server, a lock held elsewhere): a request that would
# is answered 503 instead (fujo.db.faults), and the worker thread it held comes back.
CONNECT_TIMEOUT = 5  # s to open a PostgreSQL connection
STATEMENT_TIMEOUT_MS = 30_000  # the longest statement we run (a month's bulk read) takes well under a second
LOCK_TIMEOUT_MS = 10_000  # waiting for a row or table lock
IDLE_IN_TRANSACTION_MS = 60_000  # a transaction left open by a crashed client is ended by the server
POOL_TIMEOUT = 10  # s to wait for a free pooled connection
SQLITE_BUSY_MS = 10_000  # waiting for SQLite's write lock (the group commit takes it briefly)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_MS / 1000},
            pool_size=8,
            max_overflow=8,
            pool_timeout=POOL_TIMEOUT,
            hide_parameters=True,
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _):
            # Let SQLAlchemy (not pysqlite) decide when a transaction starts so BEGIN IMMEDIATE works.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
            cur.execute("PRAGMA synchronous=NORMAL")  # durable at checkpoints; safe with WAL
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn):
            # Writers take the lock up front: no deadlock-prone read→write upgrade under load.
            conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("fujo_write") else "BEGIN")

        return engine
    # hide_parameters: a database error must never carry the query's values (personal data) into a log.
    # jit=off: our queries are short index walks; PostgreSQL's JIT compiled the month download's query
    # (10,000 rows clear its cost threshold) for 30–45 ms on every page of the FHIR search (measured).
    # plan_cache_mode=force_generic_plan: a statement the driver has prepared (psycopg: from its fifth
    # use on a connection) is planned once, not at every execution. PostgreSQL would otherwise keep
    # planning anew each time any statement on the partitioned tickets (fujo.db.partitions): a generic
    # plan's estimate counts every month's partition, the run-time pruning that leaves one is not
    # priced, so the custom plan always looks cheaper — 0.55 ms of planning a check (measured: the
    # check's read 0.99 → 0.39 ms on 1.1 million tickets in 13 months' partitions, as on one table).
    # Our repeated statements are index look-ups whose best plan does not depend on the values.
    options = (
        f"-c statement_timeout={STATEMENT_TIMEOUT_MS} -c lock_timeout={LOCK_TIMEOUT_MS} "
        f"-c idle_in_transaction_session_timeout={IDLE_IN_TRANSACTION_MS} -c jit=off "
        "-c plan_cache_mode=force_generic_plan"
    )
    engine = create_engine(
        url,
        pool_size=10,
        max_overflow=10,
        pool_timeout=POOL_TIMEOUT,
        hide_parameters=True,
        connect_args={"connect_timeout": CONNECT_TIMEOUT, "options": options},
    )
    _ping_when_idle(engine)
    return engine


# A pooled connection that has been idle is tested (SELECT 1) before it is handed out, so that the
# first request after a PostgreSQL restart reconnects instead of failing. SQLAlchemy's pool_pre_ping
# tests every checkout: a second round trip for every check by numbers, whose read is one statement
# (0.75 → 0.65 ms without it, docs/PERFORMANCE.md). A connection back in the pool for less than this
# was just used successfully; if the server went away since, the statement fails with a disconnect,
# and SQLAlchemy then replaces every older connection of the pool at its next checkout.
PING_AFTER_IDLE = 1.0  # seconds


def _ping_when_idle(engine: Engine) -> None:
    @event.listens_for(engine, "checkin")
    def _idle_from(_dbapi_conn: Any, record: Any) -> None:
        record.info["fujo_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.pop("fujo_idle_since", None)
        if since is None or time.monotonic() - since < PING_AFTER_IDLE:
            return  # a new connection, or one that has just answered
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as e:  # any failure means: do not use this connection
            raise DisconnectionError(f"idle connection failed its ping ({type(e).__name__})") from None
