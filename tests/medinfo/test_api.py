"""The 薬剤情報等 HTTP API on SQLite and PostgreSQL: views and their refusals (status, reason), feeding,
the restriction endpoint and the disaster mode."""

from __future__ import annotations

import datetime as dt

from fujo.core.dates import today_jst
from tests.medinfo.helpers import AMLODIPINE_OD, OTHER, audit_rows, card_check, medication, numbers_check

TODAY = today_jst()


def _setup(world, client):
    r = world.recipient()
    c = world.card(r)
    res = client.post("/api/v1/medinfo/medication/records", headers=world.auth("office"), json=medication(r, TODAY))
    assert res.status_code == 201, res.text
    res = client.post(
        "/api/v1/medinfo/medication/records",
        headers=world.auth("office"),
        json=medication(r, TODAY - dt.timedelta(days=3), AMLODIPINE_OD, OTHER, "▲▲クリニック"),
    )
    assert res.status_code == 201
    return r, c


def test_a_clinician_views_by_check_id_and_the_list_carries_the_duplicate_marks(world, client):
    r, c = _setup(world, client)
    check = card_check(world, c)
    res = client.get(
        f"/api/v1/medinfo/medication?check_id={check['CheckId']}", headers=world.role_auth("clinic", "clinician")
    )
    assert res.status_code == 200, res.text
    body = res.json()
    assert len(body["records"]) == 2 and all(x["duplicate"] for x in body["records"]) and body["consent_flag"] == "1"
    assert audit_rows(world.db)[-1].channel == "api"


def test_refusals_answer_403_with_the_reason(world, client):
    r, c = _setup(world, client)
    q = f"payer_number={r['payer_number']}&recipient_number={r['recipient_number']}"
    res = client.get(f"/api/v1/medinfo/medication?{q}", headers=world.role_auth("clinic", "clinician"))
    assert res.status_code == 403 and res.json()["error"]["reason"] == "no_consent"
    card_check(world, c)
    res = client.get(f"/api/v1/medinfo/medication?{q}", headers=world.role_auth("clinic", "reception"))
    assert res.status_code == 403 and res.json()["error"]["code"] == "medinfo_refused"
    assert res.json()["error"]["reason"] == "role"
    numbers_check(world, r, key="other")
    res = client.get(f"/api/v1/medinfo/medication?{q}", headers=world.role_auth("other", "clinician"))
    assert res.json()["error"]["reason"] == "other_facility"
    res = client.get(f"/api/v1/medinfo/medication?{q}", headers=world.auth("office"))
    assert res.status_code == 403 and res.json()["error"]["code"] == "forbidden"
    assert client.get("/api/v1/medinfo/nothing?check_id=1", headers=world.auth("clinic")).status_code == 422
    assert client.get("/api/v1/medinfo/medication", headers=world.auth("clinic")).status_code == 422
    reasons = [x.reason for x in audit_rows(world.db)]
    assert reasons[:3] == ["no_consent", "role", "other_facility"]


def test_overlaps_endpoint(world, client):
    r, c = _setup(world, client)
    card_check(world, c, key="pharmacy")
    res = client.post(
        "/api/v1/medinfo/medication/overlaps",
        headers=world.role_auth("pharmacy", "clinician"),
        json={
            "drug_codes": ["2171022F1020"],
            "days": 7,
            "payer_number": r["payer_number"],
            "recipient_number": r["recipient_number"],
        },
    )
    assert res.status_code == 200, res.text
    assert len(res.json()["overlaps"]) == 2


def test_restriction_endpoint_and_import_endpoint(world, client):
    r = world.recipient()
    url = f"/api/v1/recipients/{r['payer_number']}/{r['recipient_number']}/restriction"
    res = client.put(url, headers=world.auth("office"), json={"restricted": True, "reason": "DV等支援措置"})
    assert res.status_code == 200 and res.json()["restricted"] is True
    assert client.put(url, headers=world.auth("office2"), json={"restricted": False}).status_code == 403
    assert client.put(url, headers=world.auth("clinic"), json={"restricted": False}).status_code == 403
    csv = (
        "payer_number,recipient_number,date,item_name,value,unit\n"
        f"{r['payer_number']},{r['recipient_number']},{TODAY.isoformat()},収縮期血圧,128,mmHg\n"
    )
    res = client.post(
        "/api/v1/medinfo/checkups/imports", headers=world.auth("office"), files={"file": ("c.csv", csv.encode())}
    )
    assert res.status_code == 200 and res.json()["written"] == 1
    res = client.post(
        "/api/v1/medinfo/checkups/imports",
        headers=world.auth("office"),
        files={"file": ("c.csv", (csv + "x,y,z,a,b,c\n").encode())},
    )
    assert res.status_code == 422 and res.json()["error"]["report"]["errors"][0]["row"] == 3


def test_disaster_endpoints(world, client):
    r = world.recipient()
    client.post("/api/v1/medinfo/medication/records", headers=world.auth("office"), json=medication(r, TODAY))
    body = {"name": "生保一郎", "birthdate": "1990-01-15", "sex": "1"}
    url = "/api/v1/medinfo/disaster/medication"
    assert (
        client.post(url, headers=world.role_auth("clinic", "clinician"), json=body).json()["error"]["code"]
        == "disaster_closed"
    )
    res = client.post(
        "/api/v1/disasters",
        headers=world.auth("admin"),
        json={"reason": "地震", "starts_at": TODAY.isoformat(), "ends_at": TODAY.isoformat(), "prefectures": ["13"]},
    )
    assert res.status_code == 201, res.text
    oid = res.json()["id"]
    assert client.post(
        "/api/v1/disasters", headers=world.auth("clinic"), json=res.json() | {"starts_at": "x"}
    ).status_code in (403, 422)
    res = client.post(url, headers=world.role_auth("clinic", "clinician"), json=body)
    assert res.status_code == 200 and res.json()["disaster"] is True and len(res.json()["records"]) == 1
    assert audit_rows(world.db)[-1].flags == "disaster"
    assert client.get("/api/v1/disasters", headers=world.auth("admin")).json()[0]["in_force"] is True
    assert client.post(f"/api/v1/disasters/{oid}/close", headers=world.auth("admin")).status_code == 200
    assert client.post(url, headers=world.role_auth("clinic", "clinician"), json=body).status_code == 403
