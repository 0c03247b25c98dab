"""Parsing of dates and months as they arrive: ISO 8601 (2024-07-01, 2024-07) or the wire
forms of the terminal interface (20240701, 202407), and 和暦 (R6.7.10, 令和6年7月10日, R6.7, 令和6年7月:
``era.parse_wareki``, ``era.parse_wareki_month``). Bad values are FieldProblems, not exceptions."""

from __future__ import annotations

import calendar
import datetime as dt
import functools
import re
import unicodedata
from collections.abc import Callable
from zoneinfo import ZoneInfo

from .era import WarekiError, parse_wareki, parse_wareki_month
from .errors import FieldProblem, ValidationFailed

JST = ZoneInfo("Asia/Tokyo")
MIN_YEAR = 1868


def today_jst() -> dt.date:
    return dt.datetime.now(JST).date()


def now_jst() -> dt.datetime:
    return dt.datetime.now(JST)


def _date_format(field: str, label_ja: str) -> FieldProblem:
    return FieldProblem(
        field,
        "date_format",
        f"{label_ja}はYYYY-MM-DD、YYYYMMDDまたは和暦（例 R6.7.10、令和6年7月10日）で入力してください。",
        f"{field} must be YYYY-MM-DD, YYYYMMDD or a Japanese era date (R6.7.10, 令和6年7月10日).",
    )


def _wareki_problem(
    e: WarekiError,
    field: str,
    label_ja: str,
    s: str,
    not_real: Callable[[WarekiError], FieldProblem],
    bad_format: Callable[[str, str], FieldProblem],
) -> FieldProblem:
    """What a 和暦 reader's refusal is for the field: outside its era, no such day (or month), or not
    in any form the field takes."""
    if e.code == "outside_era":
        return _outside_era(field, label_ja, s, e)
    if e.code == "invalid_date":
        return not_real(e)
    return bad_format(field, label_ja)


def _outside_era(field: str, label_ja: str, s: str, e: WarekiError) -> FieldProblem:
    """A day or month named in an era it is not in (平成31年5月1日, 令和元年4月): refused, never mapped."""
    return FieldProblem(
        field,
        "outside_era",
        f"{label_ja}「{s}」は元号の期間外です。{e.detail_ja}",
        f"{field} '{s}' is outside its era: {e.detail_en}",
    )


def _not_real(field: str, label_ja: str, s: str, detail_ja: str = "", detail_en: str = "") -> FieldProblem:
    return FieldProblem(
        field,
        "invalid_date",
        f"{label_ja}「{s}」は存在しない日付です。{detail_ja}",
        f"{field} '{s}' is not a real date." + (f" ({detail_en})" if detail_en else ""),
    )


def parse_date(
    value: object, field: str, label_ja: str = "日付", required: bool = True
) -> tuple[dt.date | None, FieldProblem | None]:
    """Returns (date | None, FieldProblem | None). Accepts ISO 2024-07-10, wire 20240710 and 和暦
    (R6.7.10, R06.07.10, r6/7/10, 令和6年7月10日, 令和元年5月1日, H/S/T/M and 平成/昭和/大正/明治);
    full-width digits and letters are folded (NFKC). A 和暦 date outside its era (平成31年5月1日) is
    refused as ``outside_era``, never mapped (see fujo.core.era)."""
    if value is None or value == "":
        if required:
            return None, FieldProblem(field, "required", f"{label_ja}を入力してください。", f"{field} is required.")
        return None, None
    if isinstance(value, dt.datetime):
        return value.date(), None
    if isinstance(value, dt.date):
        return value, None
    s = unicodedata.normalize("NFKC", str(value)).strip()
    try:
        d = parse_wareki(s)
    except WarekiError as e:
        return None, _wareki_problem(
            e, field, label_ja, s, lambda err: _not_real(field, label_ja, s, err.detail_ja, err.detail_en), _date_format
        )
    if d is not None:
        return d, None
    if not s.isascii():  # str.isdigit() would take other scripts' digits (NFKC folds only full-width ones)
        return None, _date_format(field, label_ja)
    try:
        if len(s) == 8 and s.isdigit():
            d = dt.date(int(s[:4]), int(s[4:6]), int(s[6:]))
        elif len(s) == 10 and s[4] == "-" and s[7] == "-":
            d = dt.date.fromisoformat(s)
    except ValueError:
        return None, _not_real(field, label_ja, s)
    if d is None:
        return None, _date_format(field, label_ja)
    if d.year < MIN_YEAR:  # before 明治: not a date this system can show or send (yyyyMMdd)
        return None, FieldProblem(
            field,
            "out_of_range",
            f"{label_ja}「{s}」は範囲外です（{MIN_YEAR}年以降）。",
            f"{field} '{s}' is out of range (year {MIN_YEAR} or later).",
        )
    return d, None


