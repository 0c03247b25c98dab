"""Insurer (保険者): register a health-insurance qualification (医療保険の資格) with everything a
clinic imports from a check — card dates, 一部負担金割合, 高齢受給者証, 限度額適用認定証,
特定疾病療養受療証 — on a form generated from the field table, with errors shown by field."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from ..core.errors import FujoError, NotFound
from ..core.fields import ELDERLY_BLOCK, INSURANCE_FIELDS, LIMIT_BLOCK, SPECIFIC_DISEASE_BLOCK
from ..insurance import service as insurance
from .kit import InsurerUser, csrf_guard, db_of, redirect, refusal, render

router = APIRouter(prefix="/insurer", dependencies=[Depends(csrf_guard)], include_in_schema=False)

_BY_NAME = {f.name: f for f in INSURANCE_FIELDS}
# The form's sections; every field of INSURANCE_FIELDS appears in exactly one (tests check it).
SECTIONS = [
    (
        "保険者・被保険者証",
        (
            "insurer_number",
            "insurer_name",
            "insured_card_classification",
            "card_symbol",
            "card_number",
            "branch_number",
            "personal_family",
            "card_issuance_date",
            "card_valid_from",
            "card_valid_to",
            "contribution_ratio",
        ),
    ),
    (
        "被保険者",
        (
            "name",
            "name_kana",
            "name_of_other",
            "name_of_other_kana",
            "insured_name",
            "sex",
            "birthdate",
            "address",
            "post_number",
            "preschool",
        ),
    ),
    ("資格", ("qualification_date", "disqualification_date")),
    ("高齢受給者証（70〜74歳）", ELDERLY_BLOCK),
    ("限度額適用認定証（患者の同意があるときだけ医療機関に提供）", LIMIT_BLOCK),
    ("特定疾病療養受療証（患者の同意があるときだけ医療機関に提供）", SPECIFIC_DISEASE_BLOCK),
]
LABELS = {f.name: f.label_ja for f in INSURANCE_FIELDS}
LABELS["card_serial"] = "カードのシリアル番号"
TITLE = "医療保険資格の登録"


def _sections():
    return [(title, [_BY_NAME[n] for n in names]) for title, names in SECTIONS]


def _form(request: Request, values: dict, status: int = 200, errors: dict | None = None, message: str | None = None):
    return render(
        request,
        "insurer/qualification_form.html",
        status=status,
        title=TITLE,
        sections=_sections(),
        values=values,
        errors=errors or {},
        message=message,
        labels=LABELS,
    )


@router.get("")
def qualification_form(request: Request, staff: InsurerUser):
    return _form(
        request,
        {
            "insurer_number": staff.principal.code,
            "insurer_name": staff.principal.name,
            "insured_card_classification": "01",
        },
    )


@router.post("/qualifications")
async def qualification_create(request: Request, staff: InsurerUser):
    form = await request.form()
    names = [f.name for f in INSURANCE_FIELDS] + ["card_serial"]
    values = {n: form.get(n) if isinstance(form.get(n), str) else "" for n in names}
    try:
        q = insurance.register_qualification(db_of(request), staff.principal, values)
    except FujoError as e:
        status, shown = refusal(e)
        return _form(request, values, status, **shown)
    return redirect(f"/insurer/qualifications/{q['id']}?saved=1")


@router.get("/qualifications/{qid}")
def qualification_detail(request: Request, staff: InsurerUser, qid: str, saved: int = 0):
    if not qid.isdigit() or len(qid) > 18:
        raise NotFound("資格が見つかりません。", "No such qualification.")
    q = insurance.get_qualification(db_of(request), staff.principal, int(qid))
    return render(
        request,
        "insurer/qualification.html",
        title=f"医療保険資格 {q['name']}",
        q=q,
        sections=_sections(),
        notice="登録しました。" if saved else None,
    )
