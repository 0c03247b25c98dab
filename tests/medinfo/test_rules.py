"""The pure rules of 薬剤情報等 (fujo.core.consent, fujo.core.medinfo): every case of the consent rule,
the retention, the duplicate hint and the disaster area."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from fujo.core import consent as C
from fujo.core import medinfo as M
from fujo.core.dates import JST

NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=JST)
HERE, THERE = 10, 20
ALL = "1111"


def card(at_hours_ago: float, bits: str = ALL, facility: int = HERE) -> C.ConsentRecord:
    return C.ConsentRecord(facility, "card", NOW - dt.timedelta(hours=at_hours_ago), bits)


def numbers(at_hours_ago: float, facility: int = HERE) -> C.ConsentRecord:
    return C.ConsentRecord(facility, "numbers", NOW - dt.timedelta(hours=at_hours_ago), None)


def decide(records, category="medication", role="clinician", restricted=False, facility=HERE):
    return C.decide_view(records, now=NOW, facility_id=facility, role=role, category=category, restricted=restricted)


@pytest.mark.parametrize("category", list(C.CATEGORIES))
def test_a_card_check_here_with_the_categorys_bit_opens_it_for_24_hours(category):
    bits = "".join("1" if k == category else "0" for k in C.CATEGORIES)
    d = decide([card(1, bits)], category)
    assert d.allowed and d.reason == C.GRANTED and d.flag == C.FLAG_GIVEN
    assert d.consented_at == NOW - dt.timedelta(hours=1)
    assert d.available_until == NOW + dt.timedelta(hours=23)
    # the other categories are not opened by this bit
    for other in C.CATEGORIES:
        if other != category:
            assert decide([card(1, bits)], other).reason == C.NO_CONSENT


def test_the_consent_ends_exactly_24_hours_after_it_was_given():
    assert decide([card(23.99)]).allowed
    d = decide([card(24)])
    assert not d.allowed and d.reason == C.EXPIRED and d.flag == C.FLAG_EXPIRED
    assert d.available_until == NOW
    msg_ja, msg_en = C.refusal_message(d, "medication")
    assert "期限切れ" in msg_ja and NOW.strftime("%Y-%m-%d %H:%M") in msg_ja and "expired" in msg_en


def test_the_newest_card_check_here_decides_a_later_check_without_the_bit_withdraws():
    assert decide([card(3), card(1, "0000")]).reason == C.NO_CONSENT
    assert decide([card(3, "0000"), card(1)]).allowed
    # an expired consent followed by a fresh one
    assert decide([card(30), card(2)]).allowed


def test_a_consent_at_another_facility_does_not_open_it_here():
    d = decide([numbers(0.5), card(1, facility=THERE)])
    assert d.reason == C.OTHER_FACILITY and d.flag == C.FLAG_NONE and not d.allowed
    # told only to a facility that checked the person itself: otherwise nothing about elsewhere
    assert decide([card(1, facility=THERE)]).reason == C.NO_CONSENT
    # an expired one elsewhere is a check by numbers here, nothing more
    assert decide([numbers(0.5), card(30, facility=THERE)]).reason == C.NUMBERS_ONLY
    # a card check here (without the bit) says no consent, whatever happened elsewhere
    assert decide([card(1, facility=THERE), card(2, "0000")]).reason == C.NO_CONSENT


def test_a_check_by_numbers_never_grants_it():
    d = decide([numbers(0.5)])
    assert d.reason == C.NUMBERS_ONLY and not d.allowed
    assert decide([numbers(0.5, facility=THERE)]).reason == C.NO_CONSENT
    assert decide([numbers(30)]).reason == C.NUMBERS_ONLY  # however old (within the log read)


def test_no_record_at_all_is_no_consent_and_future_records_are_ignored():
    assert decide([]).reason == C.NO_CONSENT
    assert decide([card(-1)]).reason == C.NO_CONSENT


@pytest.mark.parametrize("role", ["reception", "manager", "caseworker", ""])
def test_only_the_clinician_role_views(role):
    d = decide([card(1)], role=role)
    assert d.reason == C.ROLE and not d.allowed


def test_a_restricted_recipient_is_never_shown_and_the_facility_is_not_told_why():
    d = decide([card(1)], restricted=True)
    assert not d.allowed and d.reason == C.RESTRICTED and d.public_reason == C.UNAVAILABLE
    assert "制限" not in C.refusal_message(d, "medication")[0]


def test_every_combination_allows_only_with_a_live_consent_here_by_the_clinician():
    records = [card(1), card(30), card(1, facility=THERE), numbers(0.5), card(1, "0000")]
    for n in range(len(records) + 1):
        for combo in itertools.combinations(records, n):
            for role, restricted in itertools.product(("clinician", "reception"), (False, True)):
                d = decide(list(combo), role=role, restricted=restricted)
                here = [r for r in combo if r.method == "card" and r.facility_id == HERE]
                newest = max(here, key=lambda r: r.at) if here else None
                live = newest is not None and newest.consent == ALL and newest.at + dt.timedelta(hours=24) > NOW
                assert d.allowed == (live and role == "clinician" and not restricted), (combo, role, restricted)


def test_unknown_category_is_a_programming_error():
    with pytest.raises(ValueError):
        decide([], category="x")


def test_every_refusal_has_a_message_in_both_languages():
    for reason in (C.NO_CONSENT, C.OTHER_FACILITY, C.NUMBERS_ONLY, C.ROLE, C.RESTRICTED):
        ja, en = C.refusal_message(C.ConsentDecision(False, reason, "0"), "diagnosis")
        assert ja and en and ("診療情報" in ja or reason == C.RESTRICTED)


# --- retention -----------------------------------------------------------------------------------


def test_retention_counts_back_whole_years_per_category():
    today = dt.date(2026, 11, 24)
    assert M.retained_from("medication", today) == dt.date(2023, 11, 24)
    assert M.retained_from("diagnosis", today) == dt.date(2023, 11, 24)
    assert M.retained_from("checkups", today) == dt.date(2021, 11, 24)
    assert M.retained_from("surgery", today) == dt.date(2021, 11, 24)
    assert M.retained_from("medication", dt.date(2028, 2, 29)) == dt.date(2025, 2, 28)


# --- duplicates ----------------------------------------------------------------------------------


def med(key, date, days, facility, code="2149039F1020", ingredient="アムロジピンベシル酸塩"):
    return M.Medication(key, date, days, facility, code, ingredient)


def test_same_ingredient_from_two_facilities_in_overlapping_periods_is_a_duplicate():
    a = med(1, dt.date(2026, 10, 1), 30, "A")  # 10/1–10/30
    b = med(2, dt.date(2026, 10, 30), 14, "B", code="2149039F2026")  # overlaps on 10/30 (another strength)
    c = med(3, dt.date(2026, 10, 31), 14, "C", code="620000001", ingredient="アムロジピン ベシル酸塩")
    d = med(4, dt.date(2026, 10, 5), 30, "A")  # same facility: not a duplicate of a
    dup = M.duplicates([a, b, c, d])
    assert dup[1] == [2] and sorted(dup[2]) == [1, 3, 4] and sorted(dup[3]) == [2, 4] and sorted(dup[4]) == [2, 3]


def test_different_ingredients_or_separate_periods_are_not_duplicates():
    a = med(1, dt.date(2026, 10, 1), 30, "A")
    b = med(2, dt.date(2026, 10, 31), 7, "B")  # starts the day after a ends
    c = med(3, dt.date(2026, 10, 10), 7, "C", code="3969010F1024", ingredient="メトホルミン塩酸塩")
    assert M.duplicates([a, b, c]) == {}


def test_planned_prescriptions_are_checked_against_other_facilities_only():
    meds = [med(1, dt.date(2026, 11, 20), 30, "A"), med(2, dt.date(2026, 11, 1), 7, "B")]
    key = M.ingredient_key("2149039F1020", None)  # the YJ prefix names the ingredient
    found = M.planned_overlaps(meds, [("2149039F1020", key)], M.period(dt.date(2026, 11, 24), 14), "HERE")
    assert [(c, m.key) for c, m in found] == [("2149039F1020", 1)]
    assert M.planned_overlaps(meds, [("x", key)], M.period(dt.date(2026, 11, 24), 14), "A") == []
    assert M.planned_overlaps(meds, [("x", ("", ""))], M.period(dt.date(2026, 11, 24), 14), "HERE") == []


def test_code_formats():
    assert M.YJ_CODE.match("2149039F1020") and M.RECEIPT_DRUG_CODE.match("620000001")
    assert not M.YJ_CODE.match("2149039F102") and not M.RECEIPT_DRUG_CODE.match("120000001")
    assert M.RECEIPT_PROCEDURE_CODE.match("111000110") and M.OPERATION_CODE.match("K6335")
    assert M.ICD10.match("I10") and M.ICD10.match("E11.9") and not M.ICD10.match("10I")


# --- the disaster area ---------------------------------------------------------------------------


def test_a_facility_is_in_the_area_by_prefecture_or_by_the_start_of_its_address():
    assert M.in_area(["17"], [], "17", None)
    assert M.in_area([], ["石川県輪島市"], "17", "石川県 輪島市河井町1-1")
    assert M.in_area([], ["石川県輪島市"], "17", "石川県輪島市河井町１－１")
    assert not M.in_area([], ["石川県輪島市"], "17", "石川県金沢市")
    assert not M.in_area(["13"], ["石川県輪島市"], "17", None)


def test_an_opening_is_in_force_in_its_period_until_closed():
    s, e = NOW - dt.timedelta(days=1), NOW + dt.timedelta(days=1)
    assert M.open_at(s, e, None, NOW)
    assert not M.open_at(s, e, NOW, NOW)  # closed now: at once
    assert not M.open_at(NOW + dt.timedelta(seconds=1), e, None, NOW)
    assert not M.open_at(s, NOW, None, NOW)


def test_the_disaster_search_matches_normalised_names_and_the_address_start():
    row = {"name": "髙橋 一郎", "birthdate": dt.date(1990, 1, 15), "sex": "1", "address": "東京都○○市1-2-3"}
    kw = {"birthdate": dt.date(1990, 1, 15), "sex": "1"}
    assert M.matches_person(row, name="高橋一郎", address=None, **kw)
    assert M.matches_person(row, name="高橋一郎", address="東京都○○市", **kw)
    assert not M.matches_person(row, name="高橋一郎", address="東京都△△市", **kw)
    assert not M.matches_person(row, name="高橋二郎", address=None, **kw)
    assert not M.matches_person(row, name="高橋一郎", address=None, birthdate=dt.date(1990, 1, 16), sex="1")
