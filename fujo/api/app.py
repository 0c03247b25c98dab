"""The FastAPI application: each domain package contributes its router."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI
from sqlalchemy.exc import InterfaceError, OperationalError, ProgrammingError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.types import ASGIApp

from .. import __version__
from ..cards.ca import CardAuthority
from ..cards.host_secrets import check_host_secrets
from ..config import Settings, load_settings
from ..db import health as db_health
from ..db import partitions
from ..db.database import Database
from ..orgs.auth_listener import AuthListener
from . import errors, limits, observe, ratelimit
from .deps import JSON
from .models import HealthOut

log = logging.getLogger("fujo.api")
HOST_SECRETS_TIMEOUT = 10.0  # seconds the start waits to compare the card CA with the database's


class App(FastAPI):
    def build_middleware_stack(self) -> ASGIApp:
        # outermost: every answer (a 413 or a crash included) carries its request id and is logged
        return observe.Observe(errors.TooLargeInOurShape(super().build_middleware_stack()))


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """The job runner's thread takes the jobs left queued (or by a dead process) at start, and
    finishes the job under way at shutdown (fujo.jobs.runner); on PostgreSQL the auth listener hears
    revocations and setting changes made by other processes."""
    try:  # every host of one database has the same card CA and 個人番号 key (cards/host_secrets.py)
        compare = asyncio.to_thread(check_host_secrets, app.state.db, app.state.ca, str(app.state.settings.ca_dir))
        await asyncio.wait_for(compare, HOST_SECRETS_TIMEOUT)
    except (OperationalError, ProgrammingError, InterfaceError, PoolTimeout, TimeoutError) as e:
        # the database is down, hung or not migrated yet: compared at the next start
        log.warning("could not compare this host's card CA with the database's (%s)", type(e).__name__)
    try:  # check_log's monthly partitions of the coming months (PostgreSQL; `fujo db maintain` does it daily)
        await asyncio.wait_for(
            asyncio.to_thread(partitions.maintain, app.state.db, app.state.db.now()), HOST_SECRETS_TIMEOUT
        )
    except (SQLAlchemyError, TimeoutError) as e:  # the default partition takes the rows meanwhile
        log.warning("could not make check_log's partitions ahead (%s)", type(e).__name__)
    runner = app.state.job_runner
    runner.stop.clear()
    runner.wake()
    listener = None
    if app.state.db.engine.dialect.name == "postgresql":  # revocations from other processes (orgs/auth_listener.py)
        listener = AuthListener(app.state.db)
        listener.start()
    try:
        yield
    finally:
        app.state.fhir_read_ahead.close()
        if listener is not None:
            await asyncio.to_thread(listener.close)
        await asyncio.to_thread(runner.close)


def create_app(
    settings: Settings | None = None, db: Database | None = None, ca: CardAuthority | None = None
) -> FastAPI:
    settings = settings or load_settings()
    app = App(
        title="fujo — 医療扶助のオンライン資格確認",
        version=__version__,
        description="Online eligibility verification for medical assistance. See docs/API.md.",
        max_body_size=limits.DEFAULT,
        # FastAPI's OpenTelemetry hooks ask the (unconfigured) providers on every request (an
        # os.environ lookup among others: 2 % of a check's CPU, py-spy); our metrics are /metrics.
        telemetry={"tracing": False, "metrics": False, "logs": False},
        lifespan=_lifespan,
    )
    app.state.settings = settings
    app.state.db = db or Database(settings.database_url)
    app.state.ca = ca or CardAuthority.load_or_create(settings.ca_dir)
    app.state.rate_limiter = ratelimit.RateLimiter(app.state.db)
    from ..jobs.runner import JobRunner

    # CSV imports over HTTP (issue 13): one at a time, each in a child process (fujo.jobs.isolated)
    app.state.job_runner = JobRunner(app.state.db, data_dir=settings.data_dir, isolate=True)
    from ..fhir.read_ahead import ReadAhead

    app.state.fhir_read_ahead = ReadAhead()  # the next page of a FHIR Coverage walk, read while the client reads
    from ..fhir.service import WalkOrders

    app.state.fhir_walk_orders = WalkOrders()  # each walk's order, so that its later pages read just their tickets
    errors.install(app)

    from ..audit.views import router as audit
    from ..bulk.views import router as bulk
    from ..cards.views import router as cards
    from ..claims.views import router as claims
    from ..eligibility.views import router as eligibility
    from ..facility.views import router as facility
    from ..insurance.views import router as insurance
    from ..medinfo.views import router as medinfo
    from ..orgs.views import router as orgs
    from ..registry.views import router as registry
    from ..webhooks.views import router as webhooks

    for r in (eligibility, bulk, facility, registry, insurance, orgs, cards, medinfo, audit, claims, webhooks):
        app.include_router(r)
    from ..jobs.views import router as jobs  # CSV imports over HTTP run as jobs (issue 13)

    app.include_router(jobs)
    from ..onboarding.views import router as onboarding  # each facility's introduction checklist (issue 15)

    app.include_router(onboarding)
    from ..fhir.views import router as fhir  # FHIR R4 (docs/FHIR.md): its refusals are OperationOutcomes

    app.include_router(fhir)

    @app.get("/api/v1/health", tags=["operations"], responses={200: {"model": HealthOut}})
    async def health():
        """Liveness: ok while the process serves. Never touches the database (readiness is /ready)."""
        return JSON({"status": "ok"})

    @app.get("/api/v1/ready", tags=["operations"], responses={200: {"model": HealthOut}, **errors.storage_faults()})
    async def ready():
        """Readiness: ok, or 503/507 naming the cause when the database cannot read or write (within 2 s)."""
        fault = await db_health.check(app.state.db)
        if fault is None:
            return JSON({"status": "ok"})
        return errors.fault_answer(fault)

    app.add_api_route("/metrics", observe.metrics, include_in_schema=False)  # Prometheus (no personal data)

    try:  # the web screens (issue 4) mount themselves when present
        from ..web.views import mount as mount_web
    except ImportError:
        pass
    else:
        mount_web(app)
        from ..web.medinfo import router as medinfo_screens  # 薬剤情報等 and 災害時 screens (issue 11)

        app.include_router(medinfo_screens)
    return app
