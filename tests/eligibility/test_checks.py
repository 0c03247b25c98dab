"""Checks by numbers and by card through the HTTP API, on SQLite and PostgreSQL: the seed's two
screens, 未委託 masking, invalid and lost qualifications, 併用, the facility setting."""

from __future__ import annotations

import datetime as dt

from fujo.core import screen
from tests.core import seed_screens
from tests.factories import INSURER_NO, JULY, PAYER, PHARMACY
from tests.helpers import card_proof, snapshot

SEED_NORMAL = [
    ("照会番号", "-"),
    ("公費負担者番号", PAYER),
    ("福祉事務所名", "○○市福祉事務所"),
    ("受給者番号", None),
    ("氏名", "生保一郎"),
    ("性別", "男"),
    ("生年月日", "平成2年1月15日"),
    ("医療券/調剤券別", "医療券"),
    ("診療年月", "令和6年7月"),
    ("指定医療機関名", "●●医療機関"),
    ("単独/併用別", "単独"),
    ("有効開始年月日", "令和6年7月1日"),
    ("有効終了年月日", "令和6年7月31日"),
    ("傷病名1", "高血圧症"),
    ("傷病名2", "2型糖尿病"),
    ("傷病名3", "腰痛症"),
]
WITHHELD = seed_screens.withheld()  # what the seed's 未委託 screen shows as "-"


def numbers_check(client, world, who, r, **kw):
    body = {
        "insurer_number": r["payer_number"],
        "identification_number": r["recipient_number"],
        "birthdate": r["birthdate"],
        "confirmation_date": "2024-07-10",
    }
    body.update(kw)
    return client.post("/api/v1/checks/numbers", headers=world.auth(who), json=body)


def test_designated_facility_sees_the_seed_normal_screen(client, world):
    r = world.recipient()
    world.ticket(r)
    res = numbers_check(client, world, "clinic", r)
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["QualificationValidity"] == "1"
    assert body["ReferenceClassification"] == "2"
    assert body["QualificationConfirmationDate"] == "20240710"
    head, items = screen.assistance_screen(body["ResultList"][0])
    assert head == "○：この資格は有効です。"
    expected = [(k, r["recipient_number"] if v is None else v) for k, v in SEED_NORMAL]
    assert items == expected
    assert "Contact" not in body


def test_undesignated_facility_sees_the_seed_mitaku_screen(client, world):
    r = world.recipient()
    world.ticket(r)  # designates CLINIC
    body = numbers_check(client, world, "other", r).json()
    assert body["QualificationValidity"] == "6"
    a1 = body["ResultList"][0]
    for withheld in ("InsurerNumber", "InsuredIdentificationNumber", "PublicExpenseResultList"):
        assert withheld not in a1
    head, items = screen.assistance_screen(a1)
    assert head == "○：この資格は有効です。（医療券/調剤券情報が未登録です。）"
    shown = dict(items)
    assert all(shown[k] == "-" for k in WITHHELD)
    assert (shown["氏名"], shown["性別"], shown["生年月日"], shown["福祉事務所名"]) == (
        "生保一郎",
        "男",
        "平成2年1月15日",
        "○○市福祉事務所",
    )
    assert body["Reason"] == "unregistered"  # not "designated elsewhere": that would reveal treatment elsewhere
    for not_on_the_seed_screen in ("Address", "PostNumber", "QualificationDate"):
        assert not_on_the_seed_screen not in a1
    assert body["Contact"] == {"OfficeName": "○○市福祉事務所", "Phone": "03-0000-0000"}
    assert "電話" in screen.render_text(body)


def test_no_ticket_registered_yet_is_validity_6_not_registered(client, world):
    r = world.recipient()
    body = numbers_check(client, world, "clinic", r).json()
    assert body["QualificationValidity"] == "6"
    assert body["Reason"] == "unregistered"
    assert "InsuredIdentificationNumber" not in body["ResultList"][0]


