"""The reading of a date as it is typed, for every date entry of the screens (issue 9): the 和暦
shown beside the input (R6.7.10 → 令和6年7月10日（2024-07-10）), the era selector's conversion
(2024-07-10 ⇄ R6.7.10) and the problem the service would name on saving. The page asks the server
rather than parsing in JavaScript, so there is one reader of dates (``core.dates.parse_date``).

POST (not GET) so that a birth date never reaches a URL, and without CSRF token: it changes
nothing and answers only about the text it was sent."""

from __future__ import annotations

from fastapi import APIRouter, Form

from ..api.deps import JSON
from ..core.dates import parse_date
from ..core.era import ERA_LETTERS, ERAS, era_forms, era_span, wareki_date, with_era

router = APIRouter(include_in_schema=False)


def read(value: str, era: str = "", label_ja: str = "日付", convert: bool = False) -> dict:
    """``entry``: the text the input should hold — the era applied to an entry typed without one,
    or, with ``convert`` (the clerk picked another era), the date written in that era (AD: ISO);
    ``reading`` and ``forms`` when it is a date, ``error`` (the service's message) when it is not."""
    entry = with_era(value.strip(), era)
    if not entry:
        return {"entry": "", "reading": "", "forms": {}, "error": ""}
    d, problem = parse_date(entry, "date", label_ja, required=False)
    if convert and d is not None and problem is None:
        if era == "AD":
            entry = d.isoformat()
        elif era in ERA_LETTERS and d >= ERAS[-1][0]:
            # written in the chosen era and read back: a date outside it gets the core's own refusal
            first = era_span(ERA_LETTERS[era])[0]
            entry = f"{era}{d.year - first.year + 1}.{d.month}.{d.day}"
            d, problem = parse_date(entry, "date", label_ja, required=False)
    if problem is not None or d is None:
        return {"entry": entry, "reading": "", "forms": {}, "error": problem.message_ja if problem else ""}
    if d < ERAS[-1][0]:  # before 明治: a date, but no 和暦 to show
        return {"entry": entry, "reading": "", "forms": {"AD": d.isoformat()}, "error": ""}
    return {"entry": entry, "reading": f"{wareki_date(d)}（{d.isoformat()}）", "forms": era_forms(d), "error": ""}


@router.post("/dates/read")
def read_date(
    value: str = Form("", max_length=40),
    era: str = Form("", max_length=2),
    label: str = Form("日付", max_length=20),
    convert: bool = Form(False),
):
    return JSON(read(value, era, label, convert))
