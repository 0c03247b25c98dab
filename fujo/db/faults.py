"""Storage faults as the caller and the operator should see them.

A database that is down, hung, full or read-only is not a bug in the request: the caller gets 503
(507 for a full disk) with Retry-After and a sentence it can act on, never the driver's text (it may
carry SQL or personal data); the operator gets one log line per incident naming the cause, not one
traceback per request (a stopped database under load wrote 90 MB of tracebacks in 20 seconds).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from dataclasses import dataclass

import psycopg
from sqlalchemy import exc as sa_exc

from ..core.errors import FujoError
from ..metrics import STORAGE_FAULTS

log = logging.getLogger("fujo.storage")


class StorageUnavailable(FujoError):
    """The database cannot answer now; nothing was written. Try again after ``retry_after`` s."""

    status = 503
    code = "storage_unavailable"
    retry_after = 5

    def __init__(self, message_ja: str, message_en: str, *, status: int = 503, code: str | None = None) -> None:
        super().__init__(message_ja, message_en)
        self.status = status
        self.code = code or self.code
        self.retry_after = 60 if status == 507 else 5


@dataclass(frozen=True)
class Fault:
    cause: str  # for the operator: which incident this is (one log line per cause and incident)
    status: int
    code: str
    message_ja: str
    message_en: str

    def error(self) -> StorageUnavailable:
        return StorageUnavailable(self.message_ja, self.message_en, status=self.status, code=self.code)


_BUSY = (
    "データベースが混み合っています。しばらくしてから再度操作してください。",
    "The database is busy; try again shortly.",
)
_DOWN = (
    "データベースに接続できません。しばらくしてから再度操作してください（運用管理者に通知済みです）。",
    "The database cannot be reached; try again shortly.",
)


def _fault(cause: str, status: int, code: str, text: tuple[str, str]) -> Fault:
    return Fault(cause, status, code, *text)


DISK_FULL = _fault(
    "disk full",
    507,
    "storage_full",
    ("保存領域が一杯のため記録できません（運用管理者に通知済みです）。", "The storage is full; nothing was written."),
)
READ_ONLY = _fault(
    "database is read-only",
    503,
    "storage_read_only",
    ("データベースが読み取り専用のため記録できません（運用管理者に通知済みです）。", "The database is read-only."),
)
TIMEOUT = _fault("statement or lock timeout", 503, "storage_timeout", _BUSY)
POOL = _fault("no free database connection", 503, "storage_busy", _BUSY)
DOWN = _fault("database unreachable", 503, "storage_unavailable", _DOWN)


def classify(exc: BaseException) -> Fault | None:
    """The fault behind a database exception, or None when it is not a storage fault (a bug)."""
    if isinstance(exc, sa_exc.TimeoutError):  # the pool had no connection to give in time
        return POOL
    orig = getattr(exc, "orig", exc)
    if isinstance(orig, psycopg.errors.DiskFull):
        return DISK_FULL
    if isinstance(orig, psycopg.errors.ReadOnlySqlTransaction):
        return READ_ONLY
    if isinstance(orig, psycopg.errors.QueryCanceled | psycopg.errors.LockNotAvailable):
        return TIMEOUT
    if isinstance(orig, psycopg.OperationalError | psycopg.InterfaceError):
        return DOWN
    if isinstance(orig, sqlite3.OperationalError):
        text = str(orig).lower()
        if "full" in text:
            return DISK_FULL
        if "readonly" in text or "read-only" in text:
            return READ_ONLY
        if "locked" in text or "busy" in text:
            return TIMEOUT
        return DOWN  # unable to open, disk I/O error, …
    if isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError):
        return DOWN
    return None


class IncidentLog:
    """One ERROR line when a cause starts, a WARNING with the count while it lasts (at most one a
    ``window``), an INFO line when it has not been seen for a ``window``. Thread-safe."""

    def __init__(self, window: float = 60.0) -> None:
        self.window = window
        self._lock = threading.Lock()
        self._open: dict[str, tuple[float, float, int]] = {}  # cause → (last logged, last seen, count since)

    def report(self, fault: Fault, exc: BaseException) -> None:
        STORAGE_FAULTS.labels(fault.cause).inc()
        now = time.monotonic()
        with self._lock:
            self._close_quiet(now)
            logged, _, count = self._open.get(fault.cause, (0.0, 0.0, -1))
            if count < 0:
                self._open[fault.cause] = (now, now, 0)
                # the exception's class names the driver's error; its text may hold SQL or values
                log.error("storage fault: %s (%s); answering %d", fault.cause, _kind(exc), fault.status)
            elif now - logged >= self.window:
                self._open[fault.cause] = (now, now, 0)
                log.warning("storage fault continues: %s (%d more requests refused)", fault.cause, count + 1)
            else:
                self._open[fault.cause] = (logged, now, count + 1)

    def _close_quiet(self, now: float) -> None:
        for cause, (_, seen, _count) in list(self._open.items()):
            if now - seen >= self.window:
                del self._open[cause]
                log.info("storage fault over: %s", cause)


def _kind(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    return type(orig).__name__ if orig is not None else type(exc).__name__


incidents = IncidentLog()
