"""和暦 (Japanese era) formatting for screens: 令和6年7月1日, 令和元年, 平成2年1月15日 …"""

from __future__ import annotations

import datetime as dt

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
