"""``fujo serve`` (fujo.api.server): accepted connections get TCP_NODELAY — one worker or many.

Without it a keep-alive response waits for the client's delayed ACK (~40 ms a request; uvicorn
#3149). The worker processes of ``--workers 2`` run exactly this: ``uvicorn.Server.run`` on the
socket from :func:`listening_socket`, so serving it in a thread here exercises the same path."""

from __future__ import annotations

import http.client
import socket
import threading
import time

import pytest
import uvicorn

from fujo.api.server import listening_socket, server_config


async def _hello(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok"})


def _accepted_nodelay(loop: str) -> tuple[int, int]:
    sock = listening_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    config = server_config("127.0.0.1", port, workers=2)
    config.app, config.loop, config.log_level = _hello, loop, "warning"
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        for _ in range(200):
            if server.started:
                break
            time.sleep(0.02)
        assert server.started
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/")
        assert conn.getresponse().read() == b"ok"  # keep-alive: the connection stays open
        (proto,) = server.server_state.connections
        accepted = proto.transport.get_extra_info("socket")
        listening = sock.proto  # what asyncio looks at (the kernel says 6 either way)
        nodelay = accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        conn.close()
        return listening, nodelay
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.mark.parametrize("loop", ["uvloop", "asyncio"])
def test_accepted_connections_have_tcp_nodelay(loop):
    listening, nodelay = _accepted_nodelay(loop)
    assert listening == socket.IPPROTO_TCP
    assert nodelay != 0


def test_serve_uses_httptools_and_uvloop():
    config = server_config("127.0.0.1", 8000, workers=2)
    assert (config.http, config.loop, config.workers) == ("httptools", "uvloop", 2)


def test_a_taken_port_is_refused_and_the_socket_closed():
    first = listening_socket("127.0.0.1", 0)
    first.listen()
    try:
        with pytest.raises(OSError):
            listening_socket("127.0.0.1", first.getsockname()[1])
    finally:
        first.close()
