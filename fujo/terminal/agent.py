"""The terminal agent (資格確認端末): watches ``req/`` of a shared folder and answers each request
file in ``res/``; card checks started at the reader arrive in ``face/`` (see :mod:`.face`).

One request, one answer: the answer is written atomically (temp file + rename), recorded in the
ledger, and only then is the request file removed — so a crash at any point leads, at worst, to
the same answer being written again under the same name, never to two different answers.
A bad file never stops the agent: it gets a ``.err`` file naming the problem.
"""
from __future__ import annotations

import hashlib
import io
import logging
import threading
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..core.dates import now_jst
from . import messages as M
from .client import ServerClient
from .errors import TRANSIENT, FileRejected, TerminalError
from .state import Answered, Ledger, Receptions
from .xmlio import MAX_REQUEST_BYTES, atomic_write, parse, to_bytes

log = logging.getLogger("fujo.terminal")

ZIP_THRESHOLD = 1024 * 1024  # OQSmutic02 answers larger than this are sent as .zip


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

    def ensure(self) -> "Folder":
        for p in (self.req, self.res, self.face):
            p.mkdir(parents=True, exist_ok=True)
        return self


class Agent:
    def __init__(self, folder: Path, client: ServerClient, state_dir: Path | None = None, *,
                 settle: float = 0.15, grace: float = 3.0, poll: float = 0.1,
                 zip_threshold: int = ZIP_THRESHOLD, max_bytes: int = MAX_REQUEST_BYTES):
        self.folder = Folder(Path(folder)).ensure()
        self.client = client
        self.state_dir = Path(state_dir) if state_dir else self.folder.root / ".fujo-terminal"
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.ledger = Ledger(self.state_dir)
        self.receptions = Receptions(self.state_dir)
        self.settle, self.grace, self.poll = settle, grace, poll
        self.zip_threshold, self.max_bytes = zip_threshold, max_bytes
        self._seen: dict[str, tuple[tuple[int, int], float]] = {}  # name -> (size, mtime), first seen so

    # --- the loop ------------------------------------------------------------------------------
    def run(self, stop: threading.Event | None = None, once: bool = False) -> None:
        """Poll ``req/`` until ``stop`` is set; with ``once``, until every file present at the
        start has been answered (or at most ``grace`` + 2 s)."""
        stop = stop or threading.Event()
        deadline = time.monotonic() + self.grace + 2
        log.info("terminal agent watching %s", self.folder.root)
        while not stop.is_set():
            try:
                pending = self.poll_once()
            except Exception as e:  # never let one bad moment stop the agent
                log.error("agent loop error: %s", type(e).__name__)
                pending = 1
            if once and (pending == 0 or time.monotonic() > deadline):
                return
            stop.wait(self.poll)

    def _candidates(self) -> list[Path]:
        try:
            return sorted(p for p in self.folder.req.iterdir()
                          if p.is_file() and not p.name.startswith(".") and p.suffix.lower() == ".xml")
        except FileNotFoundError:
            self.folder.ensure()
            return []

    def poll_once(self) -> int:
        """Answer every ready request file; returns how many files are still waiting."""
        waiting = 0
        now = time.monotonic()
        names = set()
        for path in self._candidates():
            names.add(path.name)
            try:
                st = path.stat()
            except FileNotFoundError:
                continue
            sig = (st.st_size, st.st_mtime_ns)
            prev = self._seen.get(path.name)
            if prev is None or prev[0] != sig:
                self._seen[path.name] = (sig, now)  # new or still growing: wait until it is still
                waiting += 1
                continue
            if now - prev[1] < self.settle:
                waiting += 1
                continue
            if not self.handle(path, young=(time.time() - st.st_mtime) < self.grace):
                waiting += 1
        for gone in set(self._seen) - names:
            del self._seen[gone]
        return waiting

    # --- one file ------------------------------------------------------------------------------
    def handle(self, path: Path, young: bool = False) -> bool:
        """Answer one request file. Returns False when it should be looked at again later (it
        does not parse yet and may still be being written)."""
        name = path.name
        try:
            data = _read_capped(path, self.max_bytes)
        except FileNotFoundError:
            return True
        sha = hashlib.sha256(data).hexdigest()
        try:
            kind, rid = M.split_name(name)
        except FileRejected as e:
            self._reject(path, name[:-4], e, sha)
            return True
        stem = f"{kind}res_{rid}"
        prev = self.ledger.get(name)
        if prev and prev.outcome not in TRANSIENT:
            if prev.sha256 == sha and (self.folder.res / prev.answer).exists():
                log.info("%s already answered as %s; removing the repeated request", name, prev.answer)
                path.unlink(missing_ok=True)
            else:
                self._reject(path, stem, FileRejected(
                    "duplicate_request", f"この要求ファイル名には{prev.at[:19]}に回答済みです。新しい識別子で要求してください。",
                    f"A request of this file name was already answered at {prev.at[:19]}; use a new id."), sha,
                    record=False)
            return True
        try:
            parsed = parse(data, self.max_bytes)
            req = M.read_request(kind, rid, parsed)
        except FileRejected as e:
            if young and e.slug in ("malformed_xml", "encoding"):
                return False  # maybe half-written: look again until it parses or grace has passed
            self._reject(path, stem, e, sha)
            return True
        try:
            answer_name, payload, outcome = self._answer(req)
        except Exception as e:  # a bug must not stop the agent, nor leave the request unanswered
            log.error("internal error answering %s: %s", name, type(e).__name__)
            err = TerminalError("internal_error", "端末内部でエラーが発生しました。", f"Internal error ({type(e).__name__}).")
            answer_name, payload, outcome = stem + ".xml", to_bytes(M.error_response(req, err), req.encoding), err.slug
        atomic_write(self.folder.res / answer_name, payload)
        self.ledger.record(Answered(name, sha, now_jst().isoformat(), outcome, answer_name))
        path.unlink(missing_ok=True)
        log.info("answered %s with %s (%s)", name, answer_name, outcome)
        return True

    def _answer(self, req: M.Request) -> tuple[str, bytes, str]:
        stem = req.response_stem
        try:
            if req.problem:
                raise req.problem
            if req.facility_code != self.client.facility_code():
                raise TerminalError("facility_mismatch",
                                    f"MedicalInstitutionCode {req.facility_code} はこの端末の医療機関コードではありません。",
                                    f"MedicalInstitutionCode {req.facility_code} is not this terminal's facility.")
            root = _HANDLERS[req.kind](self, req)
            outcome = "ok"
        except TerminalError as e:
            root, outcome = M.error_response(req, e), e.slug
        payload = to_bytes(root, req.encoding)
        if req.kind == M.BULK_FETCH and len(payload) > self.zip_threshold:
            return stem + ".zip", _zipped(stem + ".xml", payload), outcome
        return stem + ".xml", payload, outcome

    def _reject(self, path: Path, stem: str, e: FileRejected, sha: str, record: bool = True) -> None:
        """Answer a file that cannot be read as a request with ``res/<stem>.err``."""
        err_name = stem + ".err"
        atomic_write(self.folder.res / err_name, _err_text(path.name, e))
        if record:
            self.ledger.record(Answered(path.name, sha, now_jst().isoformat(), e.slug, err_name))
        path.unlink(missing_ok=True)
        log.info("rejected %s with %s (%s)", path.name, err_name, e.slug)

    # --- the messages --------------------------------------------------------------------------
    def _single_check(self, req: M.Request):
        return M.check_response(req, self.client.check_numbers(req.fields))

    def _bulk_start(self, req: M.Request):
        if not self.client.settings()["medical_assistance_enabled"]:
            raise TerminalError("medical_assistance_disabled",
                                "この医療機関・薬局は「医療扶助」を「利用しない」設定です。環境設定で「利用する」に変更してください。",
                                "Medical assistance is switched off for this facility.")
        return M.reception_response(req, self.receptions.create(req.fields["month"]))

    def _bulk_fetch(self, req: M.Request):
        number = req.fields["reception_number"]
        month = self.receptions.month_of(number)
        if month is None:
            raise TerminalError("unknown_reception", f"受付番号 {number} は見つからないか、期限切れです。",
                                f"Reception number {number} is unknown or expired.")
        return M.bulk_response(req, number, self.client.tickets(month))

    def _reference(self, req: M.Request):
        self.client.register_reference(req.fields)
        return M.reference_response(req)


_HANDLERS = {M.SINGLE_CHECK: Agent._single_check, M.BULK_START: Agent._bulk_start, M.BULK_FETCH: Agent._bulk_fetch,
             M.REFERENCE: Agent._reference}


def _read_capped(path: Path, max_bytes: int) -> bytes:
    """At most ``max_bytes`` + 1 bytes: enough to know a file is too big without reading 50 MB."""
    with open(path, "rb") as f:
        return f.read(max_bytes + 1)


def _zipped(inner_name: str, payload: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(inner_name, payload)
    return buf.getvalue()


def _err_text(file_name: str, e: FileRejected) -> bytes:
    """The .err file: plain UTF-8 text, one ``Key: value`` per line."""
    lines = [f"ErrorCode: {e.code}", f"ErrorMessage: {e.message_ja}", f"ErrorMessageEn: {e.message_en}",
             f"File: {file_name}", f"ProcessExecutionTime: {now_jst().strftime('%Y%m%d%H%M%S')}"]
    return ("\n".join(lines) + "\n").encode("utf-8")

