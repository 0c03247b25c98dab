"""導入手順 (onboarding checklist) screens: a facility's own checklist (its 管理者 marks the next step
done) and the administrator's list of every facility with its step, and any facility's checklist.
Everything is decided by :mod:`fujo.onboarding.service`."""

from __future__ import annotations

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile

from ..core.errors import FujoError
from ..onboarding import service
from ..onboarding.vendor_report import MAX_BYTES
from .kit import AdminUser, FacilityUser, csrf_guard, db_of, redirect, refusal, render

desk_router = APIRouter(prefix="/desk", dependencies=[Depends(csrf_guard)], include_in_schema=False)
admin_router = APIRouter(prefix="/admin", dependencies=[Depends(csrf_guard)], include_in_schema=False)

LABELS = {"note": "メモ", "report": "運用テストのレポート", "step": "手順", "facility_code": "医療機関コード"}
DONE_NOTICE = "「{label}」を完了にしました。"


def _page(request: Request, checklist: dict, action: str, status: int = 200, **kw):
    return render(
        request,
        "onboarding/checklist.html",
        status=status,
        title="導入手順",
        c=checklist,
        action=action,
        labels=LABELS,
        **kw,
    )


def _done_notice(checklist: dict, done: str) -> str | None:
    st = next((x for x in checklist["steps"] if x["step"] == done and x["done"]), None)
    return DONE_NOTICE.format(label=st["label"]) if st else None


def _read(report: UploadFile | None) -> bytes | None:
    return report.file.read(MAX_BYTES + 1) if report is not None and report.filename else None


def _advance(request: Request, staff, code: str | None, step: str, note: str, data: bytes | None, action: str):
    """Mark ``step`` done and go back to the checklist; a refusal is shown on it (the note kept)."""
    db = db_of(request)
    try:
        service.advance(db, staff.principal, code, step, note=note, report=data)
    except FujoError as e:
        status, shown = refusal(e)
        c = service.get_checklist(db, staff.principal, code)
        return _page(request, c, action, status, note=note, **shown)
    return redirect(f"{action}?done={step}")


# --- the facility ---------------------------------------------------------------------------------


@desk_router.get("/onboarding")
def desk_checklist(request: Request, staff: FacilityUser, done: str = ""):
    c = service.get_checklist(db_of(request), staff.principal)
    return _page(request, c, "/desk/onboarding", notice=_done_notice(c, done))


@desk_router.post("/onboarding/{step}")
def desk_advance(
    request: Request,
    staff: FacilityUser,
    step: str,
    note: str = Form("", max_length=400),
    report: UploadFile | None = File(None),
):
    return _advance(request, staff, None, step, note, _read(report), "/desk/onboarding")


# --- the administrator ----------------------------------------------------------------------------


@admin_router.get("/onboarding")
def admin_list(request: Request, staff: AdminUser):
    rows = service.list_facilities(db_of(request), staff.principal)
    counts = {"total": len(rows), "completed": sum(r["completed"] for r in rows)}
    return render(
        request, "onboarding/admin_list.html", title="導入状況", rows=rows, counts=counts, steps=service.STEPS
    )


@admin_router.get("/onboarding/{code}")
def admin_checklist(request: Request, staff: AdminUser, code: str, done: str = ""):
    c = service.get_checklist(db_of(request), staff.principal, code)
    return _page(request, c, f"/admin/onboarding/{c['facility_code']}", notice=_done_notice(c, done))


@admin_router.post("/onboarding/{code}/{step}")
def admin_advance(
    request: Request,
    staff: AdminUser,
    code: str,
    step: str,
    note: str = Form("", max_length=400),
    report: UploadFile | None = File(None),
):
    return _advance(request, staff, code, step, note, _read(report), f"/admin/onboarding/{code}")
