"""Group commit for the check log.

Every check must be recorded before its answer leaves (an unaudited answer must never happen),
but one write transaction per check makes concurrent checks queue on the database's write lock
(SQLite's busy handler sleeps for milliseconds at a time). So each process has one writer thread:
a check hands its record over and waits; the writer inserts everything waiting in one transaction,
commits, and wakes the waiters with their row ids. The guarantee is unchanged (the answer is sent
only after the record is committed); the lock is taken once per batch instead of once per check.

Every row is appended to the hash chain (:func:`fujo.audit.chain.append`): a batch takes the chain's
head lock once, hashes its rows in order and moves the head, all in the batch's one transaction.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from concurrent.futures import Future
from typing import Any

from ..db.database import Database
from .chain import append, normalise

MAX_BATCH = 1000

LogRow = dict[str, Any]  # the column values of one check_log row


class AuditWriter:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._q: queue.SimpleQueue[tuple[LogRow, Future[int]]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.batches = 0  # transactions committed, and the rows they held (group commit at work: rows > batches)
        self.rows = 0

    def submit(self, row: LogRow) -> Future[int]:
        """Queue one check_log row; the future resolves to its id once committed."""
        fut: Future[int] = Future()
        row = normalise(row)  # a row that cannot be an entry is refused here, not in the shared batch
        self._ensure_thread()
        self._q.put((row, fut))
        return fut

    def record(self, row: LogRow, timeout: float = 60) -> int:
        """Insert one check_log row (group-committed); returns its id once committed."""
        return self.submit(row).result(timeout=timeout)

    async def record_async(self, row: LogRow) -> int:
        """The same, for an event loop: other requests run while the batch commits."""
        return await asyncio.wrap_future(self.submit(row))

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            with self._lock:
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(target=self._run, name="fujo-audit-writer", daemon=True)
                    self._thread.start()

    def _run(self) -> None:
        while True:
            batch = [self._q.get()]
            while len(batch) < MAX_BATCH:
                try:
                    batch.append(self._q.get_nowait())
                except queue.Empty:
                    break
            try:
                with self.db.write() as conn:
                    ids = append(conn, [row for row, _ in batch])
                self.batches += 1
                self.rows += len(batch)
            except BaseException as e:  # the waiters get the error; the writer keeps serving
                for _, fut in batch:
                    fut.set_exception(e)
                continue
            for (_, fut), i in zip(batch, ids):
                fut.set_result(i)


_writers: dict[int, AuditWriter] = {}
_writers_lock = threading.Lock()


def writer_for(db: Database) -> AuditWriter:
    w = _writers.get(id(db))
    if w is None or w.db is not db:
        with _writers_lock:
            w = _writers.get(id(db))
            if w is None or w.db is not db:
                w = _writers[id(db)] = AuditWriter(db)
    return w