def test_ticket_of_another_month_does_not_count(client, world):
    r = world.recipient()
    world.ticket(r, on=dt.date(2024, 6, 5))
    body = numbers_check(client, world, "clinic", r).json()
    assert body["QualificationValidity"] == "6"
    assert body["Reason"] == "unregistered"


def test_pharmacy_sees_its_dispensing_ticket(client, world):
    r = world.recipient()
    world.ticket(r)
    world.ticket(r, facility=PHARMACY)
    body = numbers_check(client, world, "pharmacy", r).json()
    assert body["QualificationValidity"] == "1"
    tickets = body["ResultList"][0]["PublicExpenseResultList"]["MedicalTicketInfo"]
    assert [
        (t["TicketType"], t["DesignatedMedicalInstitutionCode"], t["DesignatedMedicalInstitutionFlag"]) for t in tickets
    ] == [("02", PHARMACY, "0")]


def test_lost_qualification_is_invalid_and_names_the_office(client, world):
    r = world.recipient(disqualification_date="2024-07-05", disqualification_kind="2", disqualification_reason="死亡")
    world.ticket(r, valid_to="2024-07-04")  # a ticket ends before the 廃止日 (the registry refuses anything else)
    body = numbers_check(client, world, "clinic", r).json()
    assert body["QualificationValidity"] == "2"
    a1 = body["ResultList"][0]
    assert a1["DisqualificationDate"] == "20240705" and a1["DisqualificationKind"] == "2"
    assert "ReasonOfLoss" not in a1 and "DisqualificationReason" not in a1  # the office's reason stays with it
    assert "InsuredIdentificationNumber" not in a1 and "Address" not in a1
    assert body["Contact"]["OfficeName"] == "○○市福祉事務所"
    assert screen.render_text(body).startswith("【医療扶助】\n×：この資格は無効です。")


def test_last_valid_day_is_the_day_before_disqualification(client, world):
    r = world.recipient(disqualification_date="2024-07-11", disqualification_kind="1")
    world.ticket(r, valid_to="2024-07-10")
    assert numbers_check(client, world, "clinic", r).json()["QualificationValidity"] == "1"
    assert (
        numbers_check(client, world, "clinic", r, confirmation_date="2024-07-11").json()["QualificationValidity"] == "2"
    )


def test_old_numbers_after_moving_office_are_invalid_with_newer_qualification(client, world):
    old = world.recipient(disqualification_date="2024-06-30", disqualification_kind="2")
    card = world.card(old)
    new = world.recipient(office="office2", payer_number=world.orgs["office2"]["payer_numbers"][0])
    res = client.post(
        f"/api/v1/recipients/{new['payer_number']}/{new['recipient_number']}/card-link",
        headers=world.auth("office2"),
        json={"individual_number": card["individual_number"]},
    )
    assert res.status_code == 200, res.text
    assert numbers_check(client, world, "clinic", old).json()["QualificationValidity"] == "3"


def test_unknown_numbers_are_no_qualification(client, world):
    body = client.post(
        "/api/v1/checks/numbers",
        headers=world.auth("clinic"),
        json={
            "insurer_number": PAYER,
            "identification_number": "1010008",
            "birthdate": "1990-01-15",
            "confirmation_date": "2024-07-10",
        },
    ).json()
    assert body["QualificationValidity"] == "4"
    assert body["ResultList"] == []


def test_wrong_birthdate_reveals_nothing(client, world):
    r = world.recipient()
    world.ticket(r)
    body = numbers_check(client, world, "clinic", r, birthdate="1990-01-16").json()
    assert body["QualificationValidity"] == "4"
    assert body["ResultList"] == []


