"""和暦 on the screens (DOMAIN.md: 令和 2019-05-01, 平成 1989-01-08, 昭和 1926-12-25, 大正 1912-07-30, 明治; 元年)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fujo.core.era import era_of, wareki_date, wareki_month

D = dt.date


@pytest.mark.parametrize(
    "day, expected",
    [
        (D(1990, 1, 15), "平成2年1月15日"),  # the seed's 生年月日
        (D(2024, 7, 1), "令和6年7月1日"),  # the seed's 有効開始年月日
        (D(2024, 7, 31), "令和6年7月31日"),  # the seed's 有効終了年月日
        (D(2019, 5, 1), "令和元年5月1日"),
        (D(2019, 4, 30), "平成31年4月30日"),
        (D(2019, 12, 31), "令和元年12月31日"),
        (D(2020, 1, 1), "令和2年1月1日"),
        (D(1989, 1, 8), "平成元年1月8日"),
        (D(1989, 1, 7), "昭和64年1月7日"),
        (D(1926, 12, 25), "昭和元年12月25日"),
        (D(1926, 12, 24), "大正15年12月24日"),
        (D(1912, 7, 30), "大正元年7月30日"),
        (D(1912, 7, 29), "明治45年7月29日"),
        (D(1900, 1, 1), "明治33年1月1日"),
    ],
)
def test_wareki_date(day, expected):
    assert wareki_date(day) == expected


def test_missing_date_is_shown_as_a_dash():
    assert wareki_date(None) == "-"


def test_first_year_of_an_era_is_gannen_never_ichinen():
    for start in (D(2019, 5, 1), D(1989, 1, 8), D(1926, 12, 25), D(1912, 7, 30)):
        text = wareki_date(start)
        assert "元年" in text and "1年" not in text


def test_wareki_month_of_the_seed():
    assert wareki_month(2024, 7) == "令和6年7月"


@pytest.mark.parametrize(
    "year, month, expected",
    [
        (2019, 4, "平成31年4月"),
        (2019, 5, "令和元年5月"),  # 令和 began on the 1st: the whole month is 令和
        (2019, 6, "令和元年6月"),
        (1988, 12, "昭和63年12月"),
        (1989, 2, "平成元年2月"),
    ],
)
def test_wareki_month_away_from_era_changes(year, month, expected):
    assert wareki_month(year, month) == expected


def test_month_in_which_an_era_began_mid_month_is_shown_in_the_new_era():
    # January 1989 ran 昭和64年1月1日–7日 then 平成元年1月8日–31日. A 診療年月 is one label for the
    # whole month; the code names it by the era in force at the month's end (as 令和元年5月 for 2019-05),
    # which is how the month was labelled once 平成 began: 平成元年1月.
    assert wareki_month(1989, 1) == "平成元年1月"
    assert wareki_month(1926, 12) == "昭和元年12月"
    assert wareki_month(1912, 7) == "大正元年7月"


def test_wareki_month_for_december_rolls_the_year_correctly():
    assert wareki_month(2023, 12) == "令和5年12月"


def test_era_of_returns_name_and_year():
    assert era_of(D(2024, 7, 10)) == ("令和", 6)
    assert era_of(D(1868, 1, 25)) == ("明治", 1)


def test_dates_before_meiji_cannot_be_named():
    with pytest.raises(ValueError):
        era_of(D(1868, 1, 24))


@given(st.dates(min_value=D(1868, 1, 25), max_value=D(2100, 12, 31)))
def test_every_date_since_meiji_gets_an_era_and_a_positive_year(day):
    name, year = era_of(day)
    assert name in ("明治", "大正", "昭和", "平成", "令和")
    assert year >= 1
    text = wareki_date(day)
    assert text.startswith(name) and text.endswith(f"{day.month}月{day.day}日")


@given(st.dates(min_value=D(1868, 2, 1), max_value=D(2100, 12, 31)))
def test_era_year_counts_from_the_gregorian_year_the_era_began(day):
    starts = {"令和": 2019, "平成": 1989, "昭和": 1926, "大正": 1912, "明治": 1868}
    name, year = era_of(day)
    assert year == day.year - starts[name] + 1
