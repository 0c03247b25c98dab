"""Facility API: 委託先資格情報一括取得 (whole month, and changes since a cursor)."""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Iterator

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from ..api.deps import DB, JSON, Caller
from ..api.models import errors
from . import service
from .models import ChangesOut, MonthTicketsOut

router = APIRouter(prefix="/api/v1/facility/tickets", tags=["facility"])

CHUNK = 64 * 1024  # bytes gathered before a write: few sends, and the first byte still comes at once


GZIP_LEVEL = 1  # the month's JSON is repetitive: level 1 shrinks it ~30-50× at a few ms a MB


def gzip_accepted(request: Request) -> bool:
    """Does the client take ``Content-Encoding: gzip`` (``Accept-Encoding``, not ``q=0``)?"""
    for part in request.headers.get("accept-encoding", "").lower().split(","):
        name, _, params = part.partition(";")
        if name.strip() == "gzip":
            return params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


def encoded(request: Request, chunks: Iterable[bytes]) -> tuple[Iterator[bytes], dict[str, str]]:
    """A large streamed answer gzipped as it is written when the client accepts gzip (the month
    download, the FHIR month search); the headers to send with it."""
    if not gzip_accepted(request):
        return iter(chunks), {"Vary": "Accept-Encoding"}

    def gzipped() -> Iterator[bytes]:
        z = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)  # wbits 31: the gzip wrapper
        for chunk in chunks:
            out = z.compress(chunk)
            if out:
                yield out
        yield z.flush()

    return gzipped(), {"Content-Encoding": "gzip", "Vary": "Accept-Encoding"}


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def month_json(stream: service.MonthStream) -> Iterator[bytes]:
    """The month as one JSON document, written as the rows are read: the header first, then each
    recipient's result, and ``Count`` last (a JSON object's keys have no order)."""
    buf = [_dumps(stream.header)[:-1], ',"ResultList":[']
    size, count = 0, 0
    for res in stream.results:
        part = ("," if count else "") + _dumps(res)
        buf.append(part)
        size += len(part)
        count += 1
        if size >= CHUNK:
            yield "".join(buf).encode()
            buf, size = [], 0
    buf.append(f'],"Count":{count}}}')
    yield "".join(buf).encode()


@router.get("", responses={200: {"model": MonthTicketsOut}, **errors(403, 422)})
def tickets_for_month(
    request: Request, db: DB, caller: Caller, month: str = Query(description="診療年月 YYYY-MM", max_length=7)
):
    """Streamed from a server-side cursor: the first byte leaves before the month is read, and the
    server's memory does not grow with the month (10,000 tickets or 1,000,000). Gzipped when the
    client accepts it."""
    # opened here, not in the generator: refusals (403/422) and the audit record come before 200
    stream = service.open_month(db, caller, month)
    body, headers = encoded(request, month_json(stream))
    return StreamingResponse(body, media_type="application/json", headers=headers)


@router.get("/changes", responses={200: {"model": ChangesOut}, **errors(403, 422)})
def changes(
    db: DB,
    caller: Caller,
    cursor: int = Query(0, ge=0, le=2**62),
    limit: int = Query(1000, ge=1, le=10000),
    month: str | None = Query(None, max_length=7),
):
    return JSON(service.changes_since(db, caller, cursor, limit, month))