def test_card_check_of_a_person_with_both_insurances_returns_both(client, world, db):
    r = world.recipient()
    world.ticket(r, on=JULY, single_or_combined="02", social_insurance="01")
    card = world.card(r)
    world.insurance(card)
    proof = card_proof(db, world.principal("clinic"), card, {"PharmacistsInfo": True})
    body = client.post(
        "/api/v1/checks/card", headers=world.auth("clinic"), json={**proof, "confirmation_date": "2024-07-10"}
    ).json()
    assert body["ReferenceClassification"] == "1"
    assert body["QualificationValidity"] == "1"
    classes = [x["InsuredCardClassification"] for x in body["ResultList"]]
    assert classes == ["01", "A1"]
    ins, a1 = body["ResultList"]
    assert ins["InsurerNumber"] == INSURER_NO and ins["InsuredCardSymbol"] == "12-34"
    assert a1["PublicExpenseResultList"]["MedicalTicketInfo"][0]["SingleOrCombinedUse"] == "02"
    for res in body["ResultList"]:
        assert res["PharmacistsInfoConsFlg"] == "1" and res["DiagnosisInfoConsFlg"] == "0"
        t0 = dt.datetime.strptime(res["PharmacistsInfoConsTime"], "%Y%m%d%H%M%S")
        t1 = dt.datetime.strptime(res["PharmacistsInfoAvailableTime"], "%Y%m%d%H%M%S")
        assert t1 - t0 == dt.timedelta(hours=24)


def test_card_check_at_undesignated_facility_is_masked(client, world, db):
    r = world.recipient()
    world.ticket(r)
    card = world.card(r)
    proof = card_proof(db, world.principal("other"), card)
    body = client.post(
        "/api/v1/checks/card", headers=world.auth("other"), json={**proof, "confirmation_date": "2024-07-10"}
    ).json()
    assert body["QualificationValidity"] == "6"
    assert "InsuredIdentificationNumber" not in body["ResultList"][0]


def test_facility_setting_off_returns_no_medical_assistance_data(client, world, db):
    r = world.recipient()
    world.ticket(r)
    card = world.card(r)
    world.insurance(card)
    res = client.put(
        "/api/v1/facility/settings", headers=world.auth("clinic"), json={"medical_assistance_enabled": False}
    )
    assert res.status_code == 200 and res.json()["medical_assistance_enabled"] is False
    res = numbers_check(client, world, "clinic", r)
    assert res.status_code == 403
    assert res.json()["error"]["code"] == "medical_assistance_disabled"
    proof = card_proof(db, world.principal("clinic"), card)
    body = client.post(
        "/api/v1/checks/card", headers=world.auth("clinic"), json={**proof, "confirmation_date": "2024-07-10"}
    ).json()
    assert [x["InsuredCardClassification"] for x in body["ResultList"]] == ["01"]
    res = client.get("/api/v1/facility/tickets", headers=world.auth("clinic"), params={"month": "2024-07"})
    assert res.status_code == 403
    client.put("/api/v1/facility/settings", headers=world.auth("clinic"), json={"medical_assistance_enabled": True})
    assert numbers_check(client, world, "clinic", r).json()["QualificationValidity"] == "1"


def test_insurance_number_check(client, world):
    world.insurance()
    body = client.post(
        "/api/v1/checks/numbers",
        headers=world.auth("clinic"),
        json={
            "insurer_number": INSURER_NO,
            "identification_number": "5678",
            "card_symbol": "12-34",
            "birthdate": "1990-01-15",
            "confirmation_date": "2024-07-10",
        },
    ).json()
    assert body["QualificationValidity"] == "1"
    assert body["ResultList"][0]["InsuredCardClassification"] == "01"


def test_every_check_is_recorded(client, world, db):
    r = world.recipient()
    world.ticket(r)
    numbers_check(client, world, "clinic", r)
    numbers_check(client, world, "other", r)
    log = snapshot(db)["check_log"]
    assert len(log) == 2
    from fujo.audit.service import access_log

    entries = access_log(db, None, [r["id"]])
    assert [(e["organisation_name"], e["method"], e["outcome"]) for e in entries if e["method"] != "registry"] == [
        ("▲▲クリニック", "numbers", "6"),
        ("●●医療機関", "numbers", "1"),
    ]


