"""A token revoked, or 「医療扶助」 switched off, by another process is refused here at once — not after the
token cache's seconds (fujo.orgs.auth_listener, PostgreSQL LISTEN/NOTIFY). The other process is a real
one (a Python subprocess, as the operator's CLI or another `fujo serve` worker would be), and the cache
is made to last an hour, so that only the notification can explain a refusal."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from fujo.core.errors import Forbidden, Unauthorized
from fujo.facility.service import require_assistance
from fujo.orgs import service
from fujo.orgs.auth_events import CHANNEL, announce
from fujo.orgs.auth_listener import AuthListener, conninfo
from tests.conftest import _empty
from tests.db.throwaway_pg import poll
from tests.factories import World

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def in_another_process(db, code: str) -> None:
    """Run ``code`` (with ``db`` bound to the test's database) in a Python process of its own."""
    script = f"from fujo.db.database import Database\ndb = Database({db.url!r})\n" + textwrap.dedent(code)
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


@pytest.fixture
def hour_long_cache(monkeypatch):
    monkeypatch.setattr(service, "AUTH_CACHE_SECONDS", 3600.0)
    service.clear_auth_cache()


@pytest.fixture
def pg(postgresql_database):
    """PostgreSQL only: LISTEN/NOTIFY is PostgreSQL's (on SQLite, one host, other processes see a
    change within AUTH_CACHE_SECONDS)."""
    _empty(postgresql_database)
    return postgresql_database


@pytest.fixture
def pg_world(pg, ca, tmp_path) -> World:
    return World(pg, ca, tmp_path)


def cached(db, token) -> bool:
    return service.cached_principal(db, token) is not None


def refused(db, token) -> bool:
    try:
        service.authenticate(db, token)
    except Unauthorized:
        return True
    return False


@pytest.fixture
def listening(pg, pg_world, hour_long_cache):
    """A listener of this process, connected, and the clinic's token authenticated and cached (for an
    hour): the token."""
    listener = AuthListener(pg)
    listener.start()
    token = pg_world.tokens["clinic"]
    try:
        assert poll(lambda: (service.authenticate(pg, token), cached(pg, token))[1], 30)  # listening, cached
        yield token
    finally:
        listener.close()


def test_a_revocation_in_another_process_is_refused_here_at_once(pg, pg_world, listening):
    cid = service.authenticate(pg, listening).credential_id
    in_another_process(
        pg,
        f"""
        from fujo.orgs.service import revoke_credential
        revoke_credential(db, {pg_world.orgs["clinic"]["id"]}, {cid})
        """,
    )
    # without the notification this process would honour the token for another hour
    assert poll(lambda: refused(pg, listening), 30)


def test_switching_medical_assistance_off_in_another_process_holds_here_at_once(pg, pg_world, listening):
    in_another_process(
        pg,
        f"""
        from fujo.auth.principal import FACILITY
        from fujo.facility.service import set_medical_assistance
        from fujo.orgs.service import principal_for
        set_medical_assistance(db, principal_for(db, kind=FACILITY, code={pg_world.orgs["clinic"]["code"]!r}), False)
        """,
    )

    def switched_off() -> bool:
        try:
            require_assistance(service.authenticate(pg, listening))
        except Forbidden:
            return True
        return False

    assert poll(switched_off, 30)


def test_without_a_connected_listener_the_cache_is_not_used(pg, pg_world, hour_long_cache):
    """Before the listener has connected (or after it lost its connection) nothing is kept: a change
    made elsewhere meanwhile can never be missed."""
    world = pg_world
    listener = AuthListener(pg)
    listener.stop.set()  # never connects: it only distrusts the cache
    service.distrust_auth_cache(pg)
    try:
        token = world.tokens["clinic"]
        service.authenticate(pg, token)
        assert not cached(pg, token)
        cid = service.authenticate(pg, token).credential_id
        in_another_process(
            pg,
            f"""
            from sqlalchemy import text
            with db.engine.begin() as c:  # revoked as another process would, with no announcement heard
                c.execute(text("UPDATE credentials SET revoked_at = now() WHERE id = {cid}"))
            """,
        )
        assert refused(pg, token)  # the very next request
    finally:
        service.trust_auth_cache(pg)


def test_a_change_announced_while_a_token_is_read_is_not_cached_with_the_old_answer(db, world, monkeypatch):
    """The read that authenticates may start before a change commits and end after the cache was
    cleared: its answer is returned but not kept."""
    token = world.tokens["clinic"]
    service.trust_auth_cache(db)  # as with a listener connected (an earlier test's app may have left it off)
    service.clear_auth_cache()
    real = db.read

    def read_then_change():
        cm = real()
        service.clear_auth_cache()  # a change heard while this read runs
        return cm

    monkeypatch.setattr(db, "read", read_then_change)
    assert service.authenticate(db, token).code == world.orgs["clinic"]["code"]
    assert not cached(db, token)
    monkeypatch.undo()
    service.authenticate(db, token)
    assert cached(db, token)  # a quiet read is kept


def test_announce_is_sent_only_when_the_change_commits(pg, hour_long_cache):
    import psycopg

    with psycopg.connect(conninfo(pg.url), autocommit=True) as ear:
        ear.execute(f"LISTEN {CHANNEL}")
        with pg.engine.connect() as c:
            announce(c)
            c.rollback()
        assert list(ear.notifies(timeout=0.5)) == []  # rolled back: nothing heard
        with pg.engine.begin() as c:
            announce(c)
        assert [n.channel for n in ear.notifies(timeout=10, stop_after=1)] == [CHANNEL]
