"""The reading of a date or a month as it is typed, for every date entry of the screens (issue 9): the 和暦
shown beside the input (R6.7.10 → 令和6年7月10日（2024-07-10）), the era selector's conversion
(2024-07-10 ⇄ R6.7.10) and the problem the service would name on saving. The page asks the server
rather than parsing in JavaScript, so there is one reader of dates (``core.dates.parse_date``).

POST (not GET) so that a birth date never reaches a URL, and without CSRF token: it changes
nothing and answers only about the text it was sent."""

from __future__ import annotations

from fastapi import APIRouter, Form

from ..api.deps import JSON
from ..core.dates import parse_date, parse_date_time, parse_month, split_time
from ..core.era import ERA_LETTERS, ERAS, era_forms, era_month_forms, era_span, wareki_date, wareki_month, with_era

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


def read_month(value: str, era: str = "", label_ja: str = "診療年月", convert: bool = False) -> dict:
    """``read`` for a month entry (診療年月: R6.7, 令和6年7月, 2024-07): the same answer, read by
    ``core.dates.parse_month``; the reading is 令和6年7月（2024-07）."""
    entry = with_era(value.strip(), era, month=True)
    if not entry:
        return {"entry": "", "reading": "", "forms": {}, "error": ""}
    ym, problem = parse_month(entry, "month", label_ja)
    if convert and ym is not None and problem is None:
        if era == "AD":
            entry = f"{ym[0]:04d}-{ym[1]:02d}"
        elif era in ERA_LETTERS:
            first = era_span(ERA_LETTERS[era])[0]
            entry = f"{era}{ym[0] - first.year + 1}.{ym[1]}"
            ym, problem = parse_month(entry, "month", label_ja)
    if problem is not None or ym is None:
        return {"entry": entry, "reading": "", "forms": {}, "error": problem.message_ja if problem else ""}
    y, m = ym
    return {
        "entry": entry,
        "reading": f"{wareki_month(y, m)}（{y:04d}-{m:02d}）",
        "forms": era_month_forms(y, m),
        "error": "",
    }


def read_date_time(value: str, era: str = "", label_ja: str = "日時", convert: bool = False) -> dict:
    """``read`` for an entry that may carry a time of day after its date (R6.1.1 16:10,
    2024-01-01T16:10): the date part is read and converted as a date's, the time kept as typed."""
    day, time_of_day = split_time(value.strip())
    answer = read(day, era, label_ja, convert)
    if time_of_day is None or not answer["entry"]:
        return answer
    sep = "T" if "T" in value and answer["entry"][:1].isdigit() else " "  # 2024-01-01T16:10 stays ISO
    answer["entry"] = f"{answer['entry']}{sep}{time_of_day}"
    if answer["error"]:
        return answer
    _, t, problem = parse_date_time(answer["entry"], "date", label_ja)
    if problem is not None or t is None:
        return {"entry": answer["entry"], "reading": "", "forms": {}, "error": problem.message_ja if problem else ""}
    hm = f"{t:%H:%M}"
    if answer["reading"]:  # (none before 明治: a date, but no 和暦 to show)
        reading, iso = answer["reading"].rsplit("（", 1)
        answer["reading"] = f"{reading} {hm}（{iso[:-1]}T{hm}）"
    answer["forms"] = {k: f"{v}{'T' if k == 'AD' else ' '}{hm}" for k, v in answer["forms"].items()}
    if convert and era == "AD":
        answer["entry"] = answer["forms"]["AD"]
    return answer


READERS = {"date": read, "month": read_month, "datetime": read_date_time}


@router.post("/dates/read")
def read_date(
    value: str = Form("", max_length=40),
    era: str = Form("", max_length=2),
    label: str = Form("日付", max_length=20),
    convert: bool = Form(False),
    kind: str = Form("date", pattern="^(date|month|datetime)$"),
):
    return JSON(READERS[kind](value, era, label, convert))
