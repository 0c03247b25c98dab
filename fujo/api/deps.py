"""FastAPI dependencies shared by every package's views: the database, the card authority, the
calling principal (bearer token), idempotency keys, and fast JSON responses."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

from fastapi import Depends, Header, Path, Request
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ..auth.principal import Principal
from ..cards.ca import CardAuthority
from ..db import faults
from ..db.database import Database
from ..db.idempotency import IdempotencyKey
from ..orgs.service import authenticate, cached_principal
from . import ratelimit

_bearer = HTTPBearer(auto_error=False, description="Per-organisation API token (fujo_…)")


# Dependencies are ``async def`` on purpose: FastAPI runs a sync dependency in the thread pool, a
# thread hop per dependency per request. These do no waiting on the loop: the token is almost
# always in the few-second cache, and when it is not the lookup goes to a thread with a timeout.
AUTH_TIMEOUT = 5.0


async def get_db(request: Request) -> Database:
    return request.app.state.db


async def get_ca(request: Request) -> CardAuthority:
    return request.app.state.ca


async def get_principal(
    request: Request, cred: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    db, token = request.app.state.db, cred.credentials if cred else ""
    principal = cached_principal(db, token)  # the usual case: no database work, no thread hop
    if principal is None:
        try:  # the lookup runs off the event loop: a hung database must not freeze every request
            principal = await asyncio.wait_for(asyncio.to_thread(authenticate, db, token), AUTH_TIMEOUT)
        except TimeoutError:
            raise faults.DOWN.error() from None
    cls = ratelimit.class_of(request.method, request.url.path)
    if cls is not None:
        await request.app.state.rate_limiter.hit(principal.credential_id, cls)
    return principal


DB = Annotated[Database, Depends(get_db)]
CA = Annotated[CardAuthority, Depends(get_ca)]
Caller = Annotated[Principal, Depends(get_principal)]
IdemHeader = Annotated[str | None, Header(alias="Idempotency-Key", max_length=100)]
MAX_ID = 2**53  # row ids beyond this cannot exist; larger numbers would overflow BIGINT
RowId = Annotated[int, Path(ge=1, le=MAX_ID)]


class JSON(Response):
    """JSON rendered straight from dicts (no encoder pass over the result)."""

    media_type = "application/json"

    def render(self, content) -> bytes:
        return json.dumps(content, ensure_ascii=False, separators=(",", ":"), default=str).encode()


async def idempotency(request: Request, principal: Principal, key: str | None) -> IdempotencyKey | None:
    return IdempotencyKey.of(principal.organisation_id, key, request.method, request.url.path, await request.body())


def run_idempotent(db: Database, ik: IdempotencyKey | None, status: int, write):
    """Run ``write(in_tx)`` once per key: a repeat returns the first answer with its status."""
    from sqlalchemy.exc import IntegrityError

    if ik is not None:
        prev = ik.replay(db)
        if prev:
            return JSON(prev[1], status_code=prev[0], headers={"Idempotent-Replayed": "true"})
    try:
        out = write((lambda conn, body: ik.record(conn, status, body)) if ik else None)
    except IntegrityError:
        if ik is None:
            raise
        prev = ik.replay(db)  # a concurrent request with the same key won the race
        if not prev:
            raise
        return JSON(prev[1], status_code=prev[0], headers={"Idempotent-Replayed": "true"})
    return JSON(out, status_code=status)
