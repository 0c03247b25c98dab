"""A webhook receiver on 127.0.0.1 (a tiny threaded HTTP server) that answers as it is told — 500,
no answer in time, 200 — and checks every signature; and a worker with short timeouts.

The receiver checks a signature as a facility's developer would, from docs/API.md alone ("Headers and
signature": ``Fujo-Signature: v1=<hex>``, HMAC-SHA256 keyed with the secret over ``Fujo-Timestamp`` +
``.`` + the raw body, the timestamp within 5 minutes) with hashlib/hmac — not with fujo's own
``verify_signature``, which would agree with fujo's signer whatever the two got wrong together."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from fujo.webhooks import service
from fujo.webhooks.worker import WebhookWorker, WorkerConfig

TIMEOUT = 0.2  # s: the worker's HTTP timeout in these tests
HANG = 0.6  # s: how long the receiver keeps a request it is told to let time out


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int | None  # the status sent back (None: let the worker time out)
    verified: bool  # the signature, as docs/API.md says to check it (independent_verify)
    fujo_verified: bool  # … and as fujo.webhooks.service.verify_signature says

    @property
    def event(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    """``script``: what to do with the next requests, in order — ``"fail"`` (500), ``"hang"`` (no
    answer before the worker's timeout), ``"block"`` (no answer until :attr:`unblock` is set: the
    sender is held mid-delivery, :attr:`blocked` says it is), ``"ok"`` (200); then 200 for ever."""

    secret: str = ""
    script: list[str] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""
    secrets: dict[str, str] = field(default_factory=dict)  # path → secret, when several webhooks share it
    blocked: threading.Event = field(default_factory=threading.Event)
    unblock: threading.Event = field(default_factory=threading.Event)

    def secret_for(self, path: str) -> str:
        return self.secrets.get(path.split("?")[0], self.secret)

    def accepted(self, path: str | None = None) -> list[dict]:
        """The events answered 2xx, in the order they arrived (repeats included)."""
        with self.lock:
            return [r.event for r in self.requests if r.answered == 200 and (path is None or r.path.startswith(path))]

    def wait_for(self, ids: set[str], worker: WebhookWorker, seconds: float = 10) -> None:
        """Run the worker's passes until every id in ``ids`` was accepted (or fail after ``seconds``)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            worker.run_once()
            if ids <= {e["id"] for e in self.accepted()}:
                return
            time.sleep(0.02)
        raise AssertionError(f"not delivered in {seconds} s: {sorted(ids - {e['id'] for e in self.accepted()})}")


def independent_verify(secret: str, headers, body: bytes, now: float) -> bool:
    """docs/API.md's recipe, written out here: recompute over the body as received, compare in
    constant time, refuse a timestamp more than 300 s away. ``headers``: as received (any case)."""
    ts, sig = headers.get("Fujo-Timestamp"), headers.get("Fujo-Signature")
    if not ts or not sig or not ts.isdigit() or not sig.startswith("v1="):
        return False
    expected = hmac.new(secret.encode("utf-8"), ts.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()
    return abs(now - int(ts)) <= 300 and hmac.compare_digest(sig, "v1=" + expected)


def _handler(rec: Receiver):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k: v for k, v in self.headers.items()}
            secret, now = rec.secret_for(self.path), time.time()
            ok = independent_verify(secret, self.headers, body, now)  # (self.headers: case-insensitive)
            fujo_ok = service.verify_signature(secret, headers, body, now=now)
            with rec.lock:
                action = rec.script.pop(0) if rec.script else "ok"
                status = {"fail": 500, "hang": None, "block": None, "ok": 200}[action]
                rec.requests.append(Request(self.path, headers, body, status, ok, fujo_ok))
            if action == "block":
                rec.blocked.set()
                rec.unblock.wait(30)  # (bounded: the fixture's teardown sets it)
                status = 200  # … too late: the sender is gone
            elif status is None:
                time.sleep(HANG)  # the worker gives up first
                status = 200  # … and whatever is sent now is not seen
            try:
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
            except OSError:
                pass

    return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(rec))
    server.daemon_threads = True
    rec.url = f"http://127.0.0.1:{server.server_address[1]}"
    th = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    th.start()
    try:
        yield rec
    finally:
        rec.unblock.set()
        server.shutdown()
        server.server_close()


FAST = WorkerConfig(interval=0.02, timeout=TIMEOUT, backoff_base=0.02, backoff_cap=0.1, lease=2.0)


@pytest.fixture
def make_worker(db):
    made: list[WebhookWorker] = []

    def make(**kw) -> WebhookWorker:
        cfg = WorkerConfig(**{**FAST.__dict__, **kw})
        w = WebhookWorker(db, cfg)
        made.append(w)
        return w

    yield make
    for w in made:
        w.close()
