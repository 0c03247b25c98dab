"""Onboarding API: a facility's introduction checklist (its own; the administrator's: any)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Path, UploadFile

from ..api.deps import DB, JSON, Caller
from ..api.models import errors
from . import service
from .models import ChecklistOut, FacilityProgressOut
from .vendor_report import MAX_BYTES

router = APIRouter(prefix="/api/v1/onboarding", tags=["onboarding"])

Code = Annotated[str, Path(max_length=10, description="医療機関コード (a facility: its own)")]
Step = Annotated[
    str, Path(max_length=20, description="estimate, order, package, acceptance_test, reception, subsidy, go_live")
]


@router.get("", responses={200: {"model": list[FacilityProgressOut]}, **errors(403)})
def list_facilities(db: DB, caller: Caller):
    """Every facility with the step it has reached (administrator)."""
    return JSON(service.list_facilities(db, caller))


@router.get("/{facility_code}", responses={200: {"model": ChecklistOut}, **errors(403, 404, 422)})
def checklist(facility_code: Code, db: DB, caller: Caller):
    """A facility's checklist: its own (every role), or any for the administrator."""
    return JSON(service.get_checklist(db, caller, facility_code))


@router.post("/{facility_code}/steps/{step}", responses={200: {"model": ChecklistOut}, **errors(403, 404, 409, 422)})
def advance(
    facility_code: Code,
    step: Step,
    db: DB,
    caller: Caller,
    note: Annotated[str | None, Form(max_length=400)] = None,
    report: Annotated[UploadFile | None, File(description="acceptance_test: the JUnit XML of fujo vendor-test")] = None,
):
    """Mark the next step done (a facility's 管理者, or the administrator); a multipart form (or none)."""
    data = report.file.read(MAX_BYTES + 1) if report is not None else None
    return JSON(service.advance(db, caller, facility_code, step, note=note, report=data))