# A date followed by a time of day: 2024-01-01T16:10, R6.1.1 16:10, 令和6年1月1日 16時10分 is not read.
_WITH_TIME = re.compile(r"(.+?)(?:T|\s+)([0-9]{1,2}):([0-9]{2})(?::([0-9]{2}))?")


def split_time(text: str) -> tuple[str, str | None]:
    """(the date part, 'HH:MM[:SS]' or None) of an entry: 'R6.1.1 16:10' → ('R6.1.1', '16:10')."""
    m = _WITH_TIME.fullmatch(unicodedata.normalize("NFKC", text).strip())
    if m is None:
        return text, None
    return m.group(1), ":".join(g for g in m.group(2, 3, 4) if g)


_CLOCK = re.compile(r"([0-9]{1,2}):([0-9]{2})(?::([0-9]{2}))?")  # [0-9], not \d: other scripts' digits are no time


def parse_clock(text: str) -> dt.time | None:
    """A time of day, HH:MM or HH:MM:SS (24 hours); None when it is not one."""
    m = _CLOCK.fullmatch(text.strip())
    if m is None:
        return None
    h, mi, sec = int(m[1]), int(m[2]), int(m[3] or 0)
    return dt.time(h, mi, sec) if h <= 23 and mi <= 59 and sec <= 59 else None


def parse_date_time(
    value: object, field: str, label_ja: str = "日時", required: bool = True
) -> tuple[dt.date | None, dt.time | None, FieldProblem | None]:
    """A date (``parse_date``: ISO, yyyyMMdd or 和暦) with, optionally, a time of day after a T or a
    space (2024-01-01T16:10, R6.1.1 16:10): (date, time | None, problem | None)."""
    s = unicodedata.normalize("NFKC", "" if value is None else str(value)).strip()
    day, clock = split_time(s)
    if clock is None:
        d, p = parse_date(s, field, label_ja, required)
        return d, None, p
    d, p = parse_date(day, field, label_ja, required=True)
    t = parse_clock(clock)
    if p is None and t is None:
        p = FieldProblem(
            field, "invalid_time", f"{label_ja}「{s}」の時刻が正しくありません。", f"{field} '{s}' has no such time."
        )
    if p is not None:
        return None, None, p
    return d, t, None


def parse_moment(
    value: object, field: str, label_ja: str = "日時", *, end: bool = False
) -> tuple[dt.datetime | None, FieldProblem | None]:
    """A moment as people and programs give it: an ISO 8601 date-time (an offset kept; JST when none),
    a date with a time of day (``parse_date_time``: R6.1.1 16:10) in JST, or a date alone — its first
    moment, or with ``end`` the first moment of the next day (so that an end date is included).
    Required: an empty value is a problem."""
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=JST)), None
    if isinstance(value, dt.date):
        start = dt.datetime.combine(value, dt.time(), JST)
        return (start + dt.timedelta(days=1) if end else start), None
    if isinstance(value, str) and "T" in value and value[:1].isdigit():
        try:  # an offset (2024-01-01T16:10+09:00) is ISO's alone
            t = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            pass
        else:
            return (t if t.tzinfo else t.replace(tzinfo=JST)), None
    d, time_of_day, p = parse_date_time(value, field, label_ja, required=True)
    if p is not None and p.code == "date_format":  # the forms of a moment, not only of a day
        return None, FieldProblem(
            field,
            "datetime_format",
            f"{label_ja}は 2024-08-05、2024-08-05T10:30、R6.8.5、令和6年8月5日 10:30 のように入力してください。",
            f"{field} must be a date (2024-08-05, R6.8.5, 令和6年8月5日) or a date and time "
            "(2024-08-05T10:30, R6.8.5 10:30, ISO 8601 with or without an offset; JST when none).",
        )
    if p is not None or d is None:
        return None, p
    if time_of_day is not None:
        return dt.datetime.combine(d, time_of_day, JST), None
    start = dt.datetime.combine(d, dt.time(), JST)
    return (start + dt.timedelta(days=1) if end else start), None


