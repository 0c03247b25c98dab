"""A registry that refuses wrong tickets (issue 8): every refusal through each entry point — the API,
the CSV import and the web form — names the field and writes nothing, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import re

import pytest

from fujo.accounts.service import create_user
from fujo.core.numbers import with_check_digit
from fujo.registry.facilities import register_facility
from tests.factories import CLINIC, PAYER, PHARMACY
from tests.helpers import import_job, snapshot

UNREGISTERED = with_check_digit("131555555")
STATION = with_check_digit("136123456")
DENTAL = with_check_digit("133123456")


def _recipient(world, **kw):
    return world.recipient(**kw)


# Each case: (recipient fields, ticket changes, earlier ticket of the same payer: None / "same" recipient /
# "other" recipient with these changes, the field and code of the refusal)
CASES = {
    "before_protection": ({"qualification_date": "2024-08-01"}, {}, None, ("treatment_month", "before_protection")),
    "stopped_all_month": (
        {"disqualification_date": "2024-07-01", "disqualification_kind": "1"},
        {},
        None,
        ("treatment_month", "protection_ended"),
    ),
    "abolished_before_month": (
        {"disqualification_date": "2024-05-10", "disqualification_kind": "2"},
        {},
        None,
        ("treatment_month", "protection_ended"),
    ),
    "valid_from_before_start": ({"qualification_date": "2024-07-15"}, {}, None, ("valid_from", "before_protection")),
    "valid_to_after_end": (
        {"disqualification_date": "2024-07-20", "disqualification_kind": "2"},
        {},
        None,
        ("valid_to", "after_protection"),
    ),
    "facility_not_registered": (
        {},
        {"designated_facility_code": UNREGISTERED},
        None,
        ("designated_facility_code", "not_registered"),
    ),
    "dispensing_at_a_clinic": (
        {},
        {"ticket_type": "02", "treatment_type": "04"},
        None,
        ("designated_facility_code", "not_pharmacy"),
    ),
    "medical_at_a_pharmacy": (
        {},
        {"designated_facility_code": PHARMACY, "ticket_type": "01", "treatment_type": "02"},
        None,
        ("designated_facility_code", "pharmacy_on_medical_ticket"),
    ),
    "dental_at_a_clinic": (
        {},
        {"treatment_type": "03"},
        None,
        ("designated_facility_code", "dental_needs_dental_code"),
    ),
    "clinic_treatment_at_a_dentist": (
        {},
        {"designated_facility_code": DENTAL},
        None,
        ("treatment_type", "dental_code_needs_dental"),
    ),
    "visiting_nursing_at_a_clinic": (
        {},
        {"treatment_type": "05"},
        None,
        ("designated_facility_code", "visiting_nursing_needs_station"),
    ),
    "single_with_insurance": (
        {},
        {"single_or_combined": "01", "social_insurance": "01"},
        None,
        ("single_or_combined", "single_with_insurance"),
    ),
    "combined_without_insurance": (
        {},
        {"single_or_combined": "02", "social_insurance": "02"},
        None,
        ("single_or_combined", "combined_without_insurance"),
    ),
    "same_issue_number": (
        {},
        {"issue_number": "555"},
        ("other", {"issue_number": "555", "facility": PHARMACY}),
        ("issue_number", "duplicate_issue_number"),
    ),
    "same_ticket_twice": ({}, {}, ("same", {}), ("designated_facility_code", "duplicate_ticket")),
    "prescriber_not_registered": (
        {},
        {
            "ticket_type": "02",
            "treatment_type": "04",
            "designated_facility_code": PHARMACY,
            "prescription_issuer_code": UNREGISTERED,
        },
        None,
        ("prescription_issuer_code", "not_registered"),
    ),
}


def _prepare(world, case):
    rec_kw, change, earlier, _ = CASES[case]
    for code, name in ((DENTAL, "◇◇歯科医院"), (STATION, "☆☆訪問看護ステーション")):
        register_facility(world.db, world.principal("admin"), {"code": code, "name": name})
    r = _recipient(world, **rec_kw)
    if earlier:
        who, kw = earlier
        target = r if who == "same" else _recipient(world)
        world.ticket(target, **kw)
    data = world.ticket_data(r)
    data.pop("designated_facility_name")
    data.update(change)
    return r, data


def _fields(res) -> set[tuple[str, str]]:
    return {(f["field"], f["code"]) for f in res.json()["error"]["fields"]}


@pytest.mark.parametrize("case", sorted(CASES))
def test_api_refuses_and_writes_nothing(client, world, db, case):
    _, data = _prepare(world, case)
    before = snapshot(db)
    res = client.post("/api/v1/tickets", headers=world.auth("office"), json=data)
    assert res.status_code == 422, res.text
    assert CASES[case][3] in _fields(res)
    f = next(x for x in res.json()["error"]["fields"] if (x["field"], x["code"]) == CASES[case][3])
    assert f["message_ja"] and f["message_en"]
    assert snapshot(db) == before


@pytest.mark.parametrize("case", sorted(CASES))
def test_csv_import_refuses_the_whole_file_and_writes_nothing(client, world, db, case):
    r, data = _prepare(world, case)
    good = _recipient(world)
    good_row = world.ticket_data(good, issue_number="9001")
    good_row.pop("designated_facility_name")
    cols = sorted(set(data) | set(good_row))
    buf = io.StringIO()
    w = csv.DictWriter(buf, cols, lineterminator="\r\n")
    w.writeheader()
    w.writerow(good_row)  # a good row first: it must not be written either
    w.writerow(data)
    before = snapshot(db)
    res = import_job(
        client,
        "/api/v1/imports/tickets",
        headers=world.auth("office"),
        files={"file": ("t.csv", buf.getvalue().encode(), "text/csv")},
    )
    assert res.status_code == 422, res.text
    errors = res.json()["error"]["report"]["errors"]
    assert (3, CASES[case][3][0]) in [(e["row"], e["field"]) for e in errors]
    assert all(e["row"] == 3 for e in errors)
    assert snapshot(db) == before


def _office_client(client, world):
    create_user(
        world.db,
        world.orgs["office"]["id"],
        login="clerk",
        password="clerk-pass-123",
        display_name="担当",
        role="caseworker",
    )
    tok = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    r = client.post(
        "/login",
        data={"csrf_token": tok, "org_code": "13001", "login": "clerk", "password": "clerk-pass-123"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    return client


@pytest.mark.parametrize("case", sorted(CASES))
def test_web_form_shows_the_same_refusal_next_to_the_field_and_writes_nothing(client, world, db, case):
    r, data = _prepare(world, case)
    c = _office_client(client, world)
    url = f"/office/recipients/{PAYER}/{r['recipient_number']}/tickets"
    page = c.get(url + "/new")
    assert page.status_code == 200
    assert 'name="designated_facility_name"' not in page.text  # never typed: looked up
    tok = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    form = {k: v for k, v in data.items() if k not in ("payer_number", "recipient_number") and v is not None}
    before = snapshot(db)
    res = c.post(url, data={"csrf_token": tok, **form})
    assert res.status_code == 422, res.text
    field, code = CASES[case][3]
    # the message sits in the field's own error slot, as the API names it
    slot = re.search(rf'id="f-{field}-error"[^>]*>([^<]*)<', res.text)
    assert slot and slot.group(1).strip(), (field, res.text[:2000])
    assert snapshot(db) == before


def test_a_good_ticket_takes_the_name_from_the_registry_and_a_station_code_is_accepted(client, world, db):
    register_facility(db, world.principal("admin"), {"code": STATION, "name": "☆☆訪問看護ステーション"})
    r = world.recipient()
    data = world.ticket_data(r, facility=STATION, treatment_type="05", designated_facility_name="手入力の名前")
    res = client.post("/api/v1/tickets", headers=world.auth("office"), json=data)
    assert res.status_code == 201, res.text
    assert res.json()["designated_facility_name"] == "☆☆訪問看護ステーション"
    d = world.ticket_data(
        r,
        ticket_type="02",
        treatment_type="04",
        facility=PHARMACY,
        prescription_issuer_code=CLINIC,
        prescription_issuer_name="x",
    )
    res = client.post("/api/v1/tickets", headers=world.auth("office"), json=d)
    assert res.status_code == 201, res.text
    assert (res.json()["designated_facility_name"], res.json()["prescription_issuer_name"]) == ("■■薬局", "●●医療機関")


def test_amend_meets_the_same_rules_and_is_the_way_to_correct_a_ticket(client, world, db):
    r = world.recipient(disqualification_date="2024-07-20", disqualification_kind="2")
    t = world.ticket(r, valid_to="2024-07-19")
    data = world.ticket_data(r, valid_to="2024-07-19", injury_name1="気管支炎")
    data.pop("payer_number"), data.pop("recipient_number")
    ok = client.put(f"/api/v1/tickets/{t['ticket_key']}", headers=world.auth("office"), json=data)
    assert ok.status_code == 200, ok.text  # itself is no duplicate
    before = snapshot(db)
    bad = client.put(
        f"/api/v1/tickets/{t['ticket_key']}", headers=world.auth("office"), json={**data, "valid_to": "2024-07-31"}
    )
    assert bad.status_code == 422 and ("valid_to", "after_protection") in _fields(bad)
    other = world.ticket(world.recipient(), facility=PHARMACY, issue_number="777")
    before = snapshot(db)
    bad = client.put(
        f"/api/v1/tickets/{t['ticket_key']}", headers=world.auth("office"), json={**data, "issue_number": "777"}
    )
    assert bad.status_code == 422 and ("issue_number", "duplicate_issue_number") in _fields(bad)
    assert snapshot(db) == before
    assert other["issue_number"] == "777"


def test_a_cancelled_ticket_frees_its_place(client, world):
    r = world.recipient()
    t = world.ticket(r, issue_number="42")
    client.post(f"/api/v1/tickets/{t['ticket_key']}/cancel", headers=world.auth("office"), json={"reason": "誤登録"})
    assert world.ticket(r, issue_number="42")["status"] == "active"


def test_the_same_ticket_twice_within_one_csv_file_is_refused(client, world, db):
    r = world.recipient()
    rows = [world.ticket_data(r, issue_number="1"), world.ticket_data(r, issue_number="2")]
    buf = io.StringIO()
    w = csv.DictWriter(buf, sorted(rows[0]), lineterminator="\r\n")
    w.writeheader()
    w.writerows(rows)
    before = snapshot(db)
    res = import_job(
        client,
        "/api/v1/imports/tickets",
        headers=world.auth("office"),
        files={"file": ("t.csv", buf.getvalue().encode(), "text/csv")},
    )
    assert res.status_code == 422
    assert [(e["row"], e["field"]) for e in res.json()["error"]["report"]["errors"]] == [
        (3, "designated_facility_code")
    ]
    assert snapshot(db) == before
