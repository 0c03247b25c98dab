"""Dates and months as they arrive: ISO (2024-07-01, 2024-07) and wire forms (20240701, 202407)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

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


@pytest.mark.parametrize("raw", ["2024/07", "2024-7", "24-07", "2024-07-01", "July", "R6", "令和6年", "R6.7.1", "X6.7"])
def test_other_month_formats_are_refused(raw):
    ym, p = parse_month(raw, "month", "診療年月")
    assert ym is None
    assert p.code == "month_format"
    assert "YYYY-MM" in p.message_ja and "令和6年7月" in p.message_ja


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("R6.7", (2024, 7)),
        ("R06.07", (2024, 7)),
        ("r6/7", (2024, 7)),
        ("R6-7", (2024, 7)),
        ("令和6年7月", (2024, 7)),
        ("令和 6年 7月", (2024, 7)),
        ("令和元年5月", (2019, 5)),
        ("R1.5", (2019, 5)),
        ("H31.4", (2019, 4)),  # the month 平成 ended in is a 平成 month …
        ("S64.1", (1989, 1)),
        ("H1.1", (1989, 1)),  # … and the month 平成 began in too
        ("Ｒ６．７", (2024, 7)),  # full width, folded as for dates
        ("２０２４０７", (2024, 7)),
        ("T15.12", (1926, 12)),
    ],
)
def test_a_month_is_read_in_wareki(raw, expected):
    assert parse_month(raw) == (expected, None)


@pytest.mark.parametrize(
    "raw, when", [("H31.5", "平成31年4月30日"), ("令和元年4月", "令和元年5月1日"), ("S64.2", "昭和64年1月7日")]
)
def test_a_month_outside_its_era_is_refused_not_mapped(raw, when):
    ym, p = parse_month(raw, "treatment_month", "診療年月")
    assert ym is None
    assert p.code == "outside_era" and p.field == "treatment_month"
    assert when in p.message_ja


@pytest.mark.parametrize("raw", ["R6.13", "R6.0", "R0.7", "令和6年13月"])
def test_an_impossible_wareki_month_is_refused(raw):
    ym, p = parse_month(raw, "month", "診療年月")
    assert ym is None and p.code == "invalid_month" and "存在しない年月" in p.message_ja


@pytest.mark.parametrize("raw", ["R6.7", "令和6年7月", "２０２４０７", "2024/07"])
def test_the_terminal_files_month_is_yyyymm_alone(raw):
    ym, p = parse_month(raw, "MedicalTreatmentMonth", wire=True)
    assert ym is None and p.code == "month_format" and "和暦" not in p.message_ja
    assert parse_month("202407", wire=True) == ((2024, 7), None)


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


def test_every_month_from_1900_to_2100_reads_back_from_its_wareki():
    from fujo.core.era import era_month_forms, wareki_month

    n = 0
    for y in range(1900, 2101):
        for m in range(1, 13):
            assert parse_month(wareki_month(y, m)) == ((y, m), None)
            for form in era_month_forms(y, m).values():
                assert parse_month(form) == ((y, m), None), form
            n += 1
    assert n == 201 * 12


@pytest.mark.parametrize(
    "raw, day, time",
    [
        ("2024-01-01T16:10", dt.date(2024, 1, 1), dt.time(16, 10)),
        ("R6.1.1 16:10", dt.date(2024, 1, 1), dt.time(16, 10)),
        ("令和6年1月1日 9:05:30", dt.date(2024, 1, 1), dt.time(9, 5, 30)),
        ("Ｒ６．１．１　１６：１０", dt.date(2024, 1, 1), dt.time(16, 10)),
        ("R6.1.1", dt.date(2024, 1, 1), None),
        ("20240101", dt.date(2024, 1, 1), None),
    ],
)
def test_a_date_with_a_time_of_day(raw, day, time):
    from fujo.core.dates import parse_date_time

    assert parse_date_time(raw, "starts_at", "開始") == (day, time, None)


@pytest.mark.parametrize(
    "raw, code",
    [
        ("R6.1.1 24:00", "invalid_time"),
        ("R6.1.1 16:60", "invalid_time"),
        ("H31.5.1 10:00", "outside_era"),
        ("R6.1.1 16", "date_format"),
    ],
)
def test_a_bad_date_time_names_the_field(raw, code):
    from fujo.core.dates import parse_date_time

    d, t, p = parse_date_time(raw, "starts_at", "開始")
    assert (d, t) == (None, None) and p.code == code and p.field == "starts_at" and "開始" in p.message_ja


def test_a_moment_is_read_as_every_entry_gives_it():
    from fujo.core.dates import JST, parse_moment

    start = dt.datetime(2024, 1, 1, tzinfo=JST)
    assert parse_moment("R6.1.1", "starts_at") == (start, None)
    assert parse_moment("令和6年1月31日", "ends_at", end=True) == (dt.datetime(2024, 2, 1, tzinfo=JST), None)
    assert parse_moment("R6.1.1 16:10", "starts_at") == (start.replace(hour=16, minute=10), None)
    assert parse_moment("2024-01-01T16:10", "starts_at") == (start.replace(hour=16, minute=10), None)
    utc = parse_moment("2024-01-01T07:10Z", "starts_at")[0]
    assert utc == start.replace(hour=16, minute=10) and utc.utcoffset() == dt.timedelta(0)  # its offset kept
    when, p = parse_moment("先週", "written_at", "レセプトの作成日時")
    assert when is None and p.code == "datetime_format" and p.field == "written_at"
    assert "レセプトの作成日時" in p.message_ja and "10:30" in p.message_ja
    assert parse_moment("", "starts_at", "開始")[1].code == "required"


@given(st.text(max_size=20) | st.from_regex(r"[RHSTMrhstm令和平成昭和大正明治元0-9年月./ -]{1,14}", fullmatch=True))
def test_any_text_is_a_month_or_a_named_problem_never_an_exception(text):
    ym, p = parse_month(text, "treatment_month", "診療年月")
    assert (ym is None) != (p is None)
    if p is not None:
        assert p.field == "treatment_month" and "診療年月" in p.message_ja
    else:
        assert ym[0] >= 1900 and 1 <= ym[1] <= 12
