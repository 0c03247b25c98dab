"""A revoked token, or a 「医療扶助」 switch, reaches every server process at once (PostgreSQL LISTEN/NOTIFY).

Each process keeps an authenticated token's principal for ``AUTH_CACHE_SECONDS``
(:func:`fujo.orgs.service.authenticate`). The transaction that changes what a principal carries
(revoking a credential, switching 「医療扶助」) announces it (:func:`fujo.orgs.auth_events.announce`: ``NOTIFY fujo_auth``,
which PostgreSQL delivers when — and only if — that transaction commits), and this listener, one thread
and one connection of its own per server process, empties the cache when it hears it. So a change
made through another worker, another host or the operator's CLI holds everywhere within the time a
notification takes (milliseconds), not after the cache's seconds.

While the listener has no connection (before it has connected, after a lost connection, until it
reconnects every ``RETRY`` seconds) the cache is not trusted: every request reads the database, so no
change can be missed while nobody listens. On SQLite (one host) there is nothing to listen to and
the cache is trusted; another process sees a change within ``AUTH_CACHE_SECONDS`` (docs/ARCHITECTURE.md).
"""

from __future__ import annotations

import logging
import os
import threading

import psycopg
from sqlalchemy import text
from sqlalchemy.engine import make_url

from ..db.database import Database
from . import service
from .auth_events import CHANNEL

log = logging.getLogger("fujo.auth")
RETRY = 1.0  # seconds between attempts to (re)connect
IDLE = 30.0  # seconds between checks of a quiet connection


def conninfo(url: str) -> str:
    """libpq's connection string for a SQLAlchemy URL (``postgresql+psycopg://…``)."""
    u = make_url(url)
    args = u.translate_connect_args(username="user", database="dbname")
    args.update({k: v for k, v in u.query.items() if isinstance(v, str)})
    # a dead or frozen server is noticed within ~10 s rather than when the kernel gives up
    args.setdefault("connect_timeout", "5")
    args.setdefault("tcp_user_timeout", "10000")
    return psycopg.conninfo.make_conninfo(**{k: str(v) for k, v in args.items()})


class AuthListener:
    """The listening thread of one server process, for one PostgreSQL database."""

    def __init__(self, db: Database):
        self.db = db
        self.stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._stop_word = f"stop {os.getpid()} {id(self)}"  # wakes this listener only

    def start(self) -> None:
        service.distrust_auth_cache(self.db)  # until the listener is connected
        self.stop.clear()
        self._thread = threading.Thread(target=self._run, name="fujo-auth-listener", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop listening (at the server's shutdown); the thread is woken by a notification of its own."""
        self.stop.set()
        if self._thread is None:
            return
        try:
            with self.db.engine.connect() as c:
                c.execute(text("SELECT pg_notify(:ch, :word)"), {"ch": CHANNEL, "word": self._stop_word})
                c.commit()
        except Exception as e:  # the database is gone: the thread's own wait ends within IDLE or RETRY
            log.info("auth listener: no wake-up sent (%s)", type(e).__name__)
        self._thread.join(timeout=5)
        self._thread = None

    def _run(self) -> None:
        info = conninfo(self.db.url)
        lost = False
        while not self.stop.is_set():
            try:
                with psycopg.connect(info, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    service.clear_auth_cache()  # anything announced while nobody listened
                    service.trust_auth_cache(self.db)
                    if lost:
                        log.warning("auth listener: connected again; token cache in use again")
                        lost = False
                    while not self.stop.is_set():
                        heard = False
                        for n in conn.notifies(timeout=IDLE, stop_after=1):
                            heard = True
                            if not n.payload.startswith("stop "):  # another listener's wake-up
                                service.clear_auth_cache()
                        if not heard:
                            conn.execute("SELECT 1")  # a quiet connection is still alive
            except Exception as e:  # the connection is gone: distrust the cache until it is back
                service.distrust_auth_cache(self.db)
                if not lost:
                    log.warning("auth listener: %s; token cache off until reconnected", type(e).__name__)
                    lost = True
                self.stop.wait(RETRY)
        service.distrust_auth_cache(self.db)
