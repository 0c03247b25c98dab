"""Claims pre-check API: ``POST /api/v1/claims/check`` (facility) and ``/claims/office-check``
(welfare office): a multipart upload (UKE or the simple CSV), answered with the JSON report or,
with ``?format=csv``, the same report as CSV."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, File, Query, UploadFile
from fastapi.responses import Response

from ..api import limits
from ..api.deps import DB, JSON, Caller
from ..api.models import errors
from . import service
from .models import ClaimsReportOut

router = APIRouter(prefix="/api/v1/claims", tags=["claims"])

Output = Annotated[Literal["json", "csv"], Query(description="json (default) or csv (UTF-8 with BOM)")]
Input = Annotated[
    Literal["uke", "csv"] | None, Query(description="uke or csv; default: uke when the file starts with IR/YK")
]
# read by the service (422 naming written_at): a free text here, so every date form reaches its reader
WrittenAt = Annotated[
    str | None,
    Query(
        max_length=40,
        description="when the claims were written: a date (2024-08-05, 20240805, R6.8.5, 令和6年8月5日; its 0:00 JST), "
        "a date and time (2024-08-05T10:30, 2024-08-05 10:30, ISO 8601 with an offset; JST when none). Tickets "
        "cancelled, moved or amended after it are what made a claim wrong since (ticket_amended); "
        "without it amendments are listed as ticket_revised (info)",
    ),
]


def _answer(report: dict, output: str) -> Response:
    if output == "csv":
        return Response(service.report_csv(report), media_type="text/csv; charset=utf-8")
    return JSON(report)


@router.post(
    "/check",
    responses={200: {"model": ClaimsReportOut}, **errors(403, 422)},
    max_body_size=limits.IMPORT,
)
def check(
    db: DB,
    caller: Caller,
    file: Annotated[UploadFile, File()],
    format: Output = "json",
    input: Input = None,
    written_at: WrittenAt = None,
):
    """A facility's month of claims against its own tickets (before submission). 422 names the line
    and field of a file that cannot be read, or ``written_at``; nothing is recorded then."""
    return _answer(service.check_claims(db, caller, source=file.file, fmt=input, written_at=written_at), format)


@router.post(
    "/office-check",
    responses={200: {"model": ClaimsReportOut}, **errors(403, 422)},
    max_body_size=limits.IMPORT,
)
def office_check(
    db: DB,
    caller: Caller,
    file: Annotated[UploadFile, File()],
    format: Output = "json",
    input: Input = None,
    written_at: WrittenAt = None,
):
    """A welfare office's check of the claims received from the 審査支払機関: claims without a ticket,
    and tickets of those months never billed."""
    return _answer(service.check_office_claims(db, caller, source=file.file, fmt=input, written_at=written_at), format)
