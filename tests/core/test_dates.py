"""Dates and months as they arrive: ISO (2024-07-01, 2024-07) and wire forms (20240701, 202407)."""

from __future__ import annotations

import datetime as dt

import pytest

from fujo.core.dates import JST, month_key, month_of, parse_date, parse_month, wire_date, wire_time


@pytest.mark.parametrize(
    "raw", ["2024-07-01", "20240701", " 2024-07-01 ", dt.date(2024, 7, 1), dt.datetime(2024, 7, 1, 23, 59)]
)
def test_a_date_is_read_from_iso_wire_or_date_objects(raw):
    assert parse_date(raw, "valid_from") == (dt.date(2024, 7, 1), None)


@pytest.mark.parametrize("raw", ["2024-02-30", "20240230", "2023-02-29", "2024-13-01", "20240001", "00000101"])
def test_impossible_dates_are_refused_as_not_real(raw):
    d, p = parse_date(raw, "valid_from", "有効開始年月日")
    assert d is None
    assert p.code == "invalid_date" and p.field == "valid_from"
    assert "有効開始年月日" in p.message_ja and "存在しない日付" in p.message_ja


def test_leap_day_is_a_real_date():
    assert parse_date("2024-02-29", "d")[0] == dt.date(2024, 2, 29)


@pytest.mark.parametrize("raw", ["2024/07/01", "2024-7-1", "240701", "2024年7月1日", "July 1", "2024-07-01T00:00"])
def test_other_date_formats_are_refused_with_the_expected_format(raw):
    d, p = parse_date(raw, "birthdate", "生年月日")
    assert d is None
    assert p.code == "date_format"
    assert "YYYY-MM-DD" in p.message_ja and "生年月日" in p.message_ja


def test_missing_date_is_required_or_none():
    assert parse_date("", "d", "日付")[1].code == "required"
    assert parse_date(None, "d")[1].code == "required"
    assert parse_date("", "d", required=False) == (None, None)


@pytest.mark.parametrize("raw", ["2024-07", "202407", " 2024-07 "])
def test_a_month_is_read_from_iso_or_wire_form(raw):
    assert parse_month(raw) == ((2024, 7), None)


@pytest.mark.parametrize("raw", ["2024-13", "202413", "202400", "2024-00", "1899-12"])
def test_impossible_months_are_refused(raw):
    ym, p = parse_month(raw, "month", "診療年月")
    assert ym is None
    assert p.code == "invalid_month" and p.field == "month"
    assert "診療年月" in p.message_ja and "存在しない年月" in p.message_ja


@pytest.mark.parametrize("raw", ["2024/07", "2024-7", "24-07", "２０２４０７", "2024-07-01", "July"])
def test_other_month_formats_are_refused(raw):
    ym, p = parse_month(raw, "month", "診療年月")
    assert ym is None
    assert p.code == "month_format"
    assert "YYYY-MM" in p.message_ja


def test_missing_month_is_required():
    assert parse_month("")[1].code == "required"
    assert parse_month(None)[1].code == "required"


def test_wire_forms():
    assert month_key(2024, 7) == "202407"
    assert month_of(dt.date(2024, 7, 31)) == "202407"
    assert wire_date(dt.date(2024, 7, 1)) == "20240701"
    assert wire_date(None) is None


def test_wire_time_is_japan_time_to_the_second():
    utc = dt.datetime(2023, 2, 21, 8, 48, 35, tzinfo=dt.UTC)
    assert wire_time(utc) == "20230221174835"  # 17:48:35 JST, as in the published sample
    assert wire_time(dt.datetime(2023, 12, 31, 23, 0, 0, tzinfo=JST)) == "20231231230000"


@pytest.mark.parametrize("raw", ["２０２４０７０１", "２０２４-０７-０１", "2024-07-0１"])
def test_full_width_digits_are_folded_as_an_ime_types_them(raw):
    # Clerks type with the IME on: full-width digits are folded (NFKC) in every date entry, 和暦 or ISO.
    assert parse_date(raw, "birthdate", "生年月日") == (dt.date(2024, 7, 1), None)


@pytest.mark.parametrize("raw", ["٢٠٢٤٠٧٠١", "२०२४०७०१"])
def test_dates_with_other_scripts_digits_are_refused_as_a_format_problem(raw):
    # NFKC does not fold other scripts' digits; str.isdigit() would take them: a format problem,
    # never "存在しない日付".
    d, p = parse_date(raw, "birthdate", "生年月日")
    assert d is None
    assert p is not None and p.code == "date_format"
