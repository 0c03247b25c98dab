"""薬剤情報等の閲覧 (issue 11): the facility's screens (the four categories with the duplicate hint, the
PDF print, the disaster search) and the administrator's disaster-mode screen. No SQL: services only."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from ..core import codes
from ..core.consent import CATEGORIES, CATEGORY_JA
from ..core.errors import FujoError, ValidationFailed
from ..medinfo import printing, service
from .kit import AdminUser, FacilityUser, csrf_guard, db_of, field_errors, redirect, render

router = APIRouter(dependencies=[Depends(csrf_guard)], include_in_schema=False)

TABS = [(k, CATEGORY_JA[k]) for k in CATEGORIES]
REASON_TITLE = {
    "no_consent": "同意がありません",
    "expired": "同意の期限が切れています",
    "other_facility": "他の医療機関・薬局での同意です",
    "numbers_only": "番号による資格確認では閲覧できません",
    "role": "閲覧できる権限がありません",
    "unavailable": "提供できません",
}


def _who_values(check_id: str = "", payer_number: str = "", recipient_number: str = "") -> dict[str, str]:
    """The patient as the screens' query names them, as typed (a CheckId, or the two numbers)."""
    return {"check_id": check_id, "payer_number": payer_number, "recipient_number": recipient_number}


WhoQuery = Annotated[dict[str, str], Depends(_who_values)]


def _refused(request: Request, e: service.MedinfoRefused, title: str, category: str, query: str):
    """Why the information is not shown (no consent, expired, other facility, role …)."""
    return render(
        request,
        "medinfo/refused.html",
        status=403,
        title=title,
        refusal=e,
        refusal_title=REASON_TITLE.get(e.reason, "閲覧できません"),
        category=category,
        tabs=TABS,
        query=query,
    )


def _who(check_id: str, payer_number: str, recipient_number: str) -> dict:
    """The patient as the form identifies them (a CheckId, or the two numbers)."""
    cid = check_id.strip()
    if cid:
        if not cid.isdigit() or len(cid) > 15:
            from ..core.errors import FieldProblem

            raise ValidationFailed(
                problems=[FieldProblem("check_id", "digits", "照会IDは数字です。", "check_id must be digits.")]
            )
        return {"check_id": int(cid)}
    return {"payer_number": payer_number.strip() or None, "recipient_number": recipient_number.strip() or None}


def _iso(wire: str | None) -> str | None:
    """A wire time (yyyyMMddHHmmss, JST) as ISO, for the screens' 和暦 filters."""
    if not wire:
        return None
    return f"{wire[:4]}-{wire[4:6]}-{wire[6:8]}T{wire[8:10]}:{wire[10:12]}:{wire[12:14]}+09:00"


def _times(answer: dict) -> dict:
    return {"consented": _iso(answer.get("consent_time")), "until": _iso(answer.get("available_time"))}


def _query(values: dict) -> str:
    return urlencode({k: v for k, v in values.items() if v})


def _list(request: Request, answer: dict, category: str, who_values: dict[str, str], **kw):
    """One patient's information of a category (with ``kw``: the planned drugs against it)."""
    return render(
        request,
        "medinfo/list.html",
        title=f"{CATEGORY_JA[category]}の閲覧",
        wide=True,
        answer=answer,
        category=category,
        tabs=TABS,
        query=_query(who_values),
        who=who_values,
        disaster=False,
        **_times(answer),
        **kw,
    )


def _form(request: Request, staff, disasters: list, status: int = 200, **kw):
    """The form naming the patient (a CheckId or the two numbers), with the disaster openings."""
    return render(
        request,
        "medinfo/form.html",
        status=status,
        title="薬剤情報等の閲覧",
        tabs=TABS,
        disasters=disasters,
        clinician=staff.principal.role == "clinician",
        **kw,
    )


@router.get("/desk/medinfo")
def medinfo_form(request: Request, staff: FacilityUser):
    return _form(request, staff, service.disaster_for(db_of(request), staff.principal), values={})


def _disaster_form(request: Request, staff, status: int = 200, **kw):
    """The search of a person's medication in disaster mode (name, birth date, sex, address)."""
    return render(
        request,
        "medinfo/disaster.html",
        status=status,
        title="災害時の薬剤情報の閲覧",
        disasters=service.disaster_for(db_of(request), staff.principal),
        sexes=codes.SEX,
        **kw,
    )


@router.get("/desk/medinfo/disaster")
def disaster_form(request: Request, staff: FacilityUser):
    return _disaster_form(request, staff, values={})


