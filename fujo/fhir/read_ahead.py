"""Page n+1 of a Coverage walk read while the client reads page n (GET /fhir/Coverage, docs/FHIR.md).

Why: a client walking the month asks for the next page only once it has read the page before (the
``next`` link is inside it), so without this the server sits idle while the client parses a page
(≈ 100 ms for 1,000 Coverages) and the client idles while the server reads and writes the next one
(≈ 150 ms).
Reading page n+1 as soon as page n is sent lets the two overlap (docs/PERFORMANCE.md).

What it changes, and what it does not:

- Only the **reads** and the writing of the answer (its JSON text, gzipped when the client accepts
  it) are done ahead. The page's audit entries are written when it is asked for, before
  it is returned; the caller is authenticated, and its role, 「医療扶助」 setting, month and ``_count``
  checked, at that request as for any page (:func:`fujo.fhir.service.check_page_request`). A page read
  ahead is handed only to the same organisation, credential and web user, for the same month,
  ``_count`` and ``_cursor``, base URL and encoding.
- A page read ahead is used only if no ticket revision concerning the facility (designated there, or
  moved away from there) has been committed since its read
  (:func:`fujo.fhir.service.page_unchanged`: two probes of the change feed's indexes), so its tickets
  are what a read now would give — a ticket cancelled or moved away meanwhile is never served —, and
  only within :data:`MAX_AGE` seconds of the start of its read, else it is read again: the
  recipient's and the office's details on it (name, 停止・廃止, 照会番号) may be up to that old (as
  the native download's, which streams one read for as long as its answer takes).
- It is a hint, held in this process only: a page asked of another process (several ``fujo serve``
  instances), or evicted, is read then, with the same answer. At most :data:`WORKERS` reads run
  ahead at once (when they are busy a read ahead is skipped, never queued), at most :data:`ENTRIES`
  pages are held, each at most :data:`MAX_AGE` seconds; a walk left unfinished costs one page read.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generic, TypeVar

WORKERS = 2  # reads ahead at once, in this process
ENTRIES = 16  # pages held, in this process
MAX_AGE = 2.0  # seconds from the start of a read ahead until it is read again instead
T = TypeVar("T")
WAIT = 30.0  # seconds a request waits for a read ahead still running (then reads the page itself)


@dataclass
class _Ahead(Generic[T]):
    started: float
    page: Future[T]


class ReadAhead(Generic[T]):
    """The pages read ahead in this process, by key (see :func:`fujo.fhir.views.search_coverage`)."""

    def __init__(
        self,
        *,
        workers: int = WORKERS,
        entries: int = ENTRIES,
        max_age: float = MAX_AGE,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.workers, self.entries, self.max_age, self.clock = workers, entries, max_age, clock
        self._lock = threading.Lock()
        self._held: OrderedDict[Hashable, _Ahead[T]] = OrderedDict()
        self._running = 0
        self._pool: ThreadPoolExecutor | None = None  # threads only once a walk needs them (again)

    def start(self, key: Hashable, read: Callable[[], T]) -> bool:
        """Run ``read`` on a thread of its own and hold its page under ``key``; False (nothing done)
        when all the workers are busy."""
        with self._lock:
            if self._running >= self.workers:
                return False
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="fujo-fhir-read-ahead")
            self._running += 1
            ahead = _Ahead(self.clock(), self._pool.submit(read))
            self._held[key] = ahead
            self._held.move_to_end(key)
            while len(self._held) > self.entries:
                self._held.popitem(last=False)
        ahead.page.add_done_callback(self._done)
        return True

    def _done(self, _: Future[T]) -> None:
        with self._lock:
            self._running -= 1

    def take(self, key: Hashable) -> T | None:
        """The page read ahead under ``key`` (removed), waiting for it if its read still runs; None if
        there is none, it is older than ``max_age`` or its read failed (the caller reads it then:
        a failure is met again, and answered, on the caller's own read)."""
        with self._lock:
            ahead = self._held.pop(key, None)
        if ahead is None or self.clock() - ahead.started > self.max_age:
            return None
        try:
            return ahead.page.result(timeout=WAIT)
        except Exception:  # the caller's own read meets (and answers) whatever this was
            return None

    def close(self) -> None:
        """Drop what is held and the reads not started (the reads under way finish on their own): at
        the server's shutdown."""
        with self._lock:
            self._held.clear()
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
