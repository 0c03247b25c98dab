"""The viewing restriction (閲覧制限) in every answer to a facility, and the disaster mode (災害時), on
SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest

from fujo.bulk.service import tickets_for_month
from fujo.core.dates import today_jst
from fujo.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from fujo.core.numbers import with_check_digit
from fujo.medinfo import service
from fujo.medinfo.service import DisasterRefused, MedinfoRefused
from fujo.registry import facilities
from tests.medinfo.helpers import (
    CLINIC,
    OTHER,
    add,
    as_role,
    audit_rows,
    card_check,
    clinician,
    medication,
    numbers_check,
)

TODAY = today_jst()
NOBODY = with_check_digit("999998")  # a 受給者番号 the factories never give


def restrict(world, r, on=True):
    return service.set_restriction(
        world.db, world.principal("office"), payer=r["payer_number"], rn=r["recipient_number"], restricted=on
    )


def _a1(check):
    return next(x for x in check["ResultList"] if x["InsuredCardClassification"] == "A1")


# --- viewing restriction ---------------------------------------------------------------------------


def test_the_designated_facility_sees_name_and_birth_date_but_never_the_address(world):
    r = world.recipient()
    c = world.card(r)
    world.ticket(r, on=TODAY, facility=CLINIC)
    before = _a1(card_check(world, c))
    assert before["Address"] and before["PostNumber"]
    restrict(world, r)
    res = _a1(card_check(world, c))
    assert res["QualificationValidity"] == "1" and res["Name"] == "生保一郎" and res["Birthdate"] == "19900115"
    assert "Address" not in res and "PostNumber" not in res
    num = _a1(numbers_check(world, r))
    assert num["Name"] == "生保一郎" and "Address" not in num
    bulk = tickets_for_month(world.db, world.principal("clinic"), TODAY.strftime("%Y-%m"))
    rows = [x for x in bulk["ResultList"] if x.get("InsuredIdentificationNumber") == r["recipient_number"]]
    assert rows and "Address" not in rows[0] and rows[0]["Name"] == "生保一郎"


def test_another_facility_sees_neither_name_nor_birth_date(world):
    r = world.recipient()
    c = world.card(r)
    world.ticket(r, on=TODAY, facility=CLINIC)
    restrict(world, r)
    res = _a1(card_check(world, c, key="other"))
    assert res["QualificationValidity"] == "6"
    assert not {"Name", "NameKana", "Birthdate", "Address", "PostNumber"} & set(res)
    # lifting it restores the usual answer
    restrict(world, r, on=False)
    assert _a1(card_check(world, c, key="other"))["Name"] == "生保一郎"


def test_the_insurance_result_of_a_restricted_person_carries_no_address(world):
    r = world.recipient()
    c = world.card(r)
    world.insurance(card=c, address="東京都○○市1-2-3", post_number="100-0001")
    restrict(world, r)
    out = card_check(world, c)
    ins = next(x for x in out["ResultList"] if x["InsuredCardClassification"] != "A1")
    assert "Address" not in ins and "PostNumber" not in ins


def test_only_the_recipients_own_office_restricts(world):
    r = world.recipient()
    with pytest.raises(Forbidden):
        service.set_restriction(
            world.db, world.principal("office2"), payer=r["payer_number"], rn=r["recipient_number"], restricted=True
        )
    with pytest.raises(Forbidden):
        service.set_restriction(
            world.db, world.principal("clinic"), payer=r["payer_number"], rn=r["recipient_number"], restricted=True
        )
    with pytest.raises(NotFound):
        service.set_restriction(
            world.db, world.principal("office"), payer=r["payer_number"], rn=NOBODY, restricted=True
        )
    with pytest.raises(ValidationFailed):
        service.set_restriction(world.db, world.principal("office"), payer="1", rn="2", restricted=True)
    assert restrict(world, r)["restricted"] is True
    assert service.restriction_of(
        world.db, world.principal("office"), payer=r["payer_number"], rn=r["recipient_number"]
    )


def test_the_portal_still_shows_everything_to_the_recipient(world):
    from fujo.registry.service import records_of_person

    r = world.recipient()
    c = world.card(r)
    restrict(world, r)
    recs, _ = records_of_person(world.db, c["person_id"], TODAY.strftime("%Y%m"))
    assert recs[0].address == "東京都○○市1-2-3" and recs[0].name == "生保一郎"


# --- disaster mode -------------------------------------------------------------------------------


def _open(world, **kw):
    args = {
        "reason": "令和X年○○地震（災害救助法適用）",
        "starts": (TODAY - dt.timedelta(days=1)).isoformat(),
        "ends": (TODAY + dt.timedelta(days=7)).isoformat(),
        "prefectures": ["13"],
    } | kw
    return service.open_disaster(world.db, world.principal("admin"), **args)


def _search(world, key="clinic", role="clinician", **kw):
    args = {"name": "生保一郎", "birthdate": "1990-01-15", "sex": "1"} | kw
    return service.disaster_medication(world.db, as_role(world.principal(key), role), **args)


@pytest.fixture
def victim(world):
    r = world.recipient()
    add(world, "medication", medication(r, TODAY - dt.timedelta(days=3)))
    return r


def test_inside_an_open_area_a_clinician_finds_the_person_without_a_card_and_it_is_flagged(world, victim):
    _open(world)
    out = _search(world, name="生保 一郎")  # spaces do not matter
    assert out["disaster"] and len(out["records"]) == 1 and out["patient"]["birthdate"] == "1990-01-15"
    row = audit_rows(world.db)[-1]
    assert row.flags == "disaster" and row.outcome == "1" and row.category == "medication" and row.recipient_id


def test_outside_the_area_or_the_period_it_is_refused(world, victim):
    _open(world, prefectures=["17"])
    with pytest.raises(DisasterRefused):
        _search(world)
    assert audit_rows(world.db)[-1].reason == "outside_disaster"
    _open(world, starts=(TODAY + dt.timedelta(days=2)).isoformat())  # not yet
    with pytest.raises(DisasterRefused):
        _search(world)
    _open(world, starts=(TODAY - dt.timedelta(days=9)).isoformat(), ends=(TODAY - dt.timedelta(days=2)).isoformat())
    with pytest.raises(DisasterRefused):
        _search(world)


def test_a_municipality_matches_the_start_of_the_facilitys_registered_address(world, victim):
    facilities.update_facility(world.db, world.principal("admin"), CLINIC, {"address": "東京都○○市中央1-1"})
    _open(world, prefectures=[], municipalities=["東京都○○市"])
    assert _search(world)["records"]
    with pytest.raises(DisasterRefused):  # ▲▲クリニック has no address there
        _search(world, key="other")
    assert OTHER


def test_closing_takes_effect_at_once(world, victim):
    opening = _open(world)
    assert _search(world)["records"]
    closed = service.close_disaster(world.db, world.principal("admin"), opening["id"])
    assert closed["closed_at"] and not closed["in_force"]
    with pytest.raises(DisasterRefused):
        _search(world)
    with pytest.raises(Conflict):
        service.close_disaster(world.db, world.principal("admin"), opening["id"])
    with pytest.raises(NotFound):
        service.close_disaster(world.db, world.principal("admin"), 10**9)
    assert service.list_disasters(world.db, world.principal("admin"))[0]["id"] == opening["id"]


def test_a_restricted_recipient_is_never_shown_even_in_the_disaster_mode(world, victim):
    _open(world)
    restrict(world, victim)
    with pytest.raises(MedinfoRefused) as e:
        _search(world)
    assert e.value.reason == "unavailable"
    row = audit_rows(world.db)[-1]
    assert row.reason == "restricted" and row.flags == "disaster"


def test_reception_cannot_use_it_and_other_kinds_are_forbidden(world, victim):
    _open(world)
    with pytest.raises(MedinfoRefused) as e:
        _search(world, role="reception")
    assert e.value.reason == "role"
    with pytest.raises(Forbidden):
        service.disaster_medication(
            world.db, world.principal("office"), name="生保一郎", birthdate="1990-01-15", sex="1"
        )
    with pytest.raises(Forbidden):
        service.open_disaster(
            world.db,
            world.principal("clinic"),
            reason="x",
            starts=TODAY.isoformat(),
            ends=TODAY.isoformat(),
            prefectures=["13"],
        )


def test_no_match_and_several_matches(world, victim):
    _open(world)
    with pytest.raises(NotFound):
        _search(world, name="別人太郎")
    world.recipient(address="東京都△△区9-9")  # the same name, birth date and sex
    with pytest.raises(Conflict):
        _search(world)
    assert audit_rows(world.db)[-1].reason == "multiple"
    assert len(_search(world, address="東京都○○市")["records"]) == 1


def test_opening_is_validated(world):
    with pytest.raises(ValidationFailed) as e:
        service.open_disaster(
            world.db, world.principal("admin"), reason="", starts="x", ends=TODAY.isoformat(), prefectures=["99"]
        )
    assert {p.field for p in e.value.problems} >= {"reason", "starts_at", "prefectures"}
    with pytest.raises(ValidationFailed):
        _open(world, prefectures=[], municipalities=[])
    with pytest.raises(ValidationFailed):
        _open(world, starts=TODAY.isoformat(), ends=(TODAY - dt.timedelta(days=1)).isoformat())
    timed = _open(world, starts="2026-01-01T16:10", ends="2026-01-02T00:00+09:00")
    assert timed["starts_at"].startswith("2026-01-01T16:10") and not timed["in_force"]
    assert clinician(world).role == "clinician"
