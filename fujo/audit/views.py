"""Auditor API: the audit trail of a period as CSV (``GET /api/v1/audit/export?from=&to=``)."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from ..api.deps import DB, Caller
from ..api.models import errors
from ..core.errors import FieldProblem, ValidationFailed
from .export import check_period, chunks, record_export

router = APIRouter(prefix="/api/v1/audit", tags=["auditor"])


@router.get(
    "/export",
    responses={200: {"content": {"text/csv": {}}, "description": "CSV, UTF-8 with BOM"}, **errors(403, 422)},
)
def export(
    db: DB,
    caller: Caller,
    start: dt.date = Query(alias="from", description="first day YYYY-MM-DD (JST)"),
    end: dt.date = Query(alias="to", description="last day YYYY-MM-DD (JST), included"),
):
    """Every audit entry of the period (checks, views, downloads, registry changes), in chain order,
    with the chain fields. For the operator's 監査担当 (role ``auditor``) or 運用管理者."""
    caller.require_auditor()
    why = check_period(start, end)
    if why:
        raise ValidationFailed(problems=[FieldProblem("to", "period", "期間が正しくありません。", why)])
    record_export(db, caller, start, end, "api")
    return StreamingResponse(
        chunks(db, caller, start, end),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="audit-{start}-{end}.csv"'},
    )
