"""和暦 entry (issue 9): every date entry accepts R6.7.10, 令和6年7月10日 … as well as ISO, through the
one parser (core.dates.parse_date → core.era.parse_wareki). Era boundaries: an era runs from its first
day to the day before the next one's; a date named in the wrong era is refused, never mapped."""

from __future__ import annotations

import datetime as dt
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fujo.core.dates import parse_date
from fujo.core.era import (
    ERA_LETTERS,
    ERAS,
    era_forms,
    era_of,
    era_span,
    parse_wareki,
    wareki_date,
    with_era,
    written_in_era,
)
from fujo.core.fields import RECIPIENT_FIELDS, TICKET_FIELDS, clean_value

D = dt.date
FIRST = D(1868, 1, 25)  # 明治元年1月25日, the first day era_of can name
LETTER = {name: letter for letter, name in ERA_LETTERS.items()}


def ok(raw):
    d, p = parse_date(raw, "valid_from", "有効開始年月日")
    assert p is None, p
    return d


def refused(raw, field="valid_from", label="有効開始年月日"):
    d, p = parse_date(raw, field, label)
    assert d is None and p is not None
    assert p.field == field and label in p.message_ja  # the field is named
    return p


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("R6.7.10", D(2024, 7, 10)),
        ("R06.07.10", D(2024, 7, 10)),
        ("r6/7/10", D(2024, 7, 10)),
        ("R6-7-10", D(2024, 7, 10)),
        ("令和6年7月10日", D(2024, 7, 10)),
        ("令和6.7.10", D(2024, 7, 10)),
        ("R6年7月10日", D(2024, 7, 10)),
        ("令和元年5月1日", D(2019, 5, 1)),
        ("R元.5.1", D(2019, 5, 1)),
        ("令和1年5月1日", D(2019, 5, 1)),
        ("H2.1.15", D(1990, 1, 15)),
        ("h02.01.15", D(1990, 1, 15)),
        ("平成2年1月15日", D(1990, 1, 15)),
        ("S60.4.2", D(1985, 4, 2)),
        ("昭和60年4月2日", D(1985, 4, 2)),
        ("T15.12.24", D(1926, 12, 24)),
        ("大正元年7月30日", D(1912, 7, 30)),
        ("M45.7.29", D(1912, 7, 29)),
        ("明治33年1月1日", D(1900, 1, 1)),
        ("2024-07-10", D(2024, 7, 10)),
        ("20240710", D(2024, 7, 10)),
        # full-width (IME on): folded by NFKC, as are the era ligatures ㋿ ㍻ ㍼ ㍽ ㍾
        ("令和６年７月１０日", D(2024, 7, 10)),
        ("Ｒ６．７．１０", D(2024, 7, 10)),
        ("ｒ６／７／１０", D(2024, 7, 10)),
        ("２０２４－０７－１０", D(2024, 7, 10)),
        ("㋿6.7.10", D(2024, 7, 10)),
        ("㍻2年1月15日", D(1990, 1, 15)),
        (" 令和 6年 7月 10日 ", D(2024, 7, 10)),
        ("令和6年7月10日\u3000", D(2024, 7, 10)),
    ],
)
def test_wareki_and_iso_entries_are_read(raw, expected):
    assert ok(raw) == expected


@pytest.mark.parametrize(
    "raw, expected",
    [
        # the last and first day of each era, both ways
        ("平成31年4月30日", D(2019, 4, 30)),
        ("令和元年5月1日", D(2019, 5, 1)),
        ("昭和64年1月7日", D(1989, 1, 7)),
        ("平成元年1月8日", D(1989, 1, 8)),
        ("大正15年12月24日", D(1926, 12, 24)),
        ("昭和元年12月25日", D(1926, 12, 25)),
        ("明治45年7月29日", D(1912, 7, 29)),
        ("大正元年7月30日", D(1912, 7, 30)),
        ("明治元年1月25日", D(1868, 1, 25)),
    ],
)
def test_era_boundaries_are_accepted_on_their_own_side(raw, expected):
    assert ok(raw) == expected


@pytest.mark.parametrize(
    "raw, era, hint",
    [
        ("平成31年5月1日", "平成", "令和で入力"),  # refused, not mapped to 令和元年5月1日
        ("H31.5.1", "平成", "令和で入力"),
        ("平成32年1月1日", "平成", "令和で入力"),
        ("令和元年4月30日", "令和", "平成で入力"),
        ("令和1年4月30日", "令和", "平成で入力"),
        ("R1.1.1", "令和", "平成で入力"),
        ("昭和64年1月8日", "昭和", "平成で入力"),
        ("平成元年1月7日", "平成", "昭和で入力"),
        ("昭和元年12月24日", "昭和", "大正で入力"),
        ("大正15年12月25日", "大正", "昭和で入力"),
        ("大正元年7月29日", "大正", "明治で入力"),
        ("明治45年7月30日", "明治", "大正で入力"),
        ("明治元年1月24日", "明治", "明治元年1月25日"),
        ("M99.1.1", "明治", "大正で入力"),
    ],
)
def test_a_date_outside_its_era_is_refused_and_the_boundary_is_told(raw, era, hint):
    p = refused(raw)
    assert p.code == "outside_era"
    assert raw in p.message_ja and era in p.message_ja and hint in p.message_ja
    assert "outside its era" in p.message_en


