"""Welfare-office API: recipients, tickets with history, scope, idempotency, bad input changes nothing."""

from __future__ import annotations

import pytest

from fujo.core.dates import today_jst
from tests.factories import CLINIC, OTHER, PAYER, PAYER2, World
from tests.helpers import snapshot


def post_recipient(client, world, data, who="office", key=None):
    h = world.auth(who) | ({"Idempotency-Key": key} if key else {})
    return client.post("/api/v1/recipients", headers=h, json=data)


def test_register_read_and_update_a_recipient_keeps_history(client, world):
    data = World.recipient_data()
    res = post_recipient(client, world, data)
    assert res.status_code == 201, res.text
    assert res.json()["name_kana"] == "ｾｲﾎ ｲﾁﾛｳ"
    url = f"/api/v1/recipients/{PAYER}/{data['recipient_number']}"
    res = client.patch(
        url,
        headers=world.auth("office"),
        json={
            "disqualification_date": "2024-08-01",
            "disqualification_kind": "2",
            "disqualification_reason": "転居",
            "expected_version": 1,
        },
    )
    assert res.status_code == 200, res.text
    assert res.json()["version"] == 2
    got = client.get(url, headers=world.auth("office")).json()
    assert got["disqualification_date"] == "2024-08-01"
    assert [h["version"] for h in got["history"]] == [1]
    assert got["history"][0]["disqualification_date"] is None
    stale = client.patch(url, headers=world.auth("office"), json={"address": "x", "expected_version": 1})
    assert stale.status_code == 409


def test_full_width_kana_is_stored_half_width(client, world):
    res = post_recipient(client, world, World.recipient_data(name_kana="セイホ　イチロウ"))
    assert res.json()["name_kana"] == "ｾｲﾎ ｲﾁﾛｳ"


