"""The registry's ticket rules (fujo.core.ticket_rules), pure: each refusal names its field and code."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest

from fujo.core import ticket_rules as R
from fujo.core.errors import Problems
from fujo.core.fields import TICKET_FIELDS, check_ticket_rules, clean_record
from fujo.core.numbers import with_check_digit

CLINIC, DENTAL, PHARMACY, STATION = (with_check_digit(b) for b in ("131123456", "133123456", "134123456", "136123456"))
D = dt.date


def ticket(**kw) -> dict:
    t = {
        "ticket_type": "01",
        "treatment_month": "202407",
        "valid_from": D(2024, 7, 1),
        "valid_to": D(2024, 7, 31),
        "designated_facility_code": CLINIC,
        "treatment_type": "02",
        "single_or_combined": "01",
        "issue_number": "7",
    }
    t.update(kw)
    return t


def recipient(start=D(2020, 4, 1), end=None, kind=None):
    return SimpleNamespace(id=1, qualification_date=start, disqualification_date=end, disqualification_kind=kind)


def problems_of(fn, *args) -> list[tuple[str, str]]:
    p = Problems()
    fn(*args, p)
    return [(x.field, x.code) for x in p.items]


# --- 点数表 -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kw, expected",
    [
        ({}, []),
        ({"ticket_type": "02", "treatment_type": "04", "designated_facility_code": PHARMACY}, []),
        ({"designated_facility_code": DENTAL, "treatment_type": "03"}, []),
        ({"designated_facility_code": STATION, "treatment_type": "05"}, []),
        ({"ticket_type": "02", "treatment_type": "04"}, [("designated_facility_code", "not_pharmacy")]),
        (
            {"ticket_type": "02", "treatment_type": "04", "designated_facility_code": STATION},
            [("designated_facility_code", "not_pharmacy")],
        ),
        ({"designated_facility_code": PHARMACY}, [("designated_facility_code", "pharmacy_on_medical_ticket")]),
        ({"treatment_type": "03"}, [("designated_facility_code", "dental_needs_dental_code")]),
        (
            {"designated_facility_code": DENTAL, "treatment_type": "02"},
            [("treatment_type", "dental_code_needs_dental")],
        ),
        ({"treatment_type": "05"}, [("designated_facility_code", "visiting_nursing_needs_station")]),
        (
            {"designated_facility_code": STATION, "treatment_type": "01"},
            [("treatment_type", "station_needs_visiting_nursing")],
        ),
    ],
)
def test_score_table_fits_the_ticket(kw, expected):
    assert problems_of(R.check_score_table, ticket(**kw)) == expected


@pytest.mark.parametrize(
    "single, social, expected",
    [
        ("01", "02", []),
        ("02", "01", []),
        ("01", None, []),
        ("02", None, []),
        ("01", "01", [("single_or_combined", "single_with_insurance")]),
        ("02", "02", [("single_or_combined", "combined_without_insurance")]),
    ],
)
def test_single_or_combined_against_social_insurance(single, social, expected):
    assert (
        problems_of(R.check_single_or_combined, ticket(single_or_combined=single, social_insurance=social)) == expected
    )


def test_the_field_rules_include_both_through_clean_record():
    p = Problems()
    t = clean_record(
        TICKET_FIELDS,
        {
            "ticket_type": "01",
            "treatment_month": "2024-07",
            "valid_from": "2024-07-01",
            "valid_to": "2024-07-31",
            "designated_facility_code": STATION,
            "treatment_type": "02",
            "single_or_combined": "01",
            "social_insurance": "01",
        },
        p,
    )
    check_ticket_rules(t, p)
    assert {(x.field, x.code) for x in p.items} == {
        ("treatment_type", "station_needs_visiting_nursing"),
        ("single_or_combined", "single_with_insurance"),
    }


def test_designated_facility_name_is_no_longer_required_it_comes_from_the_registry():
    assert not next(f for f in TICKET_FIELDS if f.name == "designated_facility_name").required


# --- 保護 period --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "rec, kw, expected",
    [
        (recipient(), {}, []),
        (recipient(start=D(2024, 7, 1)), {}, []),
        (recipient(start=D(2024, 8, 1)), {}, [("treatment_month", "before_protection")]),
        (recipient(start=D(2024, 7, 15)), {}, [("valid_from", "before_protection")]),
        (recipient(start=D(2024, 7, 15)), {"valid_from": D(2024, 7, 15)}, []),
        (recipient(end=D(2024, 7, 1), kind="2"), {}, [("treatment_month", "protection_ended")]),
        (recipient(end=D(2024, 6, 10), kind="1"), {}, [("treatment_month", "protection_ended")]),
        (recipient(end=D(2024, 7, 20), kind="2"), {}, [("valid_to", "after_protection")]),
        (recipient(end=D(2024, 7, 20), kind="2"), {"valid_to": D(2024, 7, 19)}, []),
        (recipient(end=D(2024, 8, 1), kind="2"), {}, []),
    ],
)
def test_ticket_inside_the_protection_period(rec, kw, expected):
    assert problems_of(R.check_protection_period, ticket(**kw), rec) == expected


def test_protection_messages_say_stop_or_abolition_with_the_wareki_date():
    p = Problems()
    R.check_protection_period(ticket(), recipient(end=D(2024, 7, 1), kind="1"), p)
    assert "停止" in p.items[0].message_ja and "令和6年7月1日" in p.items[0].message_ja
    p = Problems()
    R.check_protection_period(ticket(), recipient(end=D(2024, 7, 20), kind="2"), p)
    assert "廃止日" in p.items[0].message_ja and "2024-07-20" in p.items[0].message_en


# --- registry and duplicates -----------------------------------------------------------------------


def test_unregistered_facilities_are_refused_and_names_come_from_the_registry():
    assert problems_of(R.check_registered_facilities, ticket(), None, None) == [
        ("designated_facility_code", "not_registered")
    ]
    row = SimpleNamespace(name="●●医療機関")
    assert problems_of(R.check_registered_facilities, ticket(prescription_issuer_code=CLINIC), row, None) == [
        ("prescription_issuer_code", "not_registered")
    ]
    assert problems_of(R.check_registered_facilities, ticket(prescription_issuer_code=PHARMACY), row, row) == [
        ("prescription_issuer_code", "not_prescriber")
    ]
    t = ticket(designated_facility_name="typed by hand")
    p = Problems()
    R.check_against_registry(t, recipient(), {CLINIC: row}, [], [], None, p)
    assert not p and t["designated_facility_name"] == "●●医療機関"


def _existing(**kw):
    d = dict(
        ticket_key="k1", designated_facility_code=CLINIC, ticket_type="01", treatment_month="202407", issue_number="99"
    )
    d.update(kw)
    return SimpleNamespace(**d)


def test_the_same_ticket_twice_is_refused_but_an_amendment_of_itself_is_not():
    same = [_existing()]
    assert problems_of(R.check_duplicates, ticket(), same, [], None) == [
        ("designated_facility_code", "duplicate_ticket")
    ]
    assert problems_of(R.check_duplicates, ticket(), same, [], "k1") == []
    assert problems_of(R.check_duplicates, ticket(), [_existing(ticket_type="02")], [], None) == []
    assert problems_of(R.check_duplicates, ticket(), [_existing(designated_facility_code=PHARMACY)], [], None) == []
    issue = [_existing(issue_number="7", designated_facility_code=PHARMACY)]
    assert problems_of(R.check_duplicates, ticket(), [], issue, None) == [("issue_number", "duplicate_issue_number")]
    assert problems_of(R.check_duplicates, ticket(), [], issue, "k1") == []
    assert problems_of(R.check_duplicates, ticket(issue_number=None), [], issue, None) == []