def test_heisei_ends_on_the_30th_of_april_2019():
    assert era_span("平成") == (D(1989, 1, 8), D(2019, 4, 30))
    assert era_span("令和") == (D(2019, 5, 1), None)
    assert era_span("明治") == (FIRST, D(1912, 7, 29))
    p = refused("平成31年5月1日")
    assert "平成31年4月30日（2019年4月30日）まで" in p.message_ja


@pytest.mark.parametrize("raw", ["令和6年2月30日", "R6.2.30", "R5.2.29", "R6.13.1", "R6.0.1", "R6.7.0", "R6.4.31"])
def test_impossible_wareki_days_are_not_real(raw):
    p = refused(raw)
    assert p.code == "invalid_date" and "存在しない日付" in p.message_ja


def test_leap_day_in_wareki():
    assert ok("R6.2.29") == D(2024, 2, 29)
    assert ok("H12.2.29") == D(2000, 2, 29)
    assert refused("H11.2.29").code == "invalid_date"


def test_year_zero_is_not_an_era_year():
    p = refused("R0.5.1")
    assert p.code == "invalid_date" and "元年" in p.message_ja


@pytest.mark.parametrize(
    "raw",
    [
        "R6.7",
        "R6",
        "R",
        "令和",
        "令和6年7月",
        "令和6年7月10",
        "令和6年7月10日です",
        "R6.7.10.",
        "R6.7/10",  # mixed separators
        "R6..7.10",
        "R123.1.1",
        "R6.123.1",
        "X6.7.10",
        "RR6.7.10",
        "元.5.1",
        "R元元.5.1",
        "R-6.7.10",
        "R6.7.10 12:00",
        "6.7.10",
        "2024/07/10",
        "2024年7月10日",  # 西暦 with 年月日: not one of the forms
        "July 10",
        "March 1",  # starts like 明治 (M): still only a format problem
        "R٦.٧.١٠",  # other scripts' digits are not folded
        "R6.7.10\x00",
        "--",
    ],
)
def test_garbage_is_a_format_problem_naming_the_field(raw):
    p = refused(raw, "birthdate", "生年月日")
    assert p.code == "date_format"
    assert "和暦" in p.message_ja and "R6.7.10" in p.message_ja and "YYYY-MM-DD" in p.message_ja


def test_parse_wareki_leaves_non_wareki_text_to_the_iso_reader():
    assert parse_wareki("2024-07-10") is None
    assert parse_wareki("") is None
    assert parse_wareki("R6.7.10") == D(2024, 7, 10)


ERA_DATES = st.dates(min_value=FIRST, max_value=D(2100, 12, 31))


def _forms(d: dt.date) -> list[str]:
    name, y = era_of(d)
    letter = LETTER[name]
    return [
        wareki_date(d),
        f"{name}{y}年{d.month}月{d.day}日",
        f"{letter}{y}.{d.month}.{d.day}",
        f"{letter}{y:02d}.{d.month:02d}.{d.day:02d}",
        f"{letter.lower()}{y}/{d.month}/{d.day}",
        f"{letter}{y}-{d.month}-{d.day}",
        unicodedata.normalize("NFKC", wareki_date(d)).translate(str.maketrans("0123456789", "０１２３４５６７８９")),
        d.isoformat(),
        d.strftime("%Y%m%d"),
    ]


@given(ERA_DATES)
def test_round_trip_every_date_from_meiji_to_2100(d):
    for text in _forms(d):
        assert parse_date(text, "d") == (d, None), text


def test_round_trip_exhaustively_for_every_day_from_meiji_to_2100():
    d, last, n = FIRST, D(2100, 12, 31), 0
    while d <= last:
        name, y = era_of(d)
        assert parse_date(wareki_date(d), "d") == (d, None)
        assert parse_date(f"{LETTER[name]}{y}.{d.month}.{d.day}", "d") == (d, None)
        d += dt.timedelta(days=1)
        n += 1
    assert n == (last - FIRST).days + 1


