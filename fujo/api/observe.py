"""What an operator sees of a running server: a request id on every answer and log line, one JSON
access line per request, and Prometheus metrics at ``/metrics``.

Nothing personal goes into either: the access line names the route's template
(``/api/v1/recipients/{payer}/{rn}``), never the path with its numbers, and no query string;
metric labels are templates, methods, statuses and outcome codes.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import copy
import itertools
import json
import logging
import logging.handlers
import os
import queue
import re
import sys
import time
import uuid
from contextvars import ContextVar
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..metrics import HTTP_SECONDS

REQUEST_ID: ContextVar[str] = ContextVar("request_id", default="-")
_GOOD_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")  # a client's own id is echoed only if it is this plain

access = logging.getLogger("fujo.access")

# A request id: a random prefix, the process id and a count — unique across processes (a forked worker
# has another pid) and restarts like a uuid4, without reading the OS's random source on every request
# (3 % of a check's CPU, py-spy).
_PREFIX = uuid.uuid4().hex[:12]
_count = itertools.count(1)


def _new_id() -> str:
    return f"{_PREFIX}{os.getpid():x}-{next(_count):x}"


def route_of(scope: Scope) -> str:
    """The matched route's template; ``(unmatched)`` for any other path (a 404 or a static file):
    neither a number from a path nor an unbounded set of metric labels from a scanner."""
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) else "(unmatched)"


class Observe:
    """Pure ASGI middleware (no task or stream per request: the check API is the hot path)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"x-request-id"), "")
        rid = given if _GOOD_ID.fullmatch(given) else _new_id()
        token = REQUEST_ID.set(rid)
        start = time.perf_counter()
        status = 500  # if the answer never starts, it was a failure

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message).append("X-Request-ID", rid)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - start
            route = route_of(scope)
            HTTP_SECONDS.labels(scope["method"], route, str(status)).observe(seconds)
            if access.isEnabledFor(logging.INFO):
                ms = round(seconds * 1000, 2)
                fields = {"request_id": rid, "method": scope["method"], "route": route, "status": status, "ms": ms}
                access.info("request", extra={"fields": fields})
            REQUEST_ID.reset(token)


async def metrics(request: Request) -> Response:
    """Prometheus text format: of the whole server — with ``--workers N`` the sum of every worker's
    values (PROMETHEUS_MULTIPROC_DIR, set by fujo.api.server) —, else of this process."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not folder:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=folder)
    return Response(await asyncio.to_thread(generate_latest, registry), media_type=CONTENT_TYPE_LATEST)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, and the record's
    ``fields``. An exception is named by its class only: its text may carry SQL or personal data."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or REQUEST_ID.get(),
        }
        out.update(getattr(record, "fields", {}))
        if record.exc_info and record.exc_info[0] is not None:
            out["error"] = record.exc_info[0].__name__
        elif getattr(record, "error", None):
            out["error"] = getattr(record, "error")  # noqa: B009 - set by _Handoff, not a LogRecord field
        return json.dumps(out, ensure_ascii=False, default=str)


class _Handoff(logging.handlers.QueueHandler):
    """Hands each record to the writer thread after taking what only the caller's context knows
    (the request id, the exception's class); formatting and writing happen off the event loop."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        r = copy.copy(record)
        r.request_id = REQUEST_ID.get()
        if r.exc_info and r.exc_info[0] is not None:
            r.error = r.exc_info[0].__name__
        r.msg, r.args, r.exc_info, r.exc_text = r.getMessage(), None, None, None
        return r

    def enqueue(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(queue.Full):  # a stalled stderr loses lines, it never stops a request
            self.queue.put_nowait(record)


def queued_stderr() -> logging.Handler:
    """The JSON lines of ``fujo serve``, written to stderr by a thread of their own: a request's
    access line costs the event loop a queue put, not a JSON encoding and a write to a pipe that
    may be slow (a busy journald, a terminal). Flushed at exit; a full queue (a stalled stderr)
    drops lines rather than stopping the server."""
    out = logging.StreamHandler(sys.stderr)
    out.setFormatter(JsonFormatter())
    q: queue.Queue[logging.LogRecord] = queue.Queue(maxsize=100_000)
    listener = logging.handlers.QueueListener(q, out, respect_handler_level=False)
    listener.start()
    atexit.register(listener.stop)
    return _Handoff(q)


# Libraries whose INFO lines carry the URLs they call (a webhook's ?token=… included): WARNING and up only.
QUIET_LOGGERS = ("httpx", "httpcore")


def log_config(level: str = "INFO") -> dict[str, Any]:
    """logging.dictConfig for ``fujo serve``: everything (uvicorn's own lines too) as JSON on stderr."""
    handler = {"()": queued_stderr}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {"stderr": handler},
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            "uvicorn.access": {"handlers": [], "propagate": False, "level": "WARNING"},
            **{name: {"level": "WARNING"} for name in QUIET_LOGGERS},
        },
    }