def parse_month(
    value: object, field: str = "month", label_ja: str = "診療年月", *, wire: bool = False
) -> tuple[tuple[int, int] | None, FieldProblem | None]:
    """Returns ((year, month) | None, FieldProblem | None). Accepts 2024-07, 202407 and 和暦 (R6.7,
    令和6年7月, 令和元年5月: ``era.parse_wareki_month``), full-width folded (NFKC). ``wire``: a field of
    the terminal's files, whose format is yyyyMM alone (2024-07 still read, 和暦 refused)."""
    if value is None or value == "":
        return None, FieldProblem(field, "required", f"{label_ja}を入力してください。", f"{field} is required.")
    s = str(value).strip() if wire else unicodedata.normalize("NFKC", str(value)).strip()
    ym: tuple[int, int] | None = None
    if not wire:
        try:
            ym = parse_wareki_month(s)
        except WarekiError as e:
            return None, _wareki_problem(
                e,
                field,
                label_ja,
                s,
                lambda _: _not_a_month(field, label_ja, s),
                lambda f, label: _month_format(f, label, wire),
            )
    if ym is None:
        if len(s) == 7 and s[4] == "-":
            s = s[:4] + s[5:]
        if len(s) != 6 or not s.isascii() or not s.isdigit():
            return None, _month_format(field, label_ja, wire)
        ym = int(s[:4]), int(s[4:])
    y, m = ym
    if not 1 <= m <= 12 or y < 1900:
        return None, _not_a_month(field, label_ja, str(value))
    return (y, m), None


def _month_format(field: str, label_ja: str, wire: bool) -> FieldProblem:
    if wire:
        return FieldProblem(
            field,
            "month_format",
            f"{label_ja}はYYYY-MMまたはYYYYMMの形式で入力してください。",
            f"{field} must be YYYY-MM or YYYYMM.",
        )
    return FieldProblem(
        field,
        "month_format",
        f"{label_ja}はYYYY-MM、YYYYMMまたは和暦（例 R6.7、令和6年7月）で入力してください。",
        f"{field} must be YYYY-MM, YYYYMM or a Japanese era month (R6.7, 令和6年7月).",
    )


def _not_a_month(field: str, label_ja: str, s: str) -> FieldProblem:
    return FieldProblem(
        field, "invalid_month", f"{label_ja}「{s}」は存在しない年月です。", f"{field} '{s}' is not a real month."
    )


def month_key(year: int, month: int) -> str:
    """Storage and wire form of a month: 'yyyyMM'."""
    return f"{year:04d}{month:02d}"


def required_month(value: object, field: str = "month", label_ja: str = "診療年月") -> str:
    """The 'yyyyMM' key of a month entry (2024-07, 202407, R6.7); ValidationFailed naming the field otherwise."""
    ym, p = parse_month(value, field, label_ja)
    if p is not None or ym is None:
        raise ValidationFailed(problems=[p] if p else [])
    return month_key(*ym)


def month_of(d: dt.date) -> str:
    return f"{d.year:04d}{d.month:02d}"


def month_end(d: dt.date) -> dt.date:
    """The last day of the month of ``d``."""
    return d.replace(day=calendar.monthrange(d.year, d.month)[1])


def month_bounds(month: str) -> tuple[dt.date, dt.date]:
    """The first and the last day of a month given as 'yyyyMM' (its storage and wire form)."""
    first = dt.date(int(month[:4]), int(month[4:6]), 1)
    return first, month_end(first)


def wire_date(d: dt.date | None) -> str | None:
    if not d:
        return None
    if type(d) is dt.date:  # (a datetime's day depends on its zone: not cached)
        return _wire_day(d)
    return d.strftime("%Y%m%d")


@functools.lru_cache(maxsize=8192)
def _wire_day(d: dt.date) -> str:
    """A month's download formats the same few hundred days tens of thousands of times (strftime was
    a tenth of building its results, docs/PERFORMANCE.md)."""
    return d.strftime("%Y%m%d")


def wire_time(t: dt.datetime) -> str:
    return t.astimezone(JST).strftime("%Y%m%d%H%M%S")