@router.post("/desk/medinfo/disaster")
def disaster_search(
    request: Request,
    staff: FacilityUser,
    name: str = Form("", max_length=60),
    birthdate: str = Form("", max_length=20),
    sex: str = Form("", max_length=1),
    address: str = Form("", max_length=200),
):
    values = {"name": name, "birthdate": birthdate, "sex": sex, "address": address}
    db = db_of(request)
    try:
        answer = service.disaster_medication(
            db, staff.principal, name=name, birthdate=birthdate, sex=sex, address=address or None, channel="web"
        )
    except ValidationFailed as e:
        errs, _ = field_errors(e)
        return _disaster_form(request, staff, 422, values=values, errors=errs)
    except FujoError as e:
        return _disaster_form(request, staff, e.status, values=values, message=e.message_ja)
    return render(
        request,
        "medinfo/list.html",
        title="薬剤情報（災害時）",
        wide=True,
        answer=answer,
        category="medication",
        tabs=[],
        query="",
        disaster=True,
    )


@router.get("/desk/medinfo/medication/overlaps")
def medication_overlaps(
    request: Request,
    staff: FacilityUser,
    who_values: WhoQuery,
    drug_codes: str = "",
    days: str = "",
):
    """The drugs about to be prescribed (codes separated by commas or spaces) against the list."""
    codes_ = [c for c in drug_codes.replace("、", ",").replace(" ", ",").split(",") if c.strip()]
    try:
        answer = service.overlaps(
            db_of(request), staff.principal, drug_codes=codes_, days=days or None, channel="web", **_who(**who_values)
        )
    except service.MedinfoRefused as e:
        return _refused(request, e, "薬剤情報の閲覧", "medication", _query(who_values))
    except ValidationFailed as e:
        return render(request, "error.html", status=422, title="エラー", message=e.message_ja)
    return _list(request, answer, "medication", who_values, planned=answer, drug_codes=drug_codes, days=days)


@router.get("/desk/medinfo/{category}")
def medinfo_list(
    request: Request,
    category: str,
    staff: FacilityUser,
    who_values: WhoQuery,
):
    if category not in CATEGORIES:
        return render(request, "error.html", status=404, title="エラー", message="ページが見つかりません。")
    query = _query(who_values)
    try:
        answer = service.view(db_of(request), staff.principal, category=category, channel="web", **_who(**who_values))
    except ValidationFailed as e:
        errs, _ = field_errors(e)
        return _form(request, staff, [], 422, values=who_values, errors=errs)
    except service.MedinfoRefused as e:
        return _refused(request, e, f"{CATEGORY_JA[category]}の閲覧", category, query)
    return _list(request, answer, category, who_values)


@router.get("/desk/medinfo/{category}/print")
def medinfo_print(
    request: Request,
    category: str,
    staff: FacilityUser,
    who_values: WhoQuery,
):
    if category not in CATEGORIES:
        return render(request, "error.html", status=404, title="エラー", message="ページが見つかりません。")
    who = _who(**who_values)
    try:
        _answer, pdf = printing.medinfo_pdf(db_of(request), staff.principal, category=category, **who)
    except service.MedinfoRefused as e:
        return _refused(request, e, f"{CATEGORY_JA[category]}の印刷", category, _query(who_values))
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="medinfo-{category}.pdf"'},
    )


# --- the administrator: disaster mode ------------------------------------------------------------


@router.get("/admin/disasters")
def disasters(request: Request, staff: AdminUser):
    return render(
        request,
        "medinfo/admin_disasters.html",
        title="災害時の薬剤情報等の閲覧",
        openings=service.list_disasters(db_of(request), staff.principal),
        values={},
    )


@router.post("/admin/disasters")
def disaster_open(
    request: Request,
    staff: AdminUser,
    reason: str = Form("", max_length=200),
    prefectures: str = Form("", max_length=200),
    municipalities: str = Form("", max_length=2000),
    starts_at: str = Form("", max_length=40),
    ends_at: str = Form("", max_length=40),
):
    db = db_of(request)
    values = {
        "reason": reason,
        "prefectures": prefectures,
        "municipalities": municipalities,
        "starts_at": starts_at,
        "ends_at": ends_at,
    }
    try:
        service.open_disaster(
            db,
            staff.principal,
            reason=reason,
            starts=starts_at,
            ends=ends_at,
            prefectures=[p for p in prefectures.replace("、", ",").replace(" ", ",").split(",") if p],
            municipalities=[m for m in municipalities.splitlines() if m.strip()],
        )
    except ValidationFailed as e:
        errs, _ = field_errors(e)
        return render(
            request,
            "medinfo/admin_disasters.html",
            status=422,
            title="災害時の薬剤情報等の閲覧",
            openings=service.list_disasters(db, staff.principal),
            values=values,
            errors=errs,
        )
    return redirect("/admin/disasters?opened=1")


@router.post("/admin/disasters/{opening_id}/close")
def disaster_close(request: Request, opening_id: int, staff: AdminUser):
    try:
        service.close_disaster(db_of(request), staff.principal, opening_id)
    except FujoError as e:
        return render(request, "error.html", status=e.status, title="エラー", message=e.message_ja)
    return redirect("/admin/disasters?closed=1")
