"""``fujo worker``: delivers the webhook events, outside the request path.

A pass takes every endpoint that is due (not waiting for a retry, not held by another worker),
claims it for a lease, and then, one event at a time: the oldest event of its outbox, or — when the
outbox is empty — the next changes of the feed (service.fetch_events). Each attempt is one signed
POST with timeouts; a 2xx marks the event delivered and goes on, anything else is logged and the
endpoint waits ``backoff_base × 2^(failures−1)`` (at most ``backoff_cap``) before the same event is
tried again — so the events of a facility arrive in order, at least once, each with its id.

Nothing is lost when the worker stops or dies: the outbox and the cursors are in the database, and
an event is marked delivered only after its 2xx (so at worst it is sent again, with the same id). A
lease left by a dead worker expires after ``lease`` seconds. Database work is bounded by the
engine's timeouts (fujo.db.engine); a database fault ends the pass, and the next pass tries again.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import random
import socket
import threading
import time
import uuid
from dataclasses import dataclass

import httpx
from sqlalchemy.exc import SQLAlchemyError

from .. import outbound
from ..core.errors import FujoError
from ..db.database import Database, DbRow
from ..facility.service import AssistanceDisabled
from . import service

log = logging.getLogger("fujo.webhooks")


@dataclass(frozen=True)
class WorkerConfig:
    interval: float = 2.0  # s between passes when there is nothing to do
    timeout: float = 10.0  # s for each of connect, send and the answer's headers
    backoff_base: float = 5.0  # s before the first retry; doubled after each further failure …
    backoff_cap: float = 3600.0  # … up to this (retries never stop: an event is never dropped)
    lease: float = 120.0  # s an endpoint stays claimed without renewal (a dead worker's claim expires)
    batch: int = 100  # changes read from the feed at a time
    max_per_pass: int = 1000  # deliveries to one endpoint before the pass moves on to the next

    def delay(self, failures: int) -> float:
        """Seconds to wait after the ``failures``-th consecutive failure (with up to 10 % jitter,
        so many endpoints failing together do not retry in step)."""
        base = min(self.backoff_cap, self.backoff_base * 2 ** max(0, min(failures, 60) - 1))
        return base * (1 - 0.1 * random.random())


class WebhookWorker:
    def __init__(
        self, db: Database, config: WorkerConfig | None = None, client: httpx.Client | None = None, name: str = ""
    ) -> None:
        self.db = db
        self.config = config or WorkerConfig()
        self.owner = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"[:64]
        self.stop = threading.Event()
        self._client = client
        # the claim must outlive an attempt, or a second worker could send the same events meanwhile
        self._lease = dt.timedelta(seconds=max(self.config.lease, 4 * self.config.timeout))

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            t = self.config.timeout
            self._client = outbound.client(
                timeout=httpx.Timeout(t, connect=t, read=t, write=t, pool=t), follow_redirects=False
            )
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # --- the loop ---------------------------------------------------------------------------------

    def run(self) -> None:
        """Passes until :attr:`stop` is set (SIGTERM/SIGINT in ``fujo worker``); the attempt under
        way finishes first (it is bounded by the timeout)."""
        log.info("webhook worker %s started", self.owner)
        try:
            while not self.stop.is_set():
                try:
                    sent = self.run_once()
                except SQLAlchemyError as e:  # the database is down or slow: wait, then try again
                    log.warning("webhook worker: database fault (%s); retrying", type(e).__name__)
                    sent = 0
                if not sent:
                    self.stop.wait(self.config.interval)
        finally:
            self.close()
            log.info("webhook worker %s stopped", self.owner)

    def run_once(self) -> int:
        """One pass over the endpoints that are due; the number of events delivered."""
        sent = 0
        for endpoint_id in service.due_endpoints(self.db, self.db.now()):
            if self.stop.is_set():
                break
            sent += self.serve(endpoint_id)
        return sent

    def serve(self, endpoint_id: int) -> int:
        """Deliver the endpoint's events in order until it is drained, an attempt fails, or the pass
        limit is reached; the number delivered."""
        endpoint = service.claim(self.db, endpoint_id, self.owner, self.db.now(), self._lease)
        if endpoint is None:
            return 0
        sent = 0
        try:
            principal = service.worker_principal(self.db, endpoint.organisation_id)
            while sent < self.config.max_per_pass and not self.stop.is_set():
                event = service.next_event(self.db, endpoint.id)
                if event is None:
                    try:
                        if not service.fetch_events(self.db, endpoint, principal, self.config.batch):
                            break
                    except AssistanceDisabled:
                        self._hold(endpoint.id, "medical_assistance_disabled")
                        break
                    endpoint = service.claim(self.db, endpoint.id, self.owner, self.db.now(), self._lease)
                    if endpoint is None:  # deleted meanwhile
                        break
                    continue
                if event.event_type != service.TEST and not principal.medical_assistance_enabled:
                    self._hold(endpoint.id, "medical_assistance_disabled")  # 「医療扶助」 switched off since
                    break
                if not self.deliver(endpoint, event):
                    break
                sent += 1
                if service.claim(self.db, endpoint.id, self.owner, self.db.now(), self._lease) is None:
                    break  # deleted meanwhile
        except FujoError as e:  # e.g. the facility's organisation is gone: try again later
            self._hold(endpoint_id, e.code)
        finally:
            service.release(self.db, endpoint_id, self.owner)
        return sent

    def _hold(self, endpoint_id: int, reason: str) -> None:
        until = self.db.now() + dt.timedelta(seconds=self.config.backoff_cap)
        log.info("webhook %s on hold: %s", endpoint_id, reason)
        service.hold(self.db, endpoint_id, until, reason)

    # --- one attempt ------------------------------------------------------------------------------

    def deliver(self, endpoint: DbRow, event: DbRow) -> bool:
        """POST one event, signed; record the attempt; True when the receiver answered 2xx."""
        body = str(event.body).encode()
        attempt = int(event.attempts) + 1
        at = self.db.now()
        headers = service.signed_headers(
            endpoint.secret, event.event_id, event.event_type, str(int(time.time())), body, attempt
        )
        status: int | None = None
        error: str | None = None
        started = time.monotonic()
        try:
            # streamed and closed unread: a receiver's answer body is never needed, nor stored
            with self.client.stream("POST", endpoint.url, content=body, headers=headers) as res:
                status = res.status_code
        except httpx.TimeoutException:
            outcome, error = service.TIMEOUT, f"no answer within {self.config.timeout:g} s"
        except (httpx.HTTPError, httpx.InvalidURL, OSError, ValueError) as e:
            # the class only: a message may carry the host, and it is not needed to act
            outcome, error = service.ERROR, type(e).__name__
        else:
            outcome = service.DELIVERED if 200 <= status < 300 else service.HTTP_ERROR
            if outcome != service.DELIVERED:
                error = f"HTTP {status}"
        duration = int((time.monotonic() - started) * 1000)
        retry_at = None
        if outcome != service.DELIVERED:
            failures = service.failures_of(self.db, endpoint.id) + 1
            retry_at = self.db.now() + dt.timedelta(seconds=self.config.delay(failures))
        service.record_attempt(
            self.db,
            endpoint_id=endpoint.id,
            event=event,
            outcome=outcome,
            status_code=status,
            duration_ms=duration,
            error=error,
            at=at,
            retry_at=retry_at,
        )
        log.info(
            "webhook %s event %s attempt %d: %s%s (%d ms)",
            endpoint.id,
            event.event_id,
            attempt,
            outcome,
            f" {status}" if status else "",
            duration,
        )
        return outcome == service.DELIVERED
