"""PostgreSQL connections are tested before use only after they have been idle (fujo.db.engine): a
check by numbers is one round trip, and a connection whose server went away while it sat in the pool
is replaced, not handed to a request that would then fail."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from fujo.db import engine as engine_module
from fujo.db.database import Database


@pytest.fixture
def fresh(postgresql_database):
    """An engine of its own on the worker's database (its pool is this test's to break)."""
    db = Database(postgresql_database.url)
    yield db
    db.dispose()


def _pings(db, monkeypatch) -> list[int]:
    count: list[int] = []
    ping = db.engine.dialect.do_ping

    def counted(dbapi_conn):
        count.append(1)
        return ping(dbapi_conn)

    monkeypatch.setattr(db.engine.dialect, "do_ping", counted)
    return count


def _backend(db) -> int:
    with db.read_statements() as c:
        return c.execute(text("SELECT pg_backend_pid()")).scalar_one()


def test_a_connection_just_used_is_not_pinged_again(fresh, monkeypatch):
    pings = _pings(fresh, monkeypatch)
    first = _backend(fresh)
    for _ in range(5):  # back to back, as under load: the same connection, no SELECT 1 before each
        assert _backend(fresh) == first
    assert pings == []


def test_an_idle_connection_whose_server_went_away_is_replaced_before_use(fresh, postgresql_database, monkeypatch):
    pings = _pings(fresh, monkeypatch)
    gone = _backend(fresh)
    with postgresql_database.engine.connect() as admin:  # the server ends that session (a restart, a failover)
        admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": gone})
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE", 0.0)  # it has been idle long enough
    now = _backend(fresh)  # answered, on a new connection
    assert now != gone and len(pings) == 1
