"""A server's import job run in a child process (issue 13: "a running import never delays a check by
more than a few milliseconds").

In the server's own thread an import's Python work (parsing, validating, building rows) shares the
interpreter lock with the event loop and the checks' threads: a check waited up to 230 ms behind a
50,000-row import, against 19 ms with the import in another process (docs/RELIABILITY.md). So the
server's runner claims nothing itself: each job is run, claim to end, by a fresh child process, with
the very code ``fujo worker`` runs (:meth:`fujo.jobs.runner.JobRunner.execute`, under the parent's
runner name, so the lease and the job's end are the same as in a thread).

The children are forked from a small server process (multiprocessing's *forkserver*) that has the
import code loaded already: a child starts in milliseconds, without the server's threads, sockets or
database connections (forking the server itself would copy them). A child dies with its server
(PR_SET_PDEATHSIG through the fork server): a server killed with ``kill -9`` leaves no import behind,
and its job is redone after the lease, as before. A child that dies on its own (killed, out of
memory) takes nothing with it: its transaction rolls back, the server logs the exit and puts the job
back in the queue at once; a job that kills its process every time is given up after
``service.MAX_ATTEMPTS`` runs.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import sys
import tempfile
from multiprocessing import spawn
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import SQLAlchemyError

if TYPE_CHECKING:
    from .runner import JobRunner

log = logging.getLogger("fujo.jobs")

RAN, NOT_CLAIMED, DATABASE_FAULT, FAILED = 0, 3, 4, 5  # a child's exit codes
MAIN_ENV = "FUJO_JOB_FORKSERVER_MAIN"  # the server's script, for its fork server (fujo.jobs.forkserver_main)

_context: Any = None


class ChildDatabaseFault(SQLAlchemyError):
    """The child met a database fault (its job is back in the queue): the runner waits, then looks again."""


class CannotIsolate(RuntimeError):
    """No child process can be started (its fork server cannot start): the runner runs jobs itself."""


def _why_not(e: OSError) -> str:
    """What stopped the fork server, for the operator (system text only, nothing of a job)."""
    if "AF_UNIX path too long" in str(e):
        return (
            f"TMPDIR ({tempfile.gettempdir()}, {len(tempfile.gettempdir())} characters) is too long for the "
            "job process server's socket (AF_UNIX paths are at most 107 bytes): set a shorter TMPDIR"
        )
    return f"{type(e).__name__}: {e.strerror or e}"


# Loaded once in the fork server, so that a child starts with them: the server's script (see
# fujo.jobs.forkserver_main), the import code and what a job imports on its way (the database
# dialects, the principal lookup, the log format). Measured on small CSV imports
# (tests/registry/test_ticket_refusals.py -k csv, 34 jobs): 8.1 s → 5.5 s; in the server's own
# thread 4.2 s.
PRELOAD = [
    "fujo.jobs.forkserver_main",
    "fujo.jobs.runner",
    "fujo.orgs.service",
    "fujo.api.observe",
    "sqlalchemy.dialects.sqlite.pysqlite",
    "sqlalchemy.dialects.postgresql.psycopg",
    "psycopg",
]


def _forkserver() -> Any:
    global _context
    if _context is None:
        ctx = multiprocessing.get_context("forkserver")
        script = spawn.get_preparation_data("fujo-job").get("init_main_from_path")
        if script:  # the fork server inherits the environment when it starts (its first job)
            os.environ[MAIN_ENV] = script
        else:  # not a parent's, inherited: this process has no script to load
            os.environ.pop(MAIN_ENV, None)
        ctx.set_forkserver_preload(PRELOAD)
        _context = ctx
    return _context


def _die_with_parent() -> None:
    """SIGKILL this process when its parent (the fork server, which ends with the server) ends."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() == 1:  # the parent ended before the line above: nobody waits for this job
        os._exit(NOT_CLAIMED)


def _log_to_stderr(level: int | None) -> None:
    if level is None:
        return
    from ..api.observe import QUIET_LOGGERS, JsonFormatter

    out = logging.StreamHandler(sys.stderr)
    out.setFormatter(JsonFormatter())
    logging.basicConfig(level=level, handlers=[out], force=True)
    for noisy in QUIET_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _child(url: str, job_id: str, owner: str, lease: float, progress_every: float, level: int | None) -> None:
    _die_with_parent()
    _log_to_stderr(level)
    from ..db.database import Database
    from .runner import JobRunner

    code = FAILED
    db = Database(url)
    try:
        ran = JobRunner(db, name=owner, lease=lease, progress_every=progress_every).execute(job_id)
        code = RAN if ran else NOT_CLAIMED
    except SQLAlchemyError as e:  # the job was released (or its lease runs out): named, never its text
        log.warning("job %s: database fault (%s)", job_id[:8], type(e).__name__)
        code = DATABASE_FAULT
    except BaseException as e:  # no traceback: its text may carry personal data
        log.error("job %s: internal error %s", job_id[:8], type(e).__name__)
    finally:
        with contextlib.suppress(Exception):
            db.dispose()
        logging.shutdown()
    sys.exit(code)  # multiprocessing makes it the exit code


def execute(runner: JobRunner, job_id: str) -> bool:
    """Run the job ``job_id`` in a child process and wait for its end; False when another runner had
    claimed it. Raises :class:`ChildDatabaseFault` when the child met a database fault."""
    from . import service

    root = logging.getLogger()
    level = root.getEffectiveLevel() if root.handlers else None
    args = (runner.db.url, job_id, runner.owner, runner.lease.total_seconds(), runner.progress_every, level)
    child = _forkserver().Process(target=_child, args=args, name=f"fujo-job-{job_id[:8]}", daemon=True)
    try:
        child.start()
    except OSError as e:  # before any claim: the job is untouched
        raise CannotIsolate(_why_not(e)) from e
    runner.child = child
    try:
        child.join()
    finally:
        runner.child = None
    if child.exitcode == RAN:
        return True
    if child.exitcode == NOT_CLAIMED:
        return False
    if child.exitcode == DATABASE_FAULT:
        raise ChildDatabaseFault(f"job {job_id[:8]}: database fault in its import process")
    # killed (a negative exit code is the signal's number) or an internal error: nothing of its
    # transaction remains; the job goes back to the queue (attempts count its runs)
    log.error("job %s: its import process ended with exit code %s; the job is queued again", job_id[:8], child.exitcode)
    with contextlib.suppress(SQLAlchemyError):  # if not, its lease runs out instead
        service.release(runner.db, job_id, runner.owner)
    return True
