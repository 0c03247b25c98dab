"""Every request body has a limit (fujo/api/limits.py), answered 413 in the API's error shape,
with nothing written — whether the client announces the size or streams the body chunked."""

from __future__ import annotations

from fujo.api import limits
from tests.factories import PAYER
from tests.helpers import snapshot


def _chunks(total: int, size: int = 64 * 1024):
    sent = 0
    while sent < total:
        n = min(size, total - sent)
        sent += n
        yield b" " * n


def _too_large(res):
    assert res.status_code == 413, res.text
    err = res.json()["error"]
    assert err["code"] == "payload_too_large"
    assert err["message_ja"] == "送信されたデータが大きすぎます。"


def test_a_10_mb_check_is_refused_with_413(client, world, db):
    before = snapshot(db)
    body = b'{"payer_number": "' + b"1" * (10 * 1024 * 1024) + b'"}'
    res = client.post(
        "/api/v1/checks/numbers",
        content=body,
        headers={**world.auth("clinic"), "Content-Type": "application/json"},
    )
    _too_large(res)
    assert snapshot(db) == before


def test_a_chunked_body_without_a_length_is_cut_off_too(client, world, db):
    before = snapshot(db)
    res = client.post(
        "/api/v1/checks/numbers",
        content=_chunks(limits.CHECK + 1),
        headers={**world.auth("clinic"), "Content-Type": "application/json"},
    )
    _too_large(res)
    assert snapshot(db) == before


def test_a_normal_check_is_well_under_the_limit(client, world):
    r = world.recipient()
    world.ticket(r)
    body = {"insurer_number": PAYER, "identification_number": r["recipient_number"], "birthdate": r["birthdate"]}
    res = client.post("/api/v1/checks/numbers", json=body, headers=world.auth("clinic"))
    assert res.status_code == 200, res.text
    assert len(res.request.content) < limits.CHECK // 20


def test_an_import_may_be_larger_than_the_default_but_not_unbounded(client, world, db):
    before = snapshot(db)
    big = b"payer_number\n" + b"x" * (limits.IMPORT + 1)
    res = client.post("/api/v1/imports/recipients", headers=world.auth("office"), files={"file": ("r.csv", big)})
    _too_large(res)
    # two megabytes are over the default limit and under the import limit: read and judged as CSV
    mid = b"payer_number,recipient_number\n" + b"1,1\n" * (2 * 1024 * 1024 // 4)
    res = client.post("/api/v1/imports/recipients", headers=world.auth("office"), files={"file": ("r.csv", mid)})
    assert res.status_code == 422, res.text  # the CSV's own problem, not its size
    assert res.json()["error"]["code"] == "validation_error"
    assert snapshot(db) == before


def test_other_routes_have_the_default_limit(client, world):
    res = client.post(
        "/api/v1/recipients",
        content=b"{" + b" " * (limits.DEFAULT + 1) + b"}",
        headers={**world.auth("office"), "Content-Type": "application/json"},
    )
    _too_large(res)