@given(ERA_DATES, st.sampled_from([name for _, name in ERAS]))
def test_a_date_named_in_another_era_is_read_only_inside_that_era(d, name):
    # Naming the day in any era: accepted exactly when the day lies in that era's span.
    first, last = era_span(name)
    y = d.year - first.year + 1
    if y < 1 or y > 99:
        return
    got, p = parse_date(f"{name}{y}年{d.month}月{d.day}日", "d")
    inside = first <= d and (last is None or d <= last)
    assert (got, p is None) == ((d, True) if inside else (None, False))
    if not inside:
        assert p is not None and p.code == "outside_era"


@given(st.text(max_size=20))
def test_any_text_is_a_date_or_a_named_problem_never_an_exception(text):
    d, p = parse_date(text, "valid_to", "有効終了年月日")
    assert (d is None) != (p is None)
    if p is not None:
        assert p.field == "valid_to" and "有効終了年月日" in p.message_ja
        assert p.code in ("required", "date_format", "invalid_date", "outside_era", "out_of_range")


@given(
    st.sampled_from(["R", "H", "S", "T", "M", "令和", "平成", "昭和", "大正", "明治"]),
    st.integers(0, 120),
    st.integers(0, 13),
    st.integers(0, 32),
)
def test_any_era_numbers_are_a_date_or_a_named_problem(era, y, m, d):
    got, p = parse_date(f"{era}{y}.{m}.{d}", "birthdate", "生年月日")
    assert (got is None) != (p is None)
    if got is not None:
        assert got.month == m and got.day == d and era_of(got)[0] == ERA_LETTERS.get(era, era)


def test_the_field_tables_take_wareki_and_store_an_iso_date():
    birth = next(f for f in RECIPIENT_FIELDS if f.name == "birthdate")
    valid_to = next(f for f in TICKET_FIELDS if f.name == "valid_to")
    assert clean_value(birth, "平成2年1月15日") == (D(1990, 1, 15), None)
    assert clean_value(valid_to, " R6.7.31 ") == (D(2024, 7, 31), None)
    v, p = clean_value(valid_to, "令和1年4月30日")
    assert v is None and p is not None and p.field == "valid_to" and "有効終了年月日" in p.message_ja


# --- the era selector beside a date entry (core.era.with_era / era_forms) ----------------------


@pytest.mark.parametrize(
    ("typed", "era", "entry"),
    [
        ("6.7.10", "R", "R6.7.10"),
        ("06/07/10", "r", "R06/07/10"),
        ("2.1.15", "H", "H2.1.15"),
        ("6年7月10日", "R", "令和6年7月10日"),
        ("元年5月1日", "R", "令和元年5月1日"),
        ("64.1.7", "S", "S64.1.7"),
        # what already says its own calendar is never overridden by the selector
        ("H2.1.15", "R", "H2.1.15"),
        ("平成2年1月15日", "S", "平成2年1月15日"),
        ("2024-07-10", "R", "2024-07-10"),
        ("20240710", "H", "20240710"),
        # no era chosen, an unknown one, or not a date form at all: as typed (the parser names it)
        ("6.7.10", "", "6.7.10"),
        ("6.7.10", "AD", "6.7.10"),
        ("6.7", "R", "6.7"),
        ("", "R", ""),
    ],
)
def test_an_entry_without_its_era_is_read_in_the_selected_one(typed, era, entry):
    assert with_era(typed, era) == entry


@given(ERA_DATES)
def test_every_day_typed_without_its_era_reads_back_in_the_selected_era(d):
    name, y = era_of(d)
    letter = LETTER[name]
    assert parse_date(with_era(f"{y}.{d.month}.{d.day}", letter), "d") == (d, None)
    assert parse_date(with_era(f"{'元' if y == 1 else y}年{d.month}月{d.day}日", letter), "d") == (d, None)


@given(ERA_DATES)
def test_the_era_forms_of_a_day_read_back_as_that_day(d):
    forms = era_forms(d)
    assert set(forms) == {LETTER[era_of(d)[0]], "AD"}
    assert {k: parse_date(v, "d") for k, v in forms.items()} == {k: (d, None) for k in forms}
    assert forms["AD"] == d.isoformat()


def test_the_first_day_of_reiwa_is_written_in_reiwa_and_the_last_of_heisei_in_heisei():
    assert era_forms(D(2019, 5, 1)) == {"R": "R1.5.1", "AD": "2019-05-01"}
    assert era_forms(D(2019, 4, 30)) == {"H": "H31.4.30", "AD": "2019-04-30"}


@pytest.mark.parametrize(
    ("text", "named"),
    [("R6.7.10", True), ("令和6年7月10日", True), ("h2.1.15", True), ("2024-07-10", False), ("", False)],
)
def test_an_entry_names_its_era_or_not(text, named):
    assert written_in_era(text) is named
