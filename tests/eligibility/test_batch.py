"""POST /checks/numbers/batch on SQLite and PostgreSQL: every item is answered, in request order,
exactly as POST /checks/numbers answers it; bad items are answered in place; every check is in the
check log before the answer; the limit, the role and the 「医療扶助」 setting are respected."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from fujo.db import schema as s
from fujo.eligibility import service
from fujo.facility.service import set_medical_assistance
from tests.factories import INSURER_NO, OTHER
from tests.helpers import snapshot

BATCH = "/api/v1/checks/numbers/batch"
VOLATILE = ("ProcessExecutionTime", "CheckId")  # differ between two checks of the same person


def _item(r: dict, **kw) -> dict:
    d = {
        "insurer_number": r["payer_number"],
        "identification_number": r["recipient_number"],
        "birthdate": r["birthdate"],
        "confirmation_date": "2024-07-10",
    }
    d.update(kw)
    return d


def _stable(check: dict) -> dict:
    return {k: v for k, v in check.items() if k not in VOLATILE}


def _log_rows(db) -> list:
    with db.read() as conn:
        return conn.execute(
            select(s.check_log).where(s.check_log.c.method != "registry").order_by(s.check_log.c.id)
        ).all()


@pytest.fixture(autouse=True)
def _uses_medical_assistance(world):
    """The clinic's 管理者 has switched 「医療扶助」 to 「利用する」 (a facility starts without it)."""
    set_medical_assistance(world.db, world.principal("clinic"), True)


def _people(world):
    """The seed's cases: designated here, designated elsewhere (未委託), no ticket yet, insurance."""
    designated = world.recipient()
    world.ticket(designated, issue_number="11")
    elsewhere = world.recipient(name="扶助花子", name_kana="ﾌｼﾞｮ ﾊﾅｺ", sex="2", birthdate="1985-04-02")
    world.ticket(elsewhere, facility=OTHER, issue_number="12")
    waiting = world.recipient(name="保護次郎", name_kana="ﾎｺﾞ ｼﾞﾛｳ", birthdate="1978-11-03")
    world.insurance()
    return designated, elsewhere, waiting


def test_mixed_batch_answers_each_item_as_the_single_check_in_order(client, world, db):
    designated, elsewhere, waiting = _people(world)
    items = [
        _item(designated, arbitrary_identifier="P0001"),
        _item(elsewhere, arbitrary_identifier="P0002"),
        {
            "insurer_number": INSURER_NO,
            "identification_number": "5678",
            "card_symbol": "12-34",
            "branch_number": "01",
            "birthdate": "1990-01-15",
            "confirmation_date": "2024-07-10",
            "arbitrary_identifier": "P0003",
        },
        _item(designated, birthdate="2000-01-01", arbitrary_identifier="P0004"),  # not found
        _item(
            designated,
            identification_number=designated["recipient_number"][:-1] + "0"
            if designated["recipient_number"][-1] != "0"
            else designated["recipient_number"][:-1] + "1",
            arbitrary_identifier="P0005",
        ),  # wrong check digit
        _item(designated, birthdate=None, arbitrary_identifier="P0006"),  # no birth date
        _item(waiting),  # no identifier
        {"identification_number": 1010008, "arbitrary_identifier": "P0008"},  # not readable
    ]
    res = client.post(BATCH, headers=world.auth("clinic"), json={"items": items})
    assert res.status_code == 200, res.text
    body = res.json()
    results = body["Results"]
    assert [r["Index"] for r in results] == list(range(len(items)))
    assert [r.get("ArbitraryIdentifier") for r in results] == [
        "P0001",
        "P0002",
        "P0003",
        "P0004",
        "P0005",
        "P0006",
        None,
        "P0008",
    ]
    assert [r["Check"]["QualificationValidity"] if "Check" in r else None for r in results] == [
        "1",
        "6",
        "1",
        "4",
        None,
        None,
        "6",
        None,
    ]
    assert (body["NumberOfProcessingResult"], body["NumberOfNormalProcessing"], body["NumberOfError"]) == (8, 5, 3)
    assert body["MedicalInstitutionCode"] == world.orgs["clinic"]["code"]

    # bad items carry their field problems, in the single check's error shape
    assert [f["field"] for f in results[4]["Error"]["fields"]] == ["recipient_number"]
    assert results[4]["Error"]["fields"][0]["code"] == "check_digit"
    assert [(f["field"], f["code"]) for f in results[5]["Error"]["fields"]] == [("birthdate", "required")]
    assert results[7]["Error"]["code"] == "validation_error"
    assert {f["field"] for f in results[7]["Error"]["fields"]} == {"insurer_number", "identification_number"}

    # every check is in the log before the answer: one row per checked item, with its CheckId
    rows = _log_rows(db)
    checked = [r for r in results if "Check" in r]
    assert len(rows) == len(checked) == 5
    assert sorted(r["Check"]["CheckId"] for r in checked) == [row.id for row in rows]
    assert all(row.method == "numbers" and row.detail == "batch" for row in rows)
    assert [row.outcome for row in rows] == ["1", "6", "1", "4", "6"]

    # the same person checked alone gets the same answer (the same decision code)
    for item, r in zip(items, results):
        single = client.post(
            "/api/v1/checks/numbers",
            headers=world.auth("clinic"),
            json={k: v for k, v in item.items() if k != "arbitrary_identifier" and v is not None},
        )
        if "Check" in r:
            assert single.status_code == 200, single.text
            assert _stable(single.json()) == _stable(r["Check"])
        else:
            assert single.status_code == 422
            if item.get("identification_number") != 1010008:
                assert single.json()["error"] == r["Error"]


