"""初回ひも付け's cross-check (fujo.core.identity) and the month status of bulk rows (fujo.core.monthly)."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest

from fujo.core import monthly
from fujo.core.identity import identity_differences, normalize_name


@pytest.mark.parametrize(
    "a, b",
    [
        ("髙橋花子", "高橋花子"),
        ("﨑山次郎", "崎山次郎"),
        ("渡邊一郎", "渡辺一郎"),
        ("渡邉一郎", "渡辺一郎"),
        ("齋藤三郎", "斎藤三郎"),
        ("生保 一郎", "生保一郎"),
        ("生保\u3000一郎", "生保一郎"),
        ("さとう花子", "サトウ花子"),
        ("ｻﾄｳ ﾊﾅｺ", "サトウハナコ"),
        ("國廣眞", "国広真"),
        ("塚本", "\ufa10本"),
    ],
)
def test_writing_differences_do_not_block_a_link(a, b):
    assert normalize_name(a) == normalize_name(b)


@pytest.mark.parametrize("a, b", [("斎藤三郎", "斉藤三郎"), ("生保一郎", "生保二郎"), ("佐藤", "加藤")])
def test_different_names_stay_different(a, b):
    assert normalize_name(a) != normalize_name(b)


def person(name="生保一郎", birthdate=dt.date(1990, 1, 15)):
    return SimpleNamespace(name=name, birthdate=birthdate)


def test_differences_name_the_items_and_never_the_values():
    assert identity_differences(person(), person("生保 一郎")) == []
    diff = identity_differences(person(), person("扶助花子", dt.date(1985, 4, 2)))
    assert [(p.field, p.code) for p in diff] == [("name", "identity_mismatch"), ("birthdate", "identity_mismatch")]
    assert all("扶助" not in p.message_ja and "1985" not in p.message_ja + p.message_en for p in diff)
    assert [p.field for p in identity_differences(person(), person(birthdate=dt.date(1990, 1, 16)))] == ["birthdate"]


# --- month status -----------------------------------------------------------------------------------

D = dt.date


def rec(start=D(2020, 4, 1), end=None, kind=None):
    return SimpleNamespace(qualification_date=start, disqualification_date=end, disqualification_kind=kind)


@pytest.mark.parametrize(
    "r, expected",
    [
        (rec(), ("valid", None)),
        (rec(end=D(2024, 8, 1), kind="2"), ("valid", None)),
        (rec(end=D(2024, 7, 20), kind="1"), ("suspended", D(2024, 7, 20))),
        (rec(end=D(2024, 7, 1), kind="2"), ("abolished", D(2024, 7, 1))),
        (rec(end=D(2024, 5, 1), kind="2"), ("abolished", D(2024, 5, 1))),
        (rec(start=D(2024, 8, 1)), ("not_started", D(2024, 8, 1))),
    ],
)
def test_month_status(r, expected):
    assert monthly.month_status(r, "202407") == expected


def test_a_ticket_is_billable_only_where_it_overlaps_the_protection_period():
    t = SimpleNamespace(valid_from=D(2024, 7, 1), valid_to=D(2024, 7, 31))
    assert monthly.billable(rec(), t)
    assert monthly.billable(rec(end=D(2024, 7, 20)), t)  # partly: billable up to 7/19
    assert not monthly.billable(rec(end=D(2024, 7, 1)), t)  # ended on the first day
    assert not monthly.billable(rec(start=D(2024, 8, 1)), t)
    assert monthly.status_fields("abolished", D(2024, 7, 1)) == {
        "QualificationStatus": "abolished",
        "QualificationStatusText": "廃止",
        "QualificationStatusDate": "20240701",
    }
