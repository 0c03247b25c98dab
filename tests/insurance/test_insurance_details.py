"""Health-insurance results as complete as the real ones (issue 7), through the HTTP API and the
CSV import, on SQLite and PostgreSQL: registration of card dates, 一部負担金割合 and the
certificates; the 限度額適用認定証/特定疾病療養受療証 blocks only with consent — from the request
of a check by numbers, from the 5th/6th consent bit of a card proof (4-bit proofs still verify)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from fujo.cards.reader import consent_bits, consent_from_bits
from fujo.core.numbers import with_check_digit
from fujo.db import schema as s
from fujo.orgs.service import create_organisation, issue_credential
from fujo.registry.csv_import import ImportFailed, import_csv
from tests.factories import INSURER_NO
from tests.helpers import card_proof, snapshot

LIMIT_INFO = {
    "LimitApplicationCertificateClassification": "01",
    "LimitApplicationCertificateClassificationFlag": "A03",
    "LimitApplicationCertificateDate": "20240720",
    "LimitApplicationCertificateValidStartDate": "20240801",
    "LimitApplicationCertificateValidEndDate": "20250731",
}
DISEASE_INFO = {
    "SpecificDiseasesDiseaseCategory": "1",
    "SpecificDiseasesCertificateDate": "20230320",
    "SpecificDiseasesValidStartDate": "20230401",
    "SpecificDiseasesSelfPay": "10000",
}
DETAILS = {  # the person of tests.factories (生保一郎, born 1990-01-15) with everything a clinic imports
    "insured_name": "生保太郎",
    "personal_family": "2",
    "name_of_other": "生保　壱郎",
    "name_of_other_kana": "ｾｲﾎ ｲﾁﾛｳ",
    "card_issuance_date": "2024-07-15",
    "card_valid_from": "2024-08-01",
    "card_valid_to": "2026-03-31",
    "contribution_ratio": "030",
    "limit_classification": "01",
    "limit_bracket": "A03",
    "limit_certificate_date": "2024-07-20",
    "limit_valid_from": "2024-08-01",
    "limit_valid_to": "2025-07-31",
    "specific_disease_category": "1",
    "specific_disease_certificate_date": "2023-03-20",
    "specific_disease_valid_from": "2023-04-01",
    "specific_disease_self_pay": "10000",
}
ON = "2024-08-10"


def _body(**kw) -> dict:
    d = {
        "insurer_number": INSURER_NO,
        "insurer_name": "○○健康保険組合",
        "insured_card_classification": "01",
        "card_symbol": "12-34",
        "card_number": "5678",
        "branch_number": "01",
        "name": "生保一郎",
        "name_kana": "ｾｲﾎ ｲﾁﾛｳ",
        "sex": "1",
        "birthdate": "1990-01-15",
        "qualification_date": "2019-04-01",
        **DETAILS,
    }
    d.update(kw)
    return d


def _last_consent(db):
    with db.read() as conn:
        return conn.execute(select(s.check_log.c.consent).order_by(s.check_log.c.id.desc()).limit(1)).scalar_one()


def _numbers(client, world, **kw):
    body = {
        "insurer_number": INSURER_NO,
        "identification_number": "5678",
        "card_symbol": "12-34",
        "birthdate": "1990-01-15",
        "confirmation_date": ON,
        **kw,
    }
    res = client.post("/api/v1/checks/numbers", headers=world.auth("clinic"), json=body)
    assert res.status_code == 200, res.text
    return res.json()


def test_registration_accepts_and_returns_every_detail(client, world):
    res = client.post("/api/v1/insurance-qualifications", headers=world.auth("insurer"), json=_body())
    assert res.status_code == 201, res.text
    got = client.get(f"/api/v1/insurance-qualifications/{res.json()['id']}", headers=world.auth("insurer")).json()
    for k, v in DETAILS.items():
        assert str(got[k]) == v, k
    assert got["elderly_valid_from"] is None


@pytest.mark.parametrize(
    "change, field, code",
    [
        ({"contribution_ratio": "10"}, "contribution_ratio", "code"),
        ({"contribution_ratio": "3割"}, "contribution_ratio", "code"),
        ({"insured_card_classification": "08"}, "insured_card_classification", "code"),
        ({"card_valid_to": "2024-02-30"}, "card_valid_to", "invalid_date"),
        ({"card_valid_to": "2024-07-31"}, "card_valid_to", "before_start"),
        ({"limit_bracket": "B04"}, "limit_bracket", "age"),  # 70+ bracket for a 34-year-old
        ({"limit_classification": None}, "limit_classification", "required"),  # a block is given whole
        ({"elderly_valid_from": "2024-08-01", "elderly_contribution_ratio": "020"}, "elderly_valid_from", "age"),
        ({"insured_card_classification": "07"}, "insured_card_classification", "card_mismatch"),
        ({"specific_disease_self_pay": "1万円"}, "specific_disease_self_pay", "amount"),
        ({"preschool": "1"}, "preschool", "age"),
    ],
)
def test_bad_details_are_refused_by_field_and_nothing_is_written(client, world, db, change, field, code):
    before = snapshot(db)
    res = client.post("/api/v1/insurance-qualifications", headers=world.auth("insurer"), json=_body(**change))
    assert res.status_code == 422, res.text
    problems = {(p["field"], p["code"]) for p in res.json()["error"]["fields"]}
    assert (field, code) in problems, problems
    assert snapshot(db) == before


def test_late_elderly_insurer_needs_the_ratio(client, world, db):
    kouki = with_check_digit("3913001")
    org = create_organisation(db, kind="insurer", code=kouki, name="東京都後期高齢者医療広域連合")
    token = issue_credential(db, org["id"], label="t")["token"]
    body = {
        "insurer_number": kouki,
        "insurer_name": "東京都後期高齢者医療広域連合",
        "insured_card_classification": "01",
        "card_number": "00012345",
        "name": "長寿ウメ",
        "name_kana": "ﾁｮｳｼﾞｭ ｳﾒ",
        "sex": "2",
        "birthdate": "1942-03-03",
        "qualification_date": "2017-03-03",
    }
    res = client.post("/api/v1/insurance-qualifications", headers={"Authorization": f"Bearer {token}"}, json=body)
    assert res.status_code == 422
    assert [p["field"] for p in res.json()["error"]["fields"]] == ["contribution_ratio"]
    res = client.post(
        "/api/v1/insurance-qualifications",
        headers={"Authorization": f"Bearer {token}"},
        json={**body, "contribution_ratio": "010"},
    )
    assert res.status_code == 201
    out = _numbers(
        client, world, insurer_number=kouki, identification_number="00012345", birthdate="1942-03-03", card_symbol=None
    )
    [r] = out["ResultList"]
    assert (r["InsurerNumber"], r["InsuredPartialContributionRatio"]) == (kouki, "010")
    assert r["InsuredCardValidDate"] == "20170303"  # none registered: the 資格取得日


def test_numbers_check_without_consent_has_both_flags_zero_and_no_blocks(client, world, db):
    world.insurance(**DETAILS)
    out = _numbers(client, world)
    [r] = out["ResultList"]
    assert (r["LimitApplicationCertificateRelatedConsFlg"], r["SpecificDiseasesCertificateRelatedConsFlg"]) == (
        "0",
        "0",
    )
    for withheld in (
        "LimitApplicationCertificateRelatedInfo",
        "LimitApplicationCertificateRelatedConsTime",
        "SpecificDiseasesCertificateList",
    ):
        assert withheld not in r
    assert (r["InsuredCardValidDate"], r["InsuredCertificateIssuanceDate"], r["InsuredCardExpirationDate"]) == (
        "20240801",
        "20240715",
        "20260331",
    )
    assert (r["InsuredName"], r["NameOfOther"], r["InsuredPartialContributionRatio"]) == (
        "生保太郎",
        "生保　壱郎",
        "030",
    )
    assert _last_consent(db) is None


def test_numbers_check_with_the_limit_consent_gives_the_limit_block_but_never_the_diseases(client, world, db):
    world.insurance(**DETAILS)
    out = _numbers(client, world, limit_application_consent=True)
    [r] = out["ResultList"]
    assert r["LimitApplicationCertificateRelatedConsFlg"] == "1"
    assert len(r["LimitApplicationCertificateRelatedConsTime"]) == 14  # yyyyMMddHHmmss, JST
    assert r["LimitApplicationCertificateRelatedInfo"] == LIMIT_INFO
    # 特定疾病 (dialysis, HIV from blood products) needs the consent given at a card reader
    assert r["SpecificDiseasesCertificateRelatedConsFlg"] == "0" and "SpecificDiseasesCertificateList" not in r
    assert _last_consent(db) == "00001"  # the recipient's access log shows it


def test_numbers_check_consent_flag_must_be_a_boolean(client, world):
    res = client.post(
        "/api/v1/checks/numbers",
        headers=world.auth("clinic"),
        json={
            "insurer_number": INSURER_NO,
            "identification_number": "5678",
            "birthdate": "1990-01-15",
            "limit_application_consent": "perhaps",
        },
    )
    assert res.status_code == 422


@pytest.mark.parametrize(
    "consent, bits, limit, disease",
    [
        ({}, "0000", False, False),  # as before issue 7: 4 bits
        ({"LimitApplicationCertificateRelated": True}, "00001", True, False),
        ({"SpecificDiseasesCertificateRelated": True}, "000001", False, True),
        (
            {
                "LimitApplicationCertificateRelated": True,
                "SpecificDiseasesCertificateRelated": True,
                "PharmacistsInfo": True,
            },
            "100011",
            True,
            True,
        ),
    ],
)
def test_card_check_gives_the_blocks_the_patient_consented_to_at_the_reader(
    client, world, db, consent, bits, limit, disease
):
    r = world.recipient()
    card = world.card(r)
    world.insurance(card, **DETAILS)
    proof = card_proof(db, world.principal("clinic"), card, consent)
    assert proof["consent"] == consent_bits(consent) == bits
    res = client.post("/api/v1/checks/card", headers=world.auth("clinic"), json={**proof, "confirmation_date": ON})
    assert res.status_code == 200, res.text
    ins = next(x for x in res.json()["ResultList"] if x["InsuredCardClassification"] == "01")
    assert ins["LimitApplicationCertificateRelatedConsFlg"] == ("1" if limit else "0")
    assert ins["SpecificDiseasesCertificateRelatedConsFlg"] == ("1" if disease else "0")
    assert ins.get("LimitApplicationCertificateRelatedInfo") == (LIMIT_INFO if limit else None)
    assert ins.get("SpecificDiseasesCertificateList") == (
        {"SpecificDiseasesCertificateInfo": [DISEASE_INFO]} if disease else None
    )
    assert ins["PharmacistsInfoConsFlg"] == ("1" if consent.get("PharmacistsInfo") else "0")
    for a1 in (x for x in res.json()["ResultList"] if x["InsuredCardClassification"] == "A1"):
        assert "LimitApplicationCertificateRelatedConsFlg" not in a1  # 医療扶助 has no such certificates
    assert _last_consent(db) == proof["consent"]


def test_consent_bits_stay_four_unless_an_optional_consent_is_given():
    assert consent_bits({}) == "0000"
    assert consent_bits({"OperationInfo": True}) == "0001"
    assert consent_bits({"LimitApplicationCertificateRelated": True}) == "00001"
    assert consent_bits({"SpecificDiseasesCertificateRelated": True}) == "000001"
    assert consent_from_bits("1000") == {
        "PharmacistsInfo": True,
        "DiagnosisInfo": False,
        "SpecificHealthCheckupsInfo": False,
        "OperationInfo": False,
        "LimitApplicationCertificateRelated": False,
        "SpecificDiseasesCertificateRelated": False,
    }
    for given in (
        {},
        {"DiagnosisInfo": True, "SpecificDiseasesCertificateRelated": True},
        {"LimitApplicationCertificateRelated": True, "OperationInfo": True},
    ):
        assert {k for k, v in consent_from_bits(consent_bits(given)).items() if v} == set(given)


def test_old_four_bit_proofs_still_verify_and_longer_bit_strings_are_refused(client, world, db):
    r = world.recipient()
    card = world.card(r)
    world.insurance(card, **DETAILS)
    proof = card_proof(db, world.principal("clinic"), card, {"DiagnosisInfo": True})
    assert proof["consent"] == "0100"  # exactly the proof of before issue 7
    res = client.post("/api/v1/checks/card", headers=world.auth("clinic"), json=proof)
    assert res.status_code == 200
    assert res.json()["ResultList"][0]["LimitApplicationCertificateRelatedConsFlg"] == "0"
    # a consent bit added after signing does not verify (the bits are signed) …
    forged = card_proof(db, world.principal("clinic"), card, {"DiagnosisInfo": True})
    res = client.post("/api/v1/checks/card", headers=world.auth("clinic"), json={**forged, "consent": "01001"})
    assert res.status_code == 403 and res.json()["error"]["reason"] == "bad_signature"
    # … and more than six bits are malformed
    seven = card_proof(db, world.principal("clinic"), card)
    res = client.post("/api/v1/checks/card", headers=world.auth("clinic"), json={**seven, "consent": "0000000"})
    assert res.status_code == 422 or res.json()["error"].get("reason") == "malformed_proof"


INSURANCE_CSV_HEADER = (
    "insurer_number,insurer_name,insured_card_classification,card_number,name,name_kana,sex,"
    "birthdate,qualification_date,card_valid_from,card_valid_to,contribution_ratio,"
    "elderly_valid_from,elderly_contribution_ratio,limit_classification,limit_bracket,limit_valid_from"
)


def _csv(*lines: str) -> bytes:
    return ("\r\n".join([INSURANCE_CSV_HEADER, *lines]) + "\r\n").encode("cp932")


def test_csv_import_of_insurance_with_the_details(world, db):
    data = _csv(
        f"{INSURER_NO},○○健康保険組合,01,9001,高齢花子,ｺｳﾚｲ ﾊﾅｺ,2,1952-09-15,2012-04-01,2024-08-01,"
        "2025-07-31,020,2024-08-01,020,01,B04,2024-08-01",
        f"{INSURER_NO},○○健康保険組合,01,9002,保険太郎,ﾎｹﾝ ﾀﾛｳ,1,1980-01-01,2012-04-01,,,030,,,,,",
    )
    report = import_csv(db, world.principal("insurer"), "insurance", data)
    assert (report.written, report.errors) == (2, [])
    with db.read() as conn:
        rows = {r.card_number: r for r in conn.execute(select(s.insurance_qualifications))}
    assert (rows["9001"].elderly_contribution_ratio, rows["9001"].limit_bracket, rows["9001"].card_valid_to) == (
        "020",
        "B04",
        dt.date(2025, 7, 31),
    )
    assert rows["9002"].contribution_ratio == "030" and rows["9002"].elderly_valid_from is None


def test_csv_import_reports_bad_details_by_row_and_field_and_writes_nothing(world, db):
    data = _csv(
        f"{INSURER_NO},○○健康保険組合,01,9001,高齢花子,ｺｳﾚｲ ﾊﾅｺ,2,1952-09-15,2012-04-01,2024-08-01,"
        "2024-07-31,2,2024-08-01,020,01,A03,2024-08-01",
        f"{INSURER_NO},○○健康保険組合,01,9002,保険太郎,ﾎｹﾝ ﾀﾛｳ,1,1980-01-01,2012-04-01,,,030,2024-08-01,020,,,",
    )
    before = snapshot(db)
    with pytest.raises(ImportFailed) as e:
        import_csv(db, world.principal("insurer"), "insurance", data)
    got = {(x.row, x.field) for x in e.value.report.errors}
    assert got == {(2, "card_valid_to"), (2, "contribution_ratio"), (2, "limit_bracket"), (3, "elderly_valid_from")}
    assert snapshot(db) == before
