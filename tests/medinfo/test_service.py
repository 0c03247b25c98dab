"""薬剤情報等 through the services, on SQLite and PostgreSQL: feeding, the consent rule with every
refusal (each recorded before the answer), retention, the duplicate hint and the planned-prescription
check."""

from __future__ import annotations

import datetime as dt

import pytest

from fujo.core.dates import today_jst
from fujo.core.errors import Forbidden, NotFound, ValidationFailed
from fujo.medinfo import service
from fujo.medinfo.service import MedinfoRefused
from tests.factories import PAYER2
from tests.medinfo.helpers import (
    AMLODIPINE,
    AMLODIPINE_OD,
    CLINIC,
    METFORMIN,
    OTHER,
    PHARMACY,
    add,
    as_role,
    audit_rows,
    card_check,
    clinician,
    medication,
    numbers_check,
)

TODAY = today_jst()


@pytest.fixture
def patient(world):
    r = world.recipient()
    c = world.card(r)
    return r, c


def test_a_clinician_with_a_live_consent_here_sees_the_records_newest_first_and_the_view_is_recorded(world, patient):
    r, c = patient
    add(world, "medication", medication(r, TODAY - dt.timedelta(days=40)))
    add(world, "medication", medication(r, TODAY - dt.timedelta(days=10), METFORMIN))
    check = card_check(world, c)
    out = service.view(world.db, clinician(world), category="medication", check_id=check["CheckId"])
    assert [x["drug_code"] for x in out["records"]] == [METFORMIN[0], AMLODIPINE[0]]
    assert out["consent_flag"] == "1" and out["available_time"] and out["patient"]["name"] == "生保一郎"
    assert out["records"][1]["end_date"] == (TODAY - dt.timedelta(days=40) + dt.timedelta(days=27)).isoformat()
    # by the numbers of the check answer as well
    same = service.view(
        world.db,
        clinician(world),
        category="medication",
        payer_number=r["payer_number"],
        recipient_number=r["recipient_number"],
    )
    assert [x["id"] for x in same["records"]] == [x["id"] for x in out["records"]]
    rows = audit_rows(world.db)
    assert [x.outcome for x in rows] == ["1", "1"] and rows[0].id == out["view_id"]
    assert rows[0].category == "medication" and rows[0].channel == "api" and rows[0].person_id == c["person_id"]
    assert rows[0].hash  # in the audit chain
    assert rows[0].role == "clinician"


@pytest.mark.parametrize(
    ("category", "data"),
    [
        (
            "diagnosis",
            {
                "procedure_code": "112007410",
                "procedure_name": "再診料",
                "disease_name": "本態性高血圧症",
                "icd10": "I10",
            },
        ),
        ("checkups", {"item_name": "HbA1c（NGSP）", "value": "6.2", "unit": "%", "item_code": "3D046"}),
        ("surgery", {"procedure_code": "K6335", "procedure_name": "鼠径ヘルニア手術"}),
    ],
)
def test_each_category_is_fed_and_viewed_with_its_own_consent_bit(world, patient, category, data):
    r, c = patient
    base = {"payer_number": r["payer_number"], "recipient_number": r["recipient_number"], "date": TODAY.isoformat()}
    if category != "checkups":
        base |= {"facility_code": CLINIC, "facility_name": "●●医療機関"}
    add(world, category, base | data)
    bit = {"diagnosis": "DiagnosisInfo", "checkups": "SpecificHealthCheckupsInfo", "surgery": "OperationInfo"}[category]
    card_check(world, c, consent={bit: True})
    out = service.view(
        world.db,
        clinician(world),
        category=category,
        payer_number=r["payer_number"],
        recipient_number=r["recipient_number"],
    )
    assert len(out["records"]) == 1 and all(out["records"][0][k] == v for k, v in data.items())
    with pytest.raises(MedinfoRefused) as e:  # the medication bit was not given
        service.view(
            world.db,
            clinician(world),
            category="medication",
            check_id=None,
            payer_number=r["payer_number"],
            recipient_number=r["recipient_number"],
        )
    assert e.value.reason == "no_consent"


