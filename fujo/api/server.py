"""Running the HTTP server (``fujo serve``): uvicorn with httptools and uvloop, on a listening
socket made here.

Why our own socket: in multi-worker mode uvicorn binds with ``socket.socket(family)`` — protocol 0 —
and asyncio sets ``TCP_NODELAY`` only on connections whose socket says ``IPPROTO_TCP`` (uvicorn
issue #3149, still so in the pinned 0.54.0). Without it every keep-alive response waits for the
client's delayed ACK (~40 ms), which made two workers slower than one. One socket-making function
serves one worker and many, so there is a single path to test.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import uvicorn
from uvicorn.supervisors import Multiprocess, multiprocess

from ..config import load_settings
from .observe import log_config

APP = "fujo.api.asgi:app"


def listening_socket(host: str, port: int) -> socket.socket:
    """A bound TCP socket whose accepted connections asyncio recognises as TCP (and so sets
    ``TCP_NODELAY`` on); inheritable, for the worker processes."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def server_config(host: str, port: int, workers: int = 1, app: str = APP) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        log_level="info",
        access_log=False,  # fujo.api.observe writes one JSON line per request instead
        log_config=log_config(),
    )


def metrics_folder(data_dir: Path, port: int) -> Path:
    """A folder of this server's own (by its port), emptied at its start, where its worker processes
    write their Prometheus values (prometheus_client's multiprocess mode): ``/metrics`` then answers
    for the whole server, whichever worker a scrape reaches — not for the one worker that answered it.
    A worker that dies and is replaced leaves its counts in the sum."""
    folder = data_dir / "metrics" / str(port)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


class _Server(uvicorn.Server):
    """uvicorn's server, whose process ends normally after the graceful shutdown a signal asked for.
    uvicorn raises that signal again once it has shut down (so that the exit status names it), and
    the process then dies of it before any ``atexit`` handler runs — multiprocessing's among them,
    which removes the job fork server's folder (``/tmp/pymp-…``, its socket): every server that had run
    an import left one behind. (uvicorn's list of signals is its own: if it changes, the process ends as
    uvicorn's does, nothing worse.)"""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        with super().capture_signals():
            yield
            self._captured_signals.clear()  # shut down: exit, rather than die of the signal


class _WorkerProcess(multiprocess.Process):
    """A worker of ``--workers N``: its server is :class:`_Server`, so that a worker stopped by the
    supervisor ends normally too and multiprocessing's finalizers remove its job fork server's folder
    (uvicorn's workers died of the re-raised SIGTERM and left one each)."""

    @property
    def server(self) -> uvicorn.Server:
        if self._server is None:
            self._server = _Server(config=self.config)
        return self._server


def serve(host: str, port: int, workers: int = 1) -> None:
    config = server_config(host, port, workers)
    sock = listening_socket(host, port)
    if workers > 1:
        # read by prometheus_client when the (spawned) workers import it
        folder = metrics_folder(load_settings().data_dir, sock.getsockname()[1])
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
        # uvicorn's supervisor makes its workers by this module-level name (uvicorn 0.54); set in this
        # process only, just before it starts them (the spawned workers unpickle _WorkerProcess itself)
        multiprocess.Process = _WorkerProcess  # type: ignore[misc]
        Multiprocess(config, sockets=[sock]).run()
    else:
        _Server(config).run(sockets=[sock])
