"""「医療扶助」 starts as 利用しない; only the facility's 管理者 switches it, recorded with who and when; a
card check with the setting off that finds medical assistance says so, without any of its data."""

from __future__ import annotations

from fujo.core.numbers import with_check_digit
from fujo.eligibility.service import ASSISTANCE_HIDDEN
from fujo.orgs.service import create_organisation, principal_for
from tests.helpers import card_proof, snapshot


def test_a_new_facility_starts_with_medical_assistance_off(world, db):
    code = with_check_digit("131777777")
    create_organisation(db, kind="facility", code=code, name="◎◎診療所")
    assert principal_for(db, kind="facility", code=code).medical_assistance_enabled is False


def test_only_a_manager_switches_it_and_the_change_is_recorded(client, world, db):
    url = "/api/v1/facility/settings"
    heads = {role: world.role_auth("clinic", role) for role in ("reception", "clinician", "manager")}
    before = snapshot(db)
    for role in ("reception", "clinician"):
        res = client.put(url, headers=heads[role], json={"medical_assistance_enabled": False})
        assert res.status_code == 403, role
        assert res.json()["error"]["code"] == "forbidden" and "管理者" in res.json()["error"]["message_ja"]
        assert client.get(url, headers=heads[role]).json()["can_change"] is False
    assert snapshot(db) == before
    res = client.put(url, headers=heads["manager"], json={"medical_assistance_enabled": False})
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["medical_assistance_enabled"] is False and body["can_change"] is True
    last = body["changes"][0]
    assert last["medical_assistance_enabled"] is False and "管理者" in last["changed_by"] and last["changed_at"]
    assert "test manager" in last["changed_by"]  # the token's label names who
    # the factory switched it on first (recorded as well)
    assert [c["medical_assistance_enabled"] for c in body["changes"]] == [False, True]


def test_card_check_with_the_setting_off_says_there_is_medical_assistance_and_nothing_more(client, world, db):
    r = world.recipient()
    world.ticket(r)
    card = world.card(r)
    client.put("/api/v1/facility/settings", headers=world.auth("clinic"), json={"medical_assistance_enabled": False})
    proof = card_proof(db, world.principal("clinic"), card)
    body = client.post(
        "/api/v1/checks/card", headers=world.auth("clinic"), json={**proof, "confirmation_date": "2024-07-10"}
    ).json()
    assert body["MedicalAssistanceNotice"] == ASSISTANCE_HIDDEN
    assert (body["ProcessingResultCode"], body["ProcessingResultMessage"]) == ("FJ0101", ASSISTANCE_HIDDEN)
    assert ASSISTANCE_HIDDEN == "医療扶助の資格があります。環境設定で「医療扶助」を「利用する」にすると表示されます。"
    assert body["ResultList"] == []
    text = str(body)
    for leak in (r["recipient_number"], r["payer_number"], "生保一郎", "○○市福祉事務所"):
        assert leak not in text, leak
    # a person without medical assistance gets no such notice
    other = world.recipient(disqualification_date="2024-07-01", disqualification_kind="2")
    card2 = world.card(other)
    proof = card_proof(db, world.principal("clinic"), card2)
    body = client.post(
        "/api/v1/checks/card", headers=world.auth("clinic"), json={**proof, "confirmation_date": "2024-07-10"}
    ).json()
    assert "MedicalAssistanceNotice" not in body
