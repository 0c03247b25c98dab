"""The job runner: takes the queued jobs (and those whose runner died) and runs them, one at a time.

Two homes, one code: the server's own thread (:meth:`JobRunner.wake`, started with the application
and woken by every new job; it goes back to sleep when nothing is due, so an idle server polls
nothing), and ``fujo worker`` (:meth:`JobRunner.run`, a pass every ``interval`` seconds), which also
finishes the jobs of a server that died: a job is claimed for a lease, renewed while the import
writes; once it has expired another runner claims the job and redoes it from its spool file. The
import is all or nothing and the job is marked done in the import's own transaction, so a job is
never done twice and never half done (fujo.jobs.service).

One job at a time per runner: an import is validated and written with batched statements, and a
check by numbers meanwhile runs in its own threads (the runner holds no lock a check reads through).
The server's runner runs each job in a child process (``isolate``, fujo.jobs.isolated), so that the
import's Python work does not share the interpreter lock with the checks; ``fujo worker`` is a
process of its own and runs its jobs in its thread.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import socket
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from ..audit.chain import chain_pending
from ..core.errors import FujoError
from ..db import partitions
from ..db.database import Database, DbRow
from ..registry import csv_import
from . import service

log = logging.getLogger("fujo.jobs")

INTERNAL = {
    "code": "internal_error",
    "message_ja": "内部エラーのため取り込めませんでした。",
    "message_en": "An internal error stopped the job; nothing was imported.",
}
SPOOL_GONE = {
    "code": "spool_missing",
    "message_ja": "取り込むファイルが見つかりません（もう一度送信してください）。",
    "message_en": "The uploaded file is no longer there; send it again.",
}
TOO_MANY = {
    "code": "internal_error",
    "message_ja": "処理が繰り返し中断されたため、取り込みを中止しました。",
    "message_en": f"The job was interrupted {service.MAX_ATTEMPTS} times; it was given up.",
}


class JobRunner:
    def __init__(
        self,
        db: Database,
        *,
        lease: float = 300.0,
        interval: float = 2.0,
        progress_every: float = 0.5,
        name: str = "",
        data_dir: Path | None = None,
        isolate: bool = False,
    ) -> None:
        self.db = db
        self.data_dir = data_dir  # whose spool/jobs is swept of orphans (None: not swept)
        self.owner = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"[:64]
        self.lease = dt.timedelta(seconds=lease)
        self.interval = interval
        self.progress_every = progress_every
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._pending = False
        self._thread: threading.Thread | None = None
        self._last_purge = 0.0
        self.isolate = isolate  # each job in a child process (the server's runner)
        self.child: Any = None  # that process, while it runs

    # --- in the server: a thread woken by new jobs ---------------------------------------------

    def wake(self) -> None:
        """Run what is due now in the runner's thread (started if it is not running)."""
        with self._lock:
            self._pending = True
            if self._thread is None and not self.stop.is_set():
                self._thread = threading.Thread(target=self._drain, name="fujo-jobs", daemon=True)
                self._thread.start()

    def _drain(self) -> None:
        while not self.stop.is_set():
            with self._lock:
                if not self._pending:
                    self._thread = None
                    return
                self._pending = False
            try:
                if self.run_once():
                    with self._lock:
                        self._pending = True  # more may have come meanwhile: look again
            except SQLAlchemyError as e:  # the database is down or slow: wait, then look again
                log.warning("job runner: database fault (%s); retrying", type(e).__name__)
                with self._lock:
                    self._pending = True
                self.stop.wait(self.interval)
            except Exception as e:  # never let the thread die silently
                log.error("job runner: %s", type(e).__name__)
                self.stop.wait(self.interval)
        with self._lock:
            self._thread = None

    def close(self, timeout: float = 10.0) -> None:
        """Stop taking jobs; the one under way finishes first, within ``timeout``. A job's child process
        still running then is stopped and its job queued again (redone at the next start, or at once by
        another runner); a job in this process's thread is redone after its lease."""
        self.stop.set()
        with self._lock:
            th = self._thread
        if th is None:
            return
        th.join(timeout)
        child = self.child
        if th.is_alive() and child is not None:
            with contextlib.suppress(ValueError, OSError):  # it ended meanwhile
                child.terminate()
            th.join(5.0)  # the thread sees the child's end and queues the job again

    # --- in ``fujo worker``: passes until stopped ------------------------------------------------

    def run(self) -> None:
        log.info("job runner %s started", self.owner)
        while not self.stop.is_set():
            try:
                ran = self.run_once()
                self.purge()
            except SQLAlchemyError as e:
                log.warning("job runner: database fault (%s); retrying", type(e).__name__)
                ran = 0
            if not ran:
                self.stop.wait(self.interval)
        log.info("job runner %s stopped", self.owner)

    # --- one pass, one job -------------------------------------------------------------------------

    def run_once(self) -> int:
        """Run every job due now (one after the other); the number run. First, audit entries an
        import left staged when its process died between its commit and their chaining are chained
        (fujo.audit.chain.chain_pending): at every server start and every pass of ``fujo worker``."""
        chain_pending(self.db)
        ran = 0
        for job_id in service.due(self.db, self.db.now()):
            if self.stop.is_set():
                break
            ran += self.execute(job_id)
        if ran:
            self.purge()
        return ran

    def purge(self) -> None:
        """Delete the jobs that ended long ago and the orphaned spool files, and make check_log's
        partitions of the coming months (PostgreSQL; fujo.db.partitions), at most once an hour: a
        server that runs for months, or ``fujo worker``, keeps them ahead without cron."""
        if self._last_purge and time.monotonic() - self._last_purge < 3600:
            return
        self._last_purge = time.monotonic()
        service.purge(self.db, self.db.now())
        if self.data_dir is not None:
            service.sweep_spool(self.db, self.data_dir, self.db.now())
        partitions.maintain(self.db, self.db.now())

    def execute(self, job_id: str) -> bool:
        """Claim the job and run it to its end; False when another runner has it."""
        if self.isolate:
            from . import isolated

            try:
                return isolated.execute(self, job_id)
            except isolated.CannotIsolate as e:  # said once; the jobs still run (sharing this process)
                log.error("job runner: import processes cannot start (%s); jobs run in this process", e)
                self.isolate = False
        row = service.claim(self.db, job_id, self.owner, self.db.now(), self.lease)
        if row is None:
            return False
        if row.attempts > service.MAX_ATTEMPTS:
            log.error("job %s: given up after %d interrupted runs", job_id[:8], row.attempts - 1)
            if service.give_up(self.db, row, TOO_MANY):
                service.remove_spool(row.spool_path)
            return True
        started = time.monotonic()
        try:
            ended = self._import(row)
        except service.LeaseLost:
            log.warning("job %s: lease lost to another runner; this run rolled back", job_id[:8])
            return True
        except SQLAlchemyError:
            with contextlib.suppress(SQLAlchemyError):  # if not, the lease expires instead
                service.release(self.db, job_id, self.owner)
            raise
        service.remove_spool(row.spool_path)
        log.info("job %s (%s): %s in %d ms", job_id[:8], row.kind, ended, (time.monotonic() - started) * 1000)
        return True

    def _import(self, row: DbRow) -> str:
        kind = service.import_kind(row)
        try:
            principal = service.principal_of(self.db, row)
            data = Path(row.spool_path or "").read_bytes()
        except FileNotFoundError:
            service.fail(self.db, row.id, self.owner, SPOOL_GONE)
            return service.FAILED
        except FujoError as e:
            service.fail(self.db, row.id, self.owner, e.as_dict())
            return service.FAILED
        last = [time.monotonic()]

        def progress(done: int, total: int) -> None:
            # SQLite has one writer: the import holds it until commit, so progress shows at the end
            if self.db.is_sqlite or time.monotonic() - last[0] < self.progress_every:
                return
            last[0] = time.monotonic()
            if not service.renew(self.db, row.id, self.owner, self.db.now(), self.lease, done, total):
                raise service.LeaseLost(row.id)

        def done(conn: Connection, report: csv_import.ImportReport) -> None:
            service.finish(
                conn,
                row.id,
                self.owner,
                self.db.now(),
                state=service.DONE,
                result={"report": report.as_dict()},
                done=report.written,
                total=report.rows,
            )

        error: dict[str, Any]
        total: int | None = None
        try:
            csv_import.import_csv(self.db, principal, kind, data, progress, in_tx=done)
            return service.DONE
        except csv_import.ImportFailed as e:
            error, total = e.as_dict(), e.report.rows
        except FujoError as e:
            error = e.as_dict()
        except (service.LeaseLost, SQLAlchemyError):
            raise
        except Exception as e:  # no details: they may carry personal data
            log.error("job %s: internal error %s", row.id[:8], type(e).__name__)
            error = INTERNAL
        service.fail(self.db, row.id, self.owner, error, total)
        return service.FAILED
