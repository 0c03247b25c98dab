"""The administrator's subsidy estimate (補助金): the same service as ``fujo subsidy estimate`` —
amount by the rate and cost ceiling of the kind, the completion deadline and the application window,
and a note where the published maxima are rounded."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request

from ..core.errors import ValidationFailed
from ..subsidy.service import estimate_subsidy, rules_summary
from .kit import AdminUser, csrf_guard, field_errors, render

router = APIRouter(prefix="/admin", dependencies=[Depends(csrf_guard)], include_in_schema=False)

FIELDS = ("kind", "cost", "other_costs", "completed", "applied", "fiscal_year")
LABELS = {
    "kind": "区分",
    "cost": "導入経費（事業額）",
    "other_costs": "その他の経費",
    "completed": "完了日",
    "applied": "申請日",
    "fiscal_year": "年度",
}


@router.get("/subsidy")
def subsidy(
    request: Request,
    staff: AdminUser,
    kind: str = Query("", max_length=30),
    cost: str = Query("", max_length=30),
    other_costs: str = Query("", max_length=30),
    completed: str = Query("", max_length=30),
    applied: str = Query("", max_length=30),
    fiscal_year: str = Query("", max_length=10),
):
    """A calculator: nothing is stored, so the form is a GET (the answer can be bookmarked)."""
    values = {
        "kind": kind.strip(),
        "cost": cost.strip(),
        "other_costs": other_costs.strip(),
        "completed": completed.strip(),
        "applied": applied.strip(),
        "fiscal_year": fiscal_year.strip(),
    }
    rules = rules_summary()
    estimate, errors, status = None, {}, 200
    if any(values.values()):
        try:
            estimate = estimate_subsidy(values)
        except ValidationFailed as e:
            errors, status = field_errors(e)[0], 422
    kinds = {k["kind"]: k["label"] for k in rules[-1]["kinds"]}
    years = {str(r["fiscal_year"]): r["fiscal_year_ja"] for r in rules}
    return render(
        request,
        "subsidy/estimate.html",
        status=status,
        title="補助金の見積り",
        rules=rules,
        kinds=kinds,
        years=years,
        values=values,
        errors=errors,
        labels=LABELS,
        estimate=estimate,
    )