def test_same_idempotency_key_does_not_duplicate(client, world, db):
    data = World.recipient_data()
    first = post_recipient(client, world, data, key="abc-1")
    again = post_recipient(client, world, data, key="abc-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert len(snapshot(db)["recipients"]) == 1
    other = post_recipient(client, world, World.recipient_data(), key="abc-1")
    assert other.status_code == 422
    assert other.json()["error"]["fields"][0]["field"] == "Idempotency-Key"


def test_ticket_idempotency(client, world, db):
    r = world.recipient()
    body = World.ticket_data(r)
    h = world.auth("office") | {"Idempotency-Key": "t-1"}
    a = client.post("/api/v1/tickets", headers=h, json=body)
    b = client.post("/api/v1/tickets", headers=h, json=body)
    assert a.status_code == b.status_code == 201 and a.json()["ticket_key"] == b.json()["ticket_key"]
    assert len(snapshot(db)["tickets"]) == 1


def test_office_writes_only_under_its_own_payer_number(client, world, db):
    before = snapshot(db)
    res = post_recipient(client, world, World.recipient_data(payer_number=PAYER2), who="office")
    assert res.status_code == 403
    assert PAYER2 in res.json()["error"]["message_ja"]
    r = world.recipient()
    res = client.post("/api/v1/tickets", headers=world.auth("office2"), json=World.ticket_data(r))
    assert res.status_code == 403
    res = client.get(f"/api/v1/recipients/{PAYER}/{r['recipient_number']}", headers=world.auth("office2"))
    assert res.status_code == 403
    assert len(snapshot(db)["tickets"]) == len(before["tickets"])


def test_facility_cannot_register(client, world):
    res = post_recipient(client, world, World.recipient_data(), who="clinic")
    assert res.status_code == 403


def test_amend_and_cancel_keep_every_revision(client, world):
    r = world.recipient()
    t = client.post("/api/v1/tickets", headers=world.auth("office"), json=World.ticket_data(r)).json()
    key = t["ticket_key"]
    body = World.ticket_data(r, injury_name1="気管支炎")
    del body["payer_number"], body["recipient_number"]
    res = client.put(
        f"/api/v1/tickets/{key}",
        headers=world.auth("office"),
        json={**body, "reason": "傷病名の訂正", "expected_revision": 1},
    )
    assert res.status_code == 200, res.text
    assert res.json()["revision"] == 2 and res.json()["injury_name1"] == "気管支炎"
    res = client.post(f"/api/v1/tickets/{key}/cancel", headers=world.auth("office"), json={"reason": "受診なし"})
    assert res.status_code == 200 and res.json()["status"] == "cancelled"
    hist = client.get(f"/api/v1/tickets/{key}", headers=world.auth("office")).json()["history"]
    assert [(h["revision"], h["status"], h["injury_name1"]) for h in hist] == [
        (1, "active", "高血圧症"),
        (2, "active", "気管支炎"),
        (3, "cancelled", "気管支炎"),
    ]
    again = client.post(f"/api/v1/tickets/{key}/cancel", headers=world.auth("office"), json={"reason": "x"})
    assert again.status_code == 409
    stale = client.put(f"/api/v1/tickets/{key}", headers=world.auth("office"), json={**body, "expected_revision": 1})
    assert stale.status_code == 409


def test_cancelled_ticket_no_longer_designates(client, world):
    r = world.recipient()
    t = world.ticket(r)
    client.post(f"/api/v1/tickets/{t['ticket_key']}/cancel", headers=world.auth("office"), json={"reason": "誤登録"})
    res = client.post(
        "/api/v1/checks/numbers",
        headers=world.auth("clinic"),
        json={
            "insurer_number": PAYER,
            "identification_number": r["recipient_number"],
            "birthdate": r["birthdate"],
            "confirmation_date": "2024-07-10",
        },
    )
    assert res.json()["QualificationValidity"] == "6"


BAD_TICKETS = [
    ({"ticket_type": "03"}, "ticket_type", "code"),
    ({"treatment_month": "2024-13"}, "treatment_month", "invalid_month"),
    ({"valid_from": "2024-07-32"}, "valid_from", "invalid_date"),
    ({"valid_to": "2024-06-30"}, "valid_to", "before_start"),
    ({"valid_to": "2024-08-01"}, "valid_to", "outside_month"),
    ({"designated_facility_code": "1311234568"}, "designated_facility_code", "check_digit"),
    ({"designated_facility_code": "1321234566"}, "designated_facility_code", "score_table"),
    ({"ticket_type": "02", "treatment_type": "04"}, "designated_facility_code", "not_pharmacy"),
    ({"treatment_type": "04"}, "treatment_type", "type_mismatch"),
    ({"self_pay_amount": "-5"}, "self_pay_amount", "amount"),
    ({"single_or_combined": None}, "single_or_combined", "required"),
    ({"payer_number": "12130018"}, "payer_number", "check_digit"),
    ({"recipient_number": "101000"}, "recipient_number", "length"),
    ({"surprise": "1"}, "surprise", "unknown_field"),
    ({"injury_name1": "x" * 81}, "injury_name1", "too_long"),
]


@pytest.mark.parametrize("change,field,code", BAD_TICKETS)
def test_bad_ticket_is_refused_with_the_field_and_changes_nothing(client, world, db, change, field, code):
    r = world.recipient()
    before = snapshot(db)
    body = World.ticket_data(r)
    body.update(change)
    body = {k: v for k, v in body.items() if v is not None}
    res = client.post("/api/v1/tickets", headers=world.auth("office"), json=body)
    assert res.status_code == 422, res.text
    problems = [(f["field"], f["code"]) for f in res.json()["error"]["fields"]]
    assert (field, code) in problems
    assert snapshot(db) == before


BAD_RECIPIENTS = [
    ({"payer_number": "13130011"}, "payer_number", "law_code"),
    ({"payer_number": "12000001"}, "payer_number", "prefecture"),
    ({"recipient_number": "1010001"}, "recipient_number", "check_digit"),
    ({"sex": "4"}, "sex", "code"),
    ({"birthdate": "1990-02-29"}, "birthdate", "invalid_date"),
    ({"name_kana": "生保"}, "name_kana", "kana"),
    ({"post_number": "12-34"}, "post_number", "post_number"),
    ({"disqualification_date": "2019-01-01", "disqualification_kind": "2"}, "disqualification_date", "before_start"),
    ({"disqualification_date": "2024-01-01"}, "disqualification_kind", "required"),
    ({"disqualification_kind": "1"}, "disqualification_date", "required"),
    ({"disqualification_date": "2024-01-01", "disqualification_kind": "01"}, "disqualification_kind", "code"),
    ({"name": "生保\x00一郎"}, "name", "control_char"),
]


@pytest.mark.parametrize("change,field,code", BAD_RECIPIENTS)
def test_bad_recipient_is_refused_with_the_field_and_changes_nothing(client, world, db, change, field, code):
    before = snapshot(db)
    res = post_recipient(client, world, World.recipient_data(**change))
    assert res.status_code == 422, res.text
    assert (field, code) in [(f["field"], f["code"]) for f in res.json()["error"]["fields"]]
    assert snapshot(db) == before


def test_malformed_json_and_wrong_types_are_422_in_the_same_shape(client, world, db):
    before = snapshot(db)
    res = client.post(
        "/api/v1/recipients", headers=world.auth("office") | {"Content-Type": "application/json"}, content=b"{not json"
    )
    assert res.status_code == 422
    assert res.json()["error"]["code"] == "validation_error"
    res = post_recipient(client, world, {**World.recipient_data(), "name": 12})
    assert res.status_code == 422 and res.json()["error"]["fields"][0]["field"] == "name"
    assert snapshot(db) == before


def test_duplicate_recipient_is_a_conflict(client, world):
    data = World.recipient_data()
    assert post_recipient(client, world, data).status_code == 201
    assert post_recipient(client, world, data).status_code == 409


def test_card_link_and_search(client, world, db):
    r = world.recipient(name="検索太郎", name_kana="ｹﾝｻｸ ﾀﾛｳ")
    card = world.card(r, link=False)
    res = client.post(
        f"/api/v1/recipients/{PAYER}/{r['recipient_number']}/card-link",
        headers=world.auth("office"),
        json={"individual_number": card["individual_number"]},
    )
    assert res.status_code == 200, res.text
    found = client.get("/api/v1/recipients", headers=world.auth("office"), params={"q": "ケンサク"}).json()
    assert [x["recipient_number"] for x in found] == [r["recipient_number"]]
    assert found[0]["card_linked"] is True
    assert client.get("/api/v1/recipients", headers=world.auth("office2"), params={"q": "検索"}).json() == []


def test_insurer_registers_only_its_own_number(client, world):
    from tests.factories import INSURER_NO

    body = {
        "insurer_number": INSURER_NO,
        "insurer_name": "x",
        "insured_card_classification": "01",
        "card_number": "1",
        "name": "a",
        "name_kana": "ｱ",
        "sex": "1",
        "birthdate": "1990-01-01",
        "qualification_date": "2020-01-01",
    }
    assert client.post("/api/v1/insurance-qualifications", headers=world.auth("insurer"), json=body).status_code == 201
    body["insurer_number"] = "06139984"
    res = client.post("/api/v1/insurance-qualifications", headers=world.auth("insurer"), json=body)
    assert res.status_code in (403, 422)


def test_late_tickets_view_lists_tickets_registered_after_the_visit(client, world):

    today = today_jst()
    r = world.recipient()
    client.post(
        "/api/v1/checks/numbers",
        headers=world.auth("clinic"),
        json={"insurer_number": PAYER, "identification_number": r["recipient_number"], "birthdate": r["birthdate"]},
    )
    world.ticket(r, on=today)
    on_time = world.recipient()
    world.ticket(on_time, on=today, facility=OTHER)
    res = client.get("/api/v1/tickets/late", headers=world.auth("office"), params={"month": today.strftime("%Y-%m")})
    assert res.status_code == 200
    assert [x["recipient_number"] for x in res.json()] == [r["recipient_number"]]
    assert res.json()[0]["designated_facility_code"] == CLINIC
