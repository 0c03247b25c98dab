"""Rate limits per credential and per endpoint class (checks, bulk retrieval, imports), answered
429 with Retry-After, counted in the database (fujo.db.windows) so they hold across processes.

The hot path must not pay a database write per request: each process counts locally and adds its
count to the shared window at most once a second per credential and class (on a worker thread);
the decision uses the shared total last seen plus what this process has counted since. Several
processes can together overshoot a limit by at most what they accept in that second — a limit is a
guard against a runaway client, not an accounting.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from dataclasses import dataclass

from ..core.errors import FujoError
from ..db import windows
from ..db.database import Database

WINDOW = 60  # seconds
FLUSH_EVERY = 1.0  # seconds between a process's additions to the shared window, per key
# A database that does not take the addition within this bound (hung, frozen) does not hold the
# request: it goes on to its own database work, which has its own bounds and answers 503.
FLUSH_TIMEOUT = 2.0  # seconds
# per credential and minute; FUJO_RATE_LIMITS="checks=12000,bulk=120,imports=20" overrides
DEFAULT_LIMITS = {"checks": 12_000, "bulk": 120, "imports": 20}

# (method, path prefix, class): the routes that are limited
ROUTES = (
    ("POST", "/api/v1/checks/", "checks"),
    ("POST", "/fhir/CoverageEligibilityRequest", "checks"),
    ("POST", "/api/v1/claims/", "imports"),
    ("GET", "/api/v1/facility/tickets", "bulk"),
    ("GET", "/fhir/Coverage", "bulk"),
)


def class_of(method: str, path: str) -> str | None:
    if method == "POST" and path.startswith("/api/v1/") and path.endswith(("/imports", "/records")):
        return "imports"
    if method == "POST" and path.startswith("/api/v1/imports/"):
        return "imports"
    return next((c for m, p, c in ROUTES if m == method and path.startswith(p)), None)


def limits_from_env(value: str | None) -> dict[str, int]:
    out = dict(DEFAULT_LIMITS)
    for part in (value or "").split(","):
        name, _, n = part.partition("=")
        if name.strip() in out and n.strip().isdigit():
            out[name.strip()] = int(n)
    return out


class RateLimited(FujoError):
    status = 429
    code = "rate_limited"

    def __init__(self, cls: str, limit: int, retry_after: int) -> None:
        super().__init__(
            f"要求が多すぎます（{cls}: 1分間に{limit}件まで）。{retry_after}秒後に再度お試しください。",
            f"Too many requests ({cls}: {limit} a minute); retry after {retry_after} s.",
        )
        self.retry_after = retry_after


@dataclass
class _Count:
    window: int
    shared: int = 0  # the shared window's total when last added to (every process)
    pending: int = 0  # counted here since
    flushed_at: float = 0.0


class RateLimiter:
    def __init__(self, db: Database, limits: dict[str, int] | None = None) -> None:
        self.db = db
        self.limits = limits if limits is not None else limits_from_env(os.environ.get("FUJO_RATE_LIMITS"))
        self._counts: dict[str, _Count] = {}
        self._lock = threading.Lock()

    async def hit(self, credential: int | None, cls: str, n: int = 1) -> None:
        """Count ``n`` requests of ``cls`` for ``credential``; raises :class:`RateLimited` over the limit."""
        limit = self.limits.get(cls)
        if credential is None or not limit:
            return
        key = f"api:{credential}:{cls}"
        now = time.time()
        start = windows.window_start(WINDOW, now)
        with self._lock:
            c = self._counts.get(key)
            if c is None or c.window != start:
                c = self._counts[key] = _Count(start)
            if c.shared + c.pending + n > limit:
                raise RateLimited(cls, limit, max(1, int(start + WINDOW - now) + 1))
            c.pending += n
            due = now - c.flushed_at >= FLUSH_EVERY
            if due:
                c.flushed_at, todo = now, c.pending
        if due:
            adding = asyncio.to_thread(windows.add, self.db, key, WINDOW, todo, now)
            try:
                total = await asyncio.wait_for(adding, FLUSH_TIMEOUT)
            except TimeoutError:
                with self._lock:  # the thread adds it when the database answers: not counted twice
                    if c.window == start:
                        c.pending -= todo
                return
            with self._lock:
                if c.window == start:
                    c.shared, c.pending = total, c.pending - todo
            if total > limit:  # the other processes' requests came first: this one is over the limit
                raise RateLimited(cls, limit, max(1, int(start + WINDOW - now) + 1))
        if len(self._counts) > 100_000:  # a credential per key: only a flood of credentials gets here
            with self._lock:
                self._counts = {k: v for k, v in self._counts.items() if v.window == start}
