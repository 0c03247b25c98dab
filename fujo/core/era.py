"""和暦 (Japanese era) for screens and entry: 令和6年7月1日, 令和元年, 平成2年1月15日 … and the
parser of what clerks type (R6.7.10, R06.07.10, r6/7/10, 令和6年7月10日, 令和元年5月1日, H2.1.15 …).

Era boundaries, as ``era_of`` counts them: an era runs from its first day (``ERAS``) to the day before
the next era's first day. 平成31年4月30日 is the last 平成 day and 令和元年5月1日 the first 令和 day;
a date named in an era outside its span (平成31年5月1日, 令和元年4月30日, 昭和64年1月8日) is refused,
never mapped to the other era: a registry must not guess which of the two the clerk meant.
明治 is counted from 1868-01-25 (明治元年1月25日), as ``era_of`` does.
"""

from __future__ import annotations

import datetime as dt
import re

# (first day, name) newest first. 明治 is counted from its 1868 start (明治元年 = 1868).
ERAS = (
    (dt.date(2019, 5, 1), "令和"),
    (dt.date(1989, 1, 8), "平成"),
    (dt.date(1926, 12, 25), "昭和"),
    (dt.date(1912, 7, 30), "大正"),
    (dt.date(1868, 1, 25), "明治"),
)


def era_of(d: dt.date) -> tuple[str, int]:
    """(era name, year of era) for a date; raises ValueError before 明治."""
    for start, name in ERAS:
        if d >= start:
            return name, d.year - start.year + 1
    raise ValueError(f"{d.isoformat()} is before the Meiji era")


def _year(name: str, y: int) -> str:
    return f"{name}{'元' if y == 1 else y}年"


def wareki_date(d: dt.date | None) -> str:
    """平成2年1月15日; '-' when there is no date."""
    if d is None:
        return "-"
    name, y = era_of(d)
    return f"{_year(name, y)}{d.month}月{d.day}日"


def wareki_month(year: int, month: int) -> str:
    """令和6年7月 for 診療年月. The era is that of the month's first day, except the
    month an era began in, which is shown in the new era (e.g. 2019-05 → 令和元年5月)."""
    last = dt.date(year + (month == 12), month % 12 + 1, 1) - dt.timedelta(days=1)
    name, y = era_of(last)
    return f"{_year(name, y)}{month}月"


ERA_LETTERS = {"R": "令和", "H": "平成", "S": "昭和", "T": "大正", "M": "明治"}

_ERA = re.compile(r"(令和|平成|昭和|大正|明治|[RHSTMrhstm])")
# 年月日 form (令和6年7月10日) or a separator form (R6.7.10, r6/7/10, R06-07-10); the year may be 元.
_REST = re.compile(r"(元|[0-9]{1,2})(?:年([0-9]{1,2})月([0-9]{1,2})日|([./-])([0-9]{1,2})\4([0-9]{1,2}))")
# A month (診療年月): 令和6年7月 or R6.7, r6/7, R06-07.
_REST_MONTH = re.compile(r"(元|[0-9]{1,2})(?:年([0-9]{1,2})月|[./-]([0-9]{1,2}))")


class WarekiError(ValueError):
    """What is wrong with a 和暦 date: ``code`` is date_format, invalid_date or outside_era."""

    def __init__(self, code: str, detail_ja: str = "", detail_en: str = "") -> None:
        super().__init__(code)
        self.code, self.detail_ja, self.detail_en = code, detail_ja, detail_en


def written_in_era(text: str) -> bool:
    """Whether an (NFKC-normalised) entry names its era (R6.7.10, 令和6年…) rather than a Western year."""
    return _ERA.match("".join(text.split())) is not None


def with_era(text: str, letter: str, month: bool = False) -> str:
    """An entry typed without its era, read in the era chosen beside the input (the era selector):
    ``with_era("6.7.10", "R") == "R6.7.10"``, ``with_era("元年5月1日", "R") == "令和元年5月1日"``;
    with ``month``, a month entry: ``with_era("6.7", "R", month=True) == "R6.7"``.
    Anything else comes back as it was: a text with its own era, a Western date (2024-07-10, 20240710)
    or an unknown letter — the era selector never overrides what the clerk typed."""
    s = "".join(text.split())
    name = ERA_LETTERS.get(letter.upper()) if letter else None
    rest = _REST_MONTH if month else _REST
    if name is None or not s or _ERA.match(s) or rest.fullmatch(s) is None:
        return text
    return (name if "年" in s else letter.upper()) + s


