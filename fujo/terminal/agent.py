"""The terminal agent (資格確認端末): watches ``req/`` of a shared folder and answers each request
file in ``res/``; card checks started at the reader arrive in ``face/`` (see :mod:`.face`).

The hand-over of one request file — safe for every interleaving with a client that re-uses file
names, and for a crash at any point:

1. **take**: once the file is still (and, while young, parses), it is renamed out of ``req/`` into
   the in-flight folder ``DIR/.fujo-terminal/inflight/<take id>.<name>`` (same filesystem as
   ``req/``, so the rename is atomic). From then on ``req/<name>`` is free: a file the client writes
   under that name is a new request, never touched by this hand-over.
2. **answer** from the moved copy, **staged** as ``res/.tmp-<take id>.part`` (fsync'd).
3. **commit**: a ledger line naming the take id (fsync'd). A crash before it redoes the request
   (nothing was visible yet); after it, the request is settled.
4. **publish**: the staged file is renamed to ``res/<PREFIX>res_<id>.xml|.zip|.err``.
5. **release**: the in-flight copy is deleted.

On start, :meth:`Agent.recover` finishes what a crash left in flight: a settled take has its staged
answer published (if still staged) and is released; an unsettled one is answered afresh. So every
request file gets exactly one outcome. Files are answered by a bounded pool of workers; one file
name is never in two hand-overs at once (a file re-written under a busy name waits in ``req/``).
A bad file never stops the agent: it gets a ``.err`` file naming the problem.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import io
import logging
import os
import secrets
import string
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ..core.dates import now_jst
from . import bulkcheck
from . import messages as M
from .client import ServerClient
from .errors import TRANSIENT, FileRejected, TerminalError
from .state import Answered, Ledger, Receptions
from .xmlio import MAX_REQUEST_BYTES, parse, to_bytes

log = logging.getLogger("fujo.terminal")

ZIP_THRESHOLD = 1024 * 1024  # OQSmutic02 answers larger than this are sent as .zip
WORKERS = 4  # request files answered at once
RETRY_AFTER = 1.0  # seconds before a hand-over that failed unexpectedly (disk full …) is tried again
_TAKE_LEN = 24  # hex digits of a take id: 16 of time_ns + 8 random


LOCK_FILE = ".fujo-terminal.lock"  # in the folder's root, beside req/ and res/


class FolderProblem(RuntimeError):
    """The shared folder cannot be used safely (e.g. no in-flight folder on the filesystem of req/)."""


@dataclass(frozen=True)
class Folder:
    """The shared folder: ``req/`` written by the レセコン, ``res/`` and ``face/`` by the terminal."""

    root: Path

    @property
    def req(self) -> Path:
        return self.root / "req"

    @property
    def res(self) -> Path:
        return self.root / "res"

    @property
    def face(self) -> Path:
        return self.root / "face"

    @property
    def inflight_candidates(self) -> tuple[Path, Path]:
        """Where taken request files wait while being answered: the agent's hidden folder, or —
        when ``req/`` is a filesystem of its own — a hidden folder inside ``req/``."""
        return self.root / ".fujo-terminal" / "inflight", self.req / ".fujo-inflight"

    def ensure(self) -> Folder:
        for p in (self.req, self.res, self.face):
            p.mkdir(parents=True, exist_ok=True)
        return self


@dataclass(frozen=True)
class Taken:
    """A request file moved out of ``req/`` into the in-flight folder: one hand-over."""

    take: str  # the hand-over's id (also in its ledger line and its staged answer's name)
    name: str  # the request file name
    path: Path  # the in-flight copy


@dataclass(frozen=True)
class Outcome:
    sha: str  # of the request bytes
    outcome: str  # "ok", an error slug, or "repeated"
    answer: str  # file name in res/ ("" when nothing is written)
    payload: bytes | None  # what to write there
    after_commit: tuple = ()  # clean-ups that may run only once the answer is committed


class Agent:
    def __init__(
        self,
        folder: Path,
        client: ServerClient,
        state_dir: Path | None = None,
        *,
        settle: float = 0.15,
        grace: float = 3.0,
        poll: float = 0.1,
        zip_threshold: int = ZIP_THRESHOLD,
        max_bytes: int = MAX_REQUEST_BYTES,
        workers: int = WORKERS,
    ):
        self.folder = Folder(Path(folder)).ensure()
        self.client = client
        self.state_dir = Path(state_dir) if state_dir else self.folder.root / ".fujo-terminal"
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.ledger = Ledger(self.state_dir)
        self.receptions = Receptions(self.state_dir)
        self.settle, self.grace, self.poll = settle, grace, poll
        self.zip_threshold, self.max_bytes = zip_threshold, max_bytes
        self.workers = max(1, int(workers))
        self.inflight = self._inflight_dir()
        self._seen: dict[str, tuple[tuple[int, int, int], float]] = {}  # name -> (size, mtime, inode), first seen so
        self._busy: set[str] = set()  # names in a hand-over (taken, not yet released)
        self._retry: list[tuple[Taken, float]] = []
        self._lock = threading.Lock()  # guards _busy and _retry
        self._pool: ThreadPoolExecutor | None = None
        self.polls = 0  # poll_once calls so far (tests wait on it, never on time)

    def _inflight_dir(self) -> Path:
        dev = self.folder.req.stat().st_dev
        for d in self.folder.inflight_candidates:
            d.mkdir(parents=True, exist_ok=True)
            if d.stat().st_dev == dev:
                return d
        raise FolderProblem(
            f"no in-flight folder on the filesystem of {self.folder.req}: a request file could "
            "not be moved atomically; serve req/ from one filesystem"
        )

    # --- the loop ------------------------------------------------------------------------------
    def run(self, stop: threading.Event | None = None, once: bool = False) -> None:
        """Poll ``req/`` until ``stop`` is set; with ``once``, until every file present at the
        start has been answered (or at most ``grace`` + 2 s)."""
        stop = stop or threading.Event()
        deadline = time.monotonic() + self.grace + 2
        log.info("terminal agent watching %s (%d workers)", self.folder.root, self.workers)
        with self.folder_lock(), self.worker_pool():
            try:
                self.recover()
            except Exception as e:  # what cannot be recovered now stays in flight for the next start
                log.error("recovery error: %s", type(e).__name__)
            while not stop.is_set():
                try:
                    pending = self.poll_once()
                except FolderProblem:
                    raise
                except Exception as e:  # never let one bad moment stop the agent
                    log.error("agent loop error: %s", type(e).__name__)
                    pending = 1
                if once and (pending == 0 or time.monotonic() > deadline):
                    return
                stop.wait(self.poll)

    @contextlib.contextmanager
    def folder_lock(self):
        """One agent per folder: two would take the same request files and answer (and check)
        each twice. An exclusive ``flock`` on a file in the folder, held while the agent runs; the
        kernel releases it when the process ends, however it ends, so a crash leaves no stale lock.
        (On a network share, flock needs a server that honours it: serve the folder from one host.)"""
        path = self.folder.root / LOCK_FILE
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
            os.close(fd)
            raise FolderProblem(
                f"{self.folder.root} is already served by another terminal agent (process {holder}); "
                "one agent per folder"
            ) from None
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            yield
        finally:
            os.close(fd)  # releases the lock

    @contextlib.contextmanager
    def worker_pool(self):
        """Answer taken files on ``workers`` threads while inside (without it, :meth:`poll_once`
        answers them itself, one by one). On leaving, running hand-overs finish; queued ones stay in
        flight and are recovered at the next start."""
        pool = ThreadPoolExecutor(self.workers, thread_name_prefix="fujo-terminal")
        self._pool = pool
        try:
            yield pool
        finally:
            self._pool = None
            pool.shutdown(wait=True, cancel_futures=True)

    def _candidates(self) -> list[Path]:
        try:
            return sorted(
                p
                for p in self.folder.req.iterdir()
                if p.is_file() and not p.name.startswith(".") and p.suffix.lower() == ".xml"
            )
        except FileNotFoundError:
            self.folder.ensure()
            return []

    def poll_once(self) -> int:
        """Take every ready request file and hand it to a worker; returns how many files are still
        waiting in ``req/`` or being answered."""
        self.polls += 1
        self._retry_due()
        waiting = 0
        now = time.monotonic()
        names = set()
        for path in self._candidates():
            name = path.name
            names.add(name)
            try:
                st = path.stat()
            except FileNotFoundError:
                continue
            sig = (st.st_size, st.st_mtime_ns, st.st_ino)
            prev = self._seen.get(name)
            if prev is None or prev[0] != sig:
                self._seen[name] = (sig, now)  # new, replaced or still growing: wait until it is still
                waiting += 1
                continue
            if now - prev[1] < self.settle or self._is_busy(name) or self.outstanding() >= 2 * self.workers:
                waiting += 1  # not still long enough; or its name is in a hand-over; or enough queued
                continue
            if time.time() - st.st_mtime < self.grace and not _parses(path, self.max_bytes):
                waiting += 1  # maybe half-written: look again until it parses or grace has passed
                continue
            self._seen.pop(name, None)  # whatever is seen under this name next is a new file
            taken = self._take(path)
            if taken is None:
                waiting += 1
                continue
            self._submit(taken)
        for gone in set(self._seen) - names:
            del self._seen[gone]
        return waiting + self.outstanding()

    def outstanding(self) -> int:
        """Hand-overs taken and not yet released."""
        with self._lock:
            return len(self._busy)

    def _is_busy(self, name: str) -> bool:
        with self._lock:
            return name in self._busy

    # --- the hand-over -------------------------------------------------------------------------
    def _take(self, path: Path) -> Taken | None:
        """Step 1: move the file out of ``req/`` (atomic rename). None when it is gone or cannot be
        moved just now (e.g. still open in a Windows client): it is looked at again."""
        take = f"{time.time_ns():016x}{secrets.token_hex(4)}"
        dest = self.inflight / f"{take}.{path.name}"
        try:
            os.rename(path, dest)
        except FileNotFoundError:
            return None
        except OSError as e:
            if e.errno == errno.EXDEV:
                raise FolderProblem(f"{self.inflight} is not on the filesystem of {self.folder.req}") from None
            log.warning("cannot take %s yet (%s)", path.name, type(e).__name__)
            return None
        return Taken(take, path.name, dest)

    def _submit(self, taken: Taken) -> None:
        with self._lock:
            self._busy.add(taken.name)
        self._dispatch(taken)

    def _dispatch(self, taken: Taken) -> None:
        if self._pool is not None:
            self._pool.submit(self._work, taken)
        else:
            self._work(taken)

    def _retry_due(self) -> None:
        now = time.monotonic()
        with self._lock:
            due = [t for t, at in self._retry if at <= now]
            self._retry = [(t, at) for t, at in self._retry if at > now]
        for t in due:
            self._dispatch(t)

    def _work(self, taken: Taken) -> None:
        """One hand-over on a worker. An unexpected failure (disk full, …) leaves the file in flight
        and its name busy, and the hand-over is tried again in :data:`RETRY_AFTER` s."""
        try:
            if taken.path.exists():
                self._process(taken)
            else:
                log.warning("in-flight copy of %s vanished; nothing to answer", taken.name)
        except Exception as e:
            log.error("could not answer %s (%s); trying again", taken.name, type(e).__name__)
            with self._lock:
                self._retry.append((taken, time.monotonic() + RETRY_AFTER))
            return
        with self._lock:
            self._busy.discard(taken.name)

    def _process(self, taken: Taken) -> None:
        """Steps 2–5 for one taken file — or, when it was committed already (a crash or a failure
        after the commit), only what is left: publish the staged answer and release."""
        entry = self.ledger.settled(taken.take)
        if entry is not None:
            staged = self._staged(taken)
            if entry.answer and staged.exists():
                self._publish(staged, entry.answer)
            self._release(taken)
            log.info("finished the hand-over of %s (%s) committed earlier", taken.name, entry.outcome)
            return
        self._finish(taken, self._decide(taken, self._read_taken(taken)))

    def _read_taken(self, taken: Taken) -> bytes:
        """The moved copy's bytes. Should it have changed between the look and the take and not
        parse yet, it is read again until it parses or is ``grace`` old."""
        data = _read_capped(taken.path, self.max_bytes)
        until = taken.path.stat().st_mtime + self.grace
        while time.time() < until and not _parses_bytes(taken.name, data, self.max_bytes):
            time.sleep(max(self.settle, 0.05))
            data = _read_capped(taken.path, self.max_bytes)
        return data

    def _decide(self, taken: Taken, data: bytes) -> Outcome:
        """Step 2: what the answer to these bytes under this name is (the server is asked here)."""
        name = taken.name
        sha = hashlib.sha256(data).hexdigest()
        try:
            kind, rid = M.split_name(name)
        except FileRejected as e:
            return self._refusal(name, name[:-4], e, sha)
        stem = f"{kind}res_{rid}"
        prev = self.ledger.get(name)
        if prev and prev.outcome not in TRANSIENT:
            if prev.sha256 == sha and (self.folder.res / prev.answer).exists():
                return Outcome(sha, "repeated", prev.answer, None)  # the same request again: its answer is there
            return self._refusal(
                name,
                stem,
                FileRejected(
                    "duplicate_request",
                    f"この要求ファイル名には{prev.at[:19]}に回答済みです。新しい識別子で要求してください。",
                    f"A request of this file name was already answered at {prev.at[:19]}; use a new id.",
                ),
                sha,
            )
        try:
            req = M.read_request(kind, rid, parse(data, self.max_bytes))
        except FileRejected as e:
            return self._refusal(name, stem, e, sha)
        try:
            answer_name, payload, outcome = self._answer(req)
        except Exception as e:  # a bug must not stop the agent, nor leave the request unanswered
            log.error("internal error answering %s: %s", name, type(e).__name__)
            err = TerminalError(
                "internal_error", "端末内部でエラーが発生しました。", f"Internal error ({type(e).__name__})."
            )
            answer_name, payload, outcome = stem + ".xml", to_bytes(M.error_response(req, err), req.encoding), err.slug
        return Outcome(sha, outcome, answer_name, payload, tuple(req.after_commit))

    @staticmethod
    def _refusal(name: str, stem: str, e: FileRejected, sha: str) -> Outcome:
        """A file that cannot be read as a request is answered with ``res/<stem>.err``."""
        return Outcome(sha, e.slug, stem + ".err", _err_text(name, e, sha))

    def _finish(self, taken: Taken, out: Outcome) -> None:
        """Steps 2b–5: stage, commit, publish, release. The outcome is logged at the commit, so
        the log has it before any client can see the answer."""
        staged = self._stage(taken, out.payload) if out.payload is not None else None
        self._commit(Answered(taken.name, out.sha, now_jst().isoformat(), out.outcome, out.answer, taken.take))
        if out.outcome == "repeated":
            log.info(
                "%s already answered as %s, still in res/; the repeated request is settled by it",
                taken.name,
                out.answer,
            )
        elif out.answer.endswith(".err"):
            log.info("rejected %s with %s (%s)", taken.name, out.answer, out.outcome)
        else:
            log.info("answered %s with %s (%s)", taken.name, out.answer, out.outcome)
        for clean_up in out.after_commit:  # e.g. a fetched bulk-check result: only now may it go
            clean_up()
        if staged is not None:
            self._publish(staged, out.answer)
        self._release(taken)

    def _staged(self, taken: Taken) -> Path:
        return self.folder.res / f".tmp-{taken.take}.part"  # hidden and not .xml: no client mistakes it

    def _stage(self, taken: Taken, payload: bytes) -> Path:
        path = self._staged(taken)
        with open(path, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        return path

    def _commit(self, entry: Answered) -> None:
        self.ledger.record(entry)

    def _publish(self, staged: Path, answer: str) -> None:
        os.replace(staged, self.folder.res / answer)

    def _release(self, taken: Taken) -> None:
        taken.path.unlink(missing_ok=True)

    def recover(self) -> int:
        """Take up what a crash left in flight (call before polling; :meth:`run` does): a committed
        hand-over has its staged answer published and is released; one not committed is answered
        afresh (nothing of it was visible). Returns how many in-flight files were found."""
        found = []
        for d in self.folder.inflight_candidates:
            if d.is_dir():
                for p in sorted(d.iterdir()):
                    take, dot, name = p.name.partition(".")
                    if p.is_file() and dot and name and _is_take(take):
                        found.append(Taken(take, name, p))
        live = {t.take for t in found}
        for p in self.folder.res.glob(".tmp-*.part"):
            if _is_take(p.name[5:-5]) and p.name[5:-5] not in live:
                p.unlink(missing_ok=True)  # staged for a hand-over no longer in flight: never published
        for t in found:
            log.info("taking up %s, left in flight by an earlier run", t.name)
            self._submit(t)
        return len(found)

    def _answer(self, req: M.Request) -> tuple[str, bytes, str]:
        stem = req.response_stem
        try:
            if req.problem:
                raise req.problem
            if req.facility_code != self.client.facility_code():
                raise TerminalError(
                    "facility_mismatch",
                    f"MedicalInstitutionCode {req.facility_code} はこの端末の医療機関コードではありません。",
                    f"MedicalInstitutionCode {req.facility_code} is not this terminal's facility.",
                )
            root = _HANDLERS[req.kind](self, req)
            outcome = "ok"
        except TerminalError as e:
            root, outcome = M.error_response(req, e), e.slug
        payload = to_bytes(root, req.encoding)
        if req.kind in (M.BULK_FETCH, M.BULK_CHECK_FETCH) and len(payload) > self.zip_threshold:
            return stem + ".zip", _zipped(stem + ".xml", payload), outcome
        return stem + ".xml", payload, outcome

    # --- the messages --------------------------------------------------------------------------
    def _single_check(self, req: M.Request):
        return M.check_response(req, self.client.check_numbers(req.fields))

    def _bulk_start(self, req: M.Request):
        if not self.client.settings()["medical_assistance_enabled"]:
            raise TerminalError(
                "medical_assistance_disabled",
                "この医療機関・薬局は「医療扶助」を「利用しない」設定です。環境設定で「利用する」に変更してください。",
                "Medical assistance is switched off for this facility.",
            )
        return M.reception_response(req, self.receptions.create(req.fields["month"]))

    def _bulk_fetch(self, req: M.Request):
        number = req.fields["reception_number"]
        month = self.receptions.month_of(number)
        if month is None:
            raise TerminalError(
                "unknown_reception",
                f"受付番号 {number} は見つからないか、期限切れです。",
                f"Reception number {number} is unknown or expired.",
            )
        return M.bulk_response(req, number, self.client.tickets(month))

    def _reference(self, req: M.Request):
        self.client.register_reference(req.fields)
        return M.reference_response(req)


_HANDLERS = {
    M.SINGLE_CHECK: Agent._single_check,
    M.BULK_START: Agent._bulk_start,
    M.BULK_FETCH: Agent._bulk_fetch,
    M.REFERENCE: Agent._reference,
    M.BULK_CHECK: bulkcheck.start,
    M.BULK_CHECK_FETCH: bulkcheck.fetch,
}


def _read_capped(path: Path, max_bytes: int) -> bytes:
    """At most ``max_bytes`` + 1 bytes: enough to know a file is too big without reading 50 MB."""
    with open(path, "rb") as f:
        return f.read(max_bytes + 1)


def _zipped(inner_name: str, payload: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(inner_name, payload)
    return buf.getvalue()


def _err_text(file_name: str, e: FileRejected, sha: str) -> bytes:
    """The .err file: plain UTF-8 text, one ``Key: value`` per line. ``RequestSHA256`` (of the
    request file's bytes) tells a client which of its requests under a re-used name it answers."""
    lines = [
        f"ErrorCode: {e.code}",
        f"ErrorMessage: {e.message_ja}",
        f"ErrorMessageEn: {e.message_en}",
        f"File: {file_name}",
        f"RequestSHA256: {sha}",
        f"ProcessExecutionTime: {now_jst().strftime('%Y%m%d%H%M%S')}",
    ]
    return ("\n".join(lines) + "\n").encode("utf-8")


def _is_take(s: str) -> bool:
    return len(s) == _TAKE_LEN and all(c in string.hexdigits for c in s)


def _parses_bytes(name: str, data: bytes, max_bytes: int) -> bool:
    """False only when ``data`` may be a request still being written: a request file name whose
    bytes are not (yet) well-formed XML in their encoding. Every other refusal is final."""
    try:
        M.split_name(name)
        parse(data, max_bytes)
    except FileRejected as e:
        return e.slug not in ("malformed_xml", "encoding")
    return True


def _parses(path: Path, max_bytes: int) -> bool:
    try:
        return _parses_bytes(path.name, _read_capped(path, max_bytes), max_bytes)
    except FileNotFoundError:
        return True
