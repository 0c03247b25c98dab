"""Facility API: 委託先資格情報一括取得 (whole month, and changes since a cursor)."""

from __future__ import annotations

from fastapi import APIRouter, Query

from ..api.deps import DB, JSON, Caller
from ..api.models import errors
from . import service
from .models import ChangesOut, MonthTicketsOut

router = APIRouter(prefix="/api/v1/facility/tickets", tags=["facility"])


@router.get("", responses={200: {"model": MonthTicketsOut}, **errors(403, 422)})
def tickets_for_month(db: DB, caller: Caller, month: str = Query(description="診療年月 YYYY-MM", max_length=7)):
    return JSON(service.tickets_for_month(db, caller, month))


@router.get("/changes", responses={200: {"model": ChangesOut}, **errors(403, 422)})
def changes(
    db: DB,
    caller: Caller,
    cursor: int = Query(0, ge=0, le=2**62),
    limit: int = Query(1000, ge=1, le=10000),
    month: str | None = Query(None, max_length=7),
):
    return JSON(service.changes_since(db, caller, cursor, limit, month))