def test_too_many_items_is_refused_whole_and_nothing_is_written(client, world, db, monkeypatch):
    r = world.recipient()
    before = snapshot(db)
    res = client.post(BATCH, headers=world.auth("clinic"), json={"items": [_item(r)] * (service.BATCH_MAX + 1)})
    assert res.status_code == 422
    err = res.json()["error"]
    assert err["code"] == "validation_error"
    assert [(f["field"], f["code"]) for f in err["fields"]] == [("items", "too_many_items")]
    assert "1,000" in err["fields"][0]["message_ja"] and "1,000" in err["fields"][0]["message_en"]
    assert snapshot(db) == before
    ok = client.post(BATCH, headers=world.auth("clinic"), json={"items": [_item(r)] * service.BATCH_MAX})
    assert ok.status_code == 200 and ok.json()["NumberOfNormalProcessing"] == service.BATCH_MAX
    with db.read() as conn:
        n = select(func.count()).select_from(s.check_log).where(s.check_log.c.method != "registry")
        assert conn.execute(n).scalar() == service.BATCH_MAX


@pytest.mark.parametrize("body", [{}, {"items": "x"}, {"items": {"a": 1}}, [], "not json"])
def test_malformed_body_is_refused_whole(client, world, db, body):
    before = snapshot(db)
    kw = {"content": body} if isinstance(body, str) else {"json": body}
    res = client.post(BATCH, headers={**world.auth("clinic"), "Content-Type": "application/json"}, **kw)
    assert res.status_code == 422
    assert res.json()["error"]["code"] == "validation_error"
    assert snapshot(db) == before


def test_only_facilities_may_check_in_batch(client, world, db):
    r = world.recipient()
    world.ticket(r)
    before = snapshot(db)
    for who in ("office", "insurer", "admin"):
        res = client.post(BATCH, headers=world.auth(who), json={"items": [_item(r)]})
        assert res.status_code == 403, who
        assert res.json()["error"]["code"] == "forbidden"
    assert client.post(BATCH, json={"items": [_item(r)]}).status_code == 401
    assert snapshot(db) == before


def test_setting_off_refuses_the_assistance_items_only(client, world, db):
    designated, _, _ = _people(world)
    set_medical_assistance(world.db, world.principal("clinic"), False)
    items = [
        _item(designated),
        {
            "insurer_number": INSURER_NO,
            "identification_number": "5678",
            "birthdate": "1990-01-15",
            "confirmation_date": "2024-07-10",
        },
    ]
    body = client.post(BATCH, headers=world.auth("clinic"), json={"items": items}).json()
    first, second = body["Results"]
    assert first["Error"]["code"] == "medical_assistance_disabled" and "Check" not in first
    assert second["Check"]["QualificationValidity"] == "1"
    assert [row.outcome for row in _log_rows(db)] == ["1"]


def test_an_empty_batch_is_answered_empty(client, world, db):
    body = client.post(BATCH, headers=world.auth("clinic"), json={"items": []}).json()
    assert (body["NumberOfProcessingResult"], body["Results"]) == (0, [])
    assert _log_rows(db) == []


def test_the_batch_runs_off_the_event_loop_and_gives_up_after_its_timeout(client, world, monkeypatch):
    """The worker thread is held until the answer has come back: the answer can only be the
    timeout, and while the batch is held another request is served (the loop is free)."""
    release, served = threading.Event(), threading.Event()
    served_meanwhile = []

    def held(db, principal, items):
        served_meanwhile.append(client.get("/api/v1/health").status_code)
        served.set()
        release.wait(30)
        return {}

    monkeypatch.setattr(service, "check_numbers_batch", held)
    monkeypatch.setattr(service, "BATCH_TIMEOUT", 0.5)
    try:
        res = client.post(BATCH, headers=world.auth("clinic"), json={"items": []})
    finally:
        release.set()
    assert res.status_code == 503
    assert res.json()["error"]["code"] == "timeout"
    assert served.wait(10) and served_meanwhile == [200]


def test_openapi_shows_the_batch_request_and_answer(client):
    spec = client.get("/openapi.json").json()
    op = spec["paths"]["/api/v1/checks/numbers/batch"]["post"]
    assert "200" in op["responses"]
    schemas = spec["components"]["schemas"]
    assert "NumbersBatchOut" in schemas and "Results" in schemas["NumbersBatchOut"]["properties"]
    assert "arbitrary_identifier" in schemas["NumbersBatchItemIn"]["properties"]