def test_rows_older_than_the_retention_stay_stored_but_are_never_served(world, patient):
    r, c = patient
    add(world, "medication", medication(r, TODAY.replace(year=TODAY.year - 3) - dt.timedelta(days=1)))
    add(world, "medication", medication(r, TODAY.replace(year=TODAY.year - 3) + dt.timedelta(days=1)))
    base = {"payer_number": r["payer_number"], "recipient_number": r["recipient_number"]}
    add(
        world,
        "checkups",
        base | {"date": (TODAY.replace(year=TODAY.year - 4)).isoformat(), "item_name": "BMI", "value": "24.1"},
    )
    add(
        world,
        "checkups",
        base | {"date": (TODAY.replace(year=TODAY.year - 6)).isoformat(), "item_name": "BMI", "value": "23.0"},
    )
    card_check(world, c)
    who = {"payer_number": r["payer_number"], "recipient_number": r["recipient_number"]}
    meds = service.view(world.db, clinician(world), category="medication", **who)
    assert len(meds["records"]) == 1 and meds["retention_years"] == 3
    checks = service.view(world.db, clinician(world), category="checkups", **who)
    assert [x["value"] for x in checks["records"]] == ["24.1"] and checks["retention_years"] == 5
    from sqlalchemy import func, select

    from fujo.db import schema

    with world.db.read() as conn:
        assert conn.execute(select(func.count()).select_from(schema.medinfo_records)).scalar() == 4


# --- refusals: each says why and is recorded -------------------------------------------------------


def _refused(world, principal, r=None, **who):
    if r is not None:
        who = {"payer_number": r["payer_number"], "recipient_number": r["recipient_number"]}
    with pytest.raises(MedinfoRefused) as e:
        service.view(world.db, principal, category="medication", **who)
    last = audit_rows(world.db)[-1]
    assert last.outcome == "0" and last.category == "medication"
    return e.value, last


def test_without_any_check_there_is_no_consent(world, patient):
    r, _ = patient
    add(world, "medication", medication(r, TODAY))
    err, row = _refused(world, clinician(world), r)
    assert err.reason == "no_consent" and err.flag == "0" and row.reason == "no_consent"
    assert "同意" in err.message_ja


def test_a_card_check_without_the_medication_bit_is_no_consent(world, patient):
    r, c = patient
    card_check(world, c, consent={"DiagnosisInfo": True})
    err, _ = _refused(world, clinician(world), r)
    assert err.reason == "no_consent"


def test_an_expired_consent_says_when_it_expired(world, patient, monkeypatch):
    r, c = patient
    card_check(world, c)
    later = world.db.now() + dt.timedelta(hours=25)
    monkeypatch.setattr(world.db, "now", lambda: later)
    err, row = _refused(world, clinician(world), r)
    assert err.reason == "expired" and err.flag == "2" and err.available_until is not None
    assert err.available_until.strftime("%Y-%m-%d %H:%M") in err.message_ja
    assert err.as_dict()["reason"] == "expired" and row.reason == "expired"


def test_a_consent_given_at_another_facility_does_not_open_it_here(world, patient):
    r, c = patient
    card_check(world, c, key="other")
    err, _ = _refused(world, clinician(world), r)
    assert err.reason == "no_consent"  # this facility never checked the person: nothing about elsewhere
    numbers_check(world, r)
    err, row = _refused(world, clinician(world), r)
    assert err.reason == "other_facility" and row.reason == "other_facility"


def test_a_check_by_numbers_never_grants_it(world, patient):
    r, _ = patient
    world.ticket(r, on=TODAY)
    check = numbers_check(world, r)
    err, _ = _refused(world, clinician(world), check_id=check["CheckId"])
    assert err.reason == "numbers_only"


