"""A webhook receiver on 127.0.0.1 (a tiny threaded HTTP server) that answers as it is told — 500,
no answer in time, 200 — and checks every signature; and a worker with short timeouts."""

from __future__ import annotations

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
    verified: bool

    @property
    def event(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    """``script``: what to do with the next requests, in order — ``"fail"`` (500), ``"hang"`` (no
    answer before the worker's timeout), ``"ok"`` (200); then 200 for ever."""

    secret: str = ""
    script: list[str] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""
    secrets: dict[str, str] = field(default_factory=dict)  # path → secret, when several webhooks share it

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


def _handler(rec: Receiver):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k: v for k, v in self.headers.items()}
            ok = service.verify_signature(rec.secret_for(self.path), headers, body, now=time.time())
            with rec.lock:
                action = rec.script.pop(0) if rec.script else "ok"
                status = {"fail": 500, "hang": None, "ok": 200}[action]
                rec.requests.append(Request(self.path, headers, body, status, ok))
            if status is None:
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