def era_forms(d: dt.date) -> dict[str, str]:
    """The short forms of a date in each era it can be written in (its own era; R6.7.10) and in the
    Western calendar (``AD``: 2024-07-10) — what the era selector converts an entry into."""
    name, y = era_of(d)
    letter = next(k for k, v in ERA_LETTERS.items() if v == name)
    return {letter: f"{letter}{y}.{d.month}.{d.day}", "AD": d.isoformat()}


def era_month_forms(year: int, month: int) -> dict[str, str]:
    """``era_forms`` of a month, in the era ``wareki_month`` shows it in: {"R": "R6.7", "AD": "2024-07"}."""
    name, y = era_of(dt.date(year + (month == 12), month % 12 + 1, 1) - dt.timedelta(days=1))
    letter = next(k for k, v in ERA_LETTERS.items() if v == name)
    return {letter: f"{letter}{y}.{month}", "AD": f"{year:04d}-{month:02d}"}


def era_span(name: str) -> tuple[dt.date, dt.date | None]:
    """First and last day of an era (None: the present era has no last day yet)."""
    for i, (start, n) in enumerate(ERAS):
        if n == name:
            return start, (ERAS[i - 1][0] - dt.timedelta(days=1)) if i else None
    raise KeyError(name)


def _seireki(d: dt.date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def parse_wareki(text: str) -> dt.date | None:
    """The date of a 和暦 text, or None when the text does not start with an era (not 和暦 at all).

    Expects NFKC-normalised text (full-width digits and ㍻/㋿ already folded); white space inside is
    ignored. Raises WarekiError for a malformed 和暦, an impossible day or a date outside the era."""
    s = "".join(text.split())
    m = _ERA.match(s)
    if m is None:
        return None
    name = ERA_LETTERS.get(m.group(1).upper(), m.group(1))
    r = _REST.fullmatch(s, m.end())
    if r is None:
        raise WarekiError("date_format")
    year = 1 if r.group(1) == "元" else int(r.group(1))
    month, day = (r.group(2), r.group(3)) if r.group(2) else (r.group(5), r.group(6))
    first, last = era_span(name)
    if year == 0:
        raise WarekiError("invalid_date", "年は元年（1年）からです。", "the first year of an era is 1 (元年).")
    try:
        d = dt.date(first.year + year - 1, int(month), int(day))
    except ValueError:
        raise WarekiError("invalid_date") from None
    _within_era(name, first, last, d, d)
    return d


def parse_wareki_month(text: str) -> tuple[int, int] | None:
    """(year, month) of a 和暦 month (令和6年7月, 令和元年5月, R6.7, r6/7, H31.4), or None when the text
    does not start with an era. As for dates, a month with no day in its era (平成31年5月, 令和元年4月)
    is refused as ``outside_era``; a month an era began or ended in belongs to both (平成31年4月 and
    令和元年5月 … 昭和64年1月 and 平成元年1月)."""
    s = "".join(text.split())
    m = _ERA.match(s)
    if m is None:
        return None
    name = ERA_LETTERS.get(m.group(1).upper(), m.group(1))
    r = _REST_MONTH.fullmatch(s, m.end())
    if r is None:
        raise WarekiError("date_format")
    year = 1 if r.group(1) == "元" else int(r.group(1))
    month = int(r.group(2) or r.group(3))
    if year == 0:
        raise WarekiError("invalid_date", "年は元年（1年）からです。", "the first year of an era is 1 (元年).")
    if not 1 <= month <= 12:
        raise WarekiError("invalid_date")
    first, last = era_span(name)
    y = first.year + year - 1
    month_first = dt.date(y, month, 1)
    month_last = dt.date(y + (month == 12), month % 12 + 1, 1) - dt.timedelta(days=1)
    _within_era(name, first, last, month_last, month_first)
    return y, month


def _within_era(name: str, first: dt.date, last: dt.date | None, latest: dt.date, earliest: dt.date) -> None:
    """Refuses a date (or a month: its last and first day) named in an era it lies outside of."""
    if latest < first:
        before = era_of(first - dt.timedelta(days=1))[0] if first > ERAS[-1][0] else None
        raise WarekiError(
            "outside_era",
            f"{name}は{wareki_date(first)}（{_seireki(first)}）からです。"
            + (f"それより前は{before}で入力してください。" if before else ""),
            f"{name} begins on {first.isoformat()}.",
        )
    if last is not None and earliest > last:
        after = era_of(last + dt.timedelta(days=1))[0]
        raise WarekiError(
            "outside_era",
            f"{name}は{wareki_date(last)}（{_seireki(last)}）までです。"
            f"{_seireki(last + dt.timedelta(days=1))}以降は{after}で入力してください。",
            f"{name} ended on {last.isoformat()}.",
        )
