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


def _answer(report: dict, output: str) -> Response:
    if output == "csv":
        return Response(service.report_csv(report), media_type="text/csv; charset=utf-8")
    return JSON(report)


@router.post(
    "/check",
    responses={200: {"model": ClaimsReportOut}, **errors(403, 422)},
    max_body_size=limits.IMPORT,
)
def check(db: DB, caller: Caller, file: Annotated[UploadFile, File()], format: Output = "json", input: Input = None):
    """A facility's month of claims against its own tickets (before submission). 422 names the line
    and field of a file that cannot be read; nothing is recorded then."""
    return _answer(service.check_claims(db, caller, source=file.file, fmt=input), format)


@router.post(
    "/office-check",
    responses={200: {"model": ClaimsReportOut}, **errors(403, 422)},
    max_body_size=limits.IMPORT,
)
def office_check(
    db: DB, caller: Caller, file: Annotated[UploadFile, File()], format: Output = "json", input: Input = None
):
    """A welfare office's check of the claims received from the 審査支払機関: claims without a ticket,
    and tickets of those months never billed."""
    return _answer(service.check_office_claims(db, caller, source=file.file, fmt=input), format)