@pytest.mark.parametrize("role", ["reception", "manager"])
def test_reception_and_manager_cannot_view(world, patient, role):
    r, c = patient
    card_check(world, c)
    err, row = _refused(world, as_role(world.principal("clinic"), role), r)
    assert err.reason == "role" and row.reason == "role" and row.role == role


def test_a_check_id_of_another_facility_identifies_no_one(world, patient):
    r, c = patient
    check = card_check(world, c, key="other")
    err, row = _refused(world, clinician(world), check_id=check["CheckId"])
    assert err.reason == "no_consent" and row.reason == "not_found"


def test_a_restricted_recipient_is_never_shown_not_even_with_consent(world, patient):
    r, c = patient
    card_check(world, c)
    service.set_restriction(
        world.db, world.principal("office"), payer=r["payer_number"], rn=r["recipient_number"], restricted=True
    )
    err, row = _refused(world, clinician(world), r)
    assert err.reason == "unavailable" and row.reason == "restricted"
    assert audit_rows(world.db, "registry")[-1].reason == "recipient.restrict"


def test_only_facilities_view_and_only_offices_and_the_administrator_feed(world, patient):
    r, _ = patient
    with pytest.raises(Forbidden):
        service.view(
            world.db,
            world.principal("office"),
            category="medication",
            payer_number=r["payer_number"],
            recipient_number=r["recipient_number"],
        )
    with pytest.raises(Forbidden):
        add(world, "medication", medication(r, TODAY), office="clinic")
    with pytest.raises(Forbidden):  # another office's 公費負担者番号
        add(world, "medication", medication(r, TODAY), office="office2")
    assert add(world, "medication", medication(r, TODAY), office="admin")["id"]
    with pytest.raises(NotFound):
        add(
            world,
            "medication",
            medication({"payer_number": PAYER2, "recipient_number": r["recipient_number"]}, TODAY),
            office="office2",
        )


def test_bad_records_name_each_field(world, patient):
    r, _ = patient
    data = medication(r, TODAY) | {"drug_code": "123", "days": "0", "facility_code": "1311234567", "extra": "x"}
    del data["ingredient"]
    with pytest.raises(ValidationFailed) as e:
        add(world, "medication", data)
    assert {p.field for p in e.value.problems} == {"drug_code", "days", "facility_code", "extra", "ingredient"}
    with pytest.raises(ValidationFailed):
        add(world, "nothing", {})
    with pytest.raises(ValidationFailed):
        service.view(world.db, clinician(world), category="medication")


# --- duplicates and the planned prescription ---------------------------------------------------------


def test_the_list_marks_the_same_ingredient_from_two_facilities_in_overlapping_periods(world, patient):
    r, c = patient
    a = add(world, "medication", medication(r, TODAY - dt.timedelta(days=20), AMLODIPINE, CLINIC, "●●医療機関", 28))
    b = add(world, "medication", medication(r, TODAY - dt.timedelta(days=5), AMLODIPINE_OD, OTHER, "▲▲クリニック", 28))
    m = add(world, "medication", medication(r, TODAY - dt.timedelta(days=5), METFORMIN, OTHER, "▲▲クリニック", 28))
    card_check(world, c)
    out = service.view(
        world.db,
        clinician(world),
        category="medication",
        payer_number=r["payer_number"],
        recipient_number=r["recipient_number"],
    )
    by_id = {x["id"]: x for x in out["records"]}
    assert by_id[a["id"]]["duplicate"] and by_id[b["id"]]["duplicate"] and not by_id[m["id"]]["duplicate"]
    assert by_id[a["id"]]["duplicate_with"][0]["facility_name"] == "▲▲クリニック"