def test_bad_numbers_are_refused_with_the_field_named_and_nothing_recorded(client, world, db):
    r = world.recipient()
    before = snapshot(db)
    cases = [
        ({"insurer_number": "12000001"}, "payer_number", "prefecture"),
        ({"insurer_number": "12130018"}, "payer_number", "check_digit"),
        ({"identification_number": "1010001"}, "recipient_number", "check_digit"),
        ({"identification_number": "101000"}, "recipient_number", "length"),
        ({"identification_number": "１０１０００８"}, "recipient_number", "not_digits"),
        ({"birthdate": "1990-02-30"}, "birthdate", "invalid_date"),
        ({"confirmation_date": "2024/07/10"}, "confirmation_date", "date_format"),
        ({"birthdate": None}, "birthdate", "required"),
    ]
    for change, field, code in cases:
        res = client.post(
            "/api/v1/checks/numbers",
            headers=world.auth("clinic"),
            json={
                k: v
                for k, v in {
                    "insurer_number": r["payer_number"],
                    "identification_number": r["recipient_number"],
                    "birthdate": r["birthdate"],
                    "confirmation_date": "2024-07-10",
                    **change,
                }.items()
                if v is not None
            },
        )
        assert res.status_code == 422, (change, res.text)
        fields = res.json()["error"]["fields"]
        assert {"field": field, "code": code} in [{"field": f["field"], "code": f["code"]} for f in fields], change
        assert all(f["message_ja"] and f["message_en"] for f in fields)
    assert snapshot(db) == before


def test_only_facilities_may_check(client, world):
    r = world.recipient()
    res = numbers_check(client, world, "office", r)
    assert res.status_code == 403
    assert res.json()["error"]["code"] == "forbidden"


def test_card_check_after_moving_office_answers_with_the_new_qualification(client, world, db):
    old = world.recipient(disqualification_date="2024-07-01", disqualification_kind="2")
    card = world.card(old)
    payer2 = world.orgs["office2"]["payer_numbers"][0]
    new = world.recipient(office="office2", payer_number=payer2, qualification_date="2024-07-01")
    client.post(
        f"/api/v1/recipients/{payer2}/{new['recipient_number']}/card-link",
        headers=world.auth("office2"),
        json={"individual_number": card["individual_number"]},
    )
    world.ticket(new, office="office2")
    proof = card_proof(db, world.principal("clinic"), card)
    body = client.post(
        "/api/v1/checks/card", headers=world.auth("clinic"), json={**proof, "confirmation_date": "2024-07-10"}
    ).json()
    a1 = body["ResultList"][-1]
    assert (a1["QualificationValidity"], a1["InsurerNumber"], a1["InsurerName"]) == ("1", payer2, "□□市福祉事務所")


def test_several_insured_people_behind_one_number_answer_multiple_without_data(client, world):
    world.insurance(branch_number="01", name="家族一", birthdate="1990-01-15")
    world.insurance(branch_number="02", name="家族二", birthdate="1990-01-15")
    body = client.post(
        "/api/v1/checks/numbers",
        headers=world.auth("clinic"),
        json={"insurer_number": INSURER_NO, "identification_number": "5678", "birthdate": "1990-01-15"},
    ).json()
    assert body["QualificationValidity"] == "5" and body["ResultList"] == []
    body = client.post(
        "/api/v1/checks/numbers",
        headers=world.auth("clinic"),
        json={
            "insurer_number": INSURER_NO,
            "identification_number": "5678",
            "branch_number": "02",
            "birthdate": "1990-01-15",
        },
    ).json()
    assert [x["Name"] for x in body["ResultList"]] == ["家族二"]


def test_combined_card_check_at_undesignated_facility_still_says_to_call_the_office(client, world, db):
    r = world.recipient()
    world.ticket(r)
    card = world.card(r)
    world.insurance(card)
    proof = card_proof(db, world.principal("other"), card)
    body = client.post(
        "/api/v1/checks/card", headers=world.auth("other"), json={**proof, "confirmation_date": "2024-07-10"}
    ).json()
    assert body["QualificationValidity"] == "1"  # the health insurance is valid …
    assert body["ResultList"][-1]["QualificationValidity"] == "6"  # … the medical assistance is 未委託
    assert "○○市福祉事務所（電話 03-0000-0000）に医療扶助の利用可否を電話等で確認してください。" in screen.render_text(
        body
    )
