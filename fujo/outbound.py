"""HTTP clients fujo opens to others — the terminal agent to the server (``fujo.terminal.client``), the
webhook worker to the facilities' receivers (``fujo.webhooks.worker``), the benchmarks and tests to a
served ``fujo``.

They share one TLS context a process. httpx makes a new one for every client it creates — reading
certifi's CA bundle, 53 ms here against 0.2 ms for a client given a ready context — even for a plain
``http://`` URL that never uses it. The context is httpx's own default (``httpx.create_ssl_context``:
certifi, or ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` when set), made once; an ``ssl.SSLContext`` may serve
many connections and threads at once."""

from __future__ import annotations

import functools
import ssl
from typing import Any

import httpx


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The process's TLS context for outgoing HTTPS: the CA certificates httpx trusts by default."""
    return httpx.create_ssl_context()


def client(**options: Any) -> httpx.Client:
    """``httpx.Client(**options)`` with the process's TLS context."""
    return httpx.Client(verify=tls_context(), **options)


def request(method: str, url: str, *, timeout: float = 5.0, **options: Any) -> httpx.Response:
    """``httpx.request``: one request on a connection of its own (httpx's 5 s bound by default)."""
    with client(timeout=timeout) as c:
        return c.request(method, url, **options)


def get(url: str, **options: Any) -> httpx.Response:
    return request("GET", url, **options)


def post(url: str, **options: Any) -> httpx.Response:
    return request("POST", url, **options)


def delete(url: str, **options: Any) -> httpx.Response:
    return request("DELETE", url, **options)