def test_overlaps_of_what_the_facility_is_about_to_prescribe(world, patient):
    r, c = patient
    add(world, "medication", medication(r, TODAY - dt.timedelta(days=5), AMLODIPINE, OTHER, "▲▲クリニック", 28))
    add(world, "medication", medication(r, TODAY - dt.timedelta(days=5), METFORMIN, CLINIC, "●●医療機関", 28))
    card_check(world, c, key="pharmacy")
    out = service.overlaps(
        world.db,
        clinician(world, "pharmacy"),
        drug_codes=[AMLODIPINE_OD[0], METFORMIN[0], "620000001"],
        days=14,
        payer_number=r["payer_number"],
        recipient_number=r["recipient_number"],
    )
    assert [(o["drug_code"], o["record"]["facility_name"]) for o in out["overlaps"]] == [
        (AMLODIPINE_OD[0], "▲▲クリニック"),
        (METFORMIN[0], "●●医療機関"),
    ]
    assert out["unknown_codes"] == ["620000001"] and len(out["records"]) == 2
    assert audit_rows(world.db)[-1].flags == "overlaps"
    # not for a day after both end
    later = service.overlaps(
        world.db,
        clinician(world, "pharmacy"),
        drug_codes=[AMLODIPINE[0]],
        start_date=(TODAY + dt.timedelta(days=30)).isoformat(),
        payer_number=r["payer_number"],
        recipient_number=r["recipient_number"],
    )
    assert later["overlaps"] == []
    with pytest.raises(ValidationFailed):
        service.overlaps(
            world.db,
            clinician(world, "pharmacy"),
            drug_codes=["x"],
            payer_number=r["payer_number"],
            recipient_number=r["recipient_number"],
        )
    assert PHARMACY  # the pharmacy checked the card: its own consent


def test_records_of_the_person_follow_them_across_offices(world):
    """A move to another office: the old office's records stay under the old recipient and are still
    served for the person (both recipient records are linked to the same card holder)."""
    r1 = world.recipient(disqualification_date=(TODAY - dt.timedelta(days=60)).isoformat(), disqualification_kind="2")
    c = world.card(r1)
    r2 = world.recipient(
        office="office2", payer_number=PAYER2, qualification_date=(TODAY - dt.timedelta(days=60)).isoformat()
    )
    world.numbers[(r2["payer_number"], r2["recipient_number"])] = c["individual_number"]
    world.card(r2)
    add(world, "medication", medication(r1, TODAY - dt.timedelta(days=90)))
    add(world, "medication", medication(r2, TODAY - dt.timedelta(days=10), METFORMIN), office="office2")
    card_check(world, c)
    out = service.view(
        world.db,
        clinician(world),
        category="medication",
        payer_number=r2["payer_number"],
        recipient_number=r2["recipient_number"],
    )
    assert [x["drug_code"] for x in out["records"]] == [METFORMIN[0], AMLODIPINE[0]]


def test_the_demo_gives_ichiro_half_a_year_of_each_category_with_a_duplicate(db, ca, tmp_path):
    from pathlib import Path

    from fujo.cards.reader import prove
    from fujo.cards.service import create_challenge
    from fujo.demo.data import CLINIC as DEMO_CLINIC
    from fujo.demo.data import load_demo
    from fujo.eligibility.service import check_by_card
    from fujo.orgs.service import principal_for

    info = load_demo(db, ca, tmp_path / "cards")
    p = principal_for(db, kind="facility", code=DEMO_CLINIC)
    card = info["cards"]["ichiro"]
    proof = prove(
        Path(card["file"]),
        card["pin"],
        create_challenge(db, p)["challenge"],
        p.code,
        {"PharmacistsInfo": True, "DiagnosisInfo": True, "SpecificHealthCheckupsInfo": True, "OperationInfo": True},
    )
    check_by_card(db, ca, p, **proof.as_dict())
    doctor = as_role(p, "clinician")
    who = {"payer_number": info["numbers"]["office_payer"], "recipient_number": card["recipient_number"]}
    meds = service.view(db, doctor, category="medication", **who)["records"]
    assert len({x["facility_name"] for x in meds}) == 2 and sum(x["duplicate"] for x in meds) >= 2
    assert min(x["date"] for x in meds) <= (TODAY - dt.timedelta(days=150)).isoformat()
    for category in ("diagnosis", "checkups", "surgery"):
        assert service.view(db, doctor, category=category, **who)["records"], category
