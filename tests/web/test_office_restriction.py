"""The welfare office sets and lifts 閲覧制限 on the recipient's page; the facilities' answers follow."""

from __future__ import annotations

from fujo.core.dates import today_jst
from tests.factories import CLINIC, PAYER
from tests.helpers import snapshot
from tests.web.test_office_screens import _login, _page, _rn


def _check(client, world, who, r) -> dict:
    body = {"insurer_number": PAYER, "identification_number": r["recipient_number"], "birthdate": r["birthdate"]}
    res = client.post("/api/v1/checks/numbers", json=body, headers=world.auth(who))
    assert res.status_code == 200, res.text
    return res.json()


def test_the_office_restricts_and_the_designated_facility_no_longer_sees_the_address(client, users, world, db):
    r = world.recipient(address="東京都○○市秘匿町1-2-3")
    world.ticket(r, on=today_jst(), facility=CLINIC)
    assert "秘匿町" in str(_check(client, world, "clinic", r))
    csrf = _login(client, users["office"])
    assert "制限なし" in _page(client, _rn(r))
    res = client.post(f"{_rn(r)}/restriction", data={"csrf_token": csrf, "restricted": "1", "reason": "DV"})
    assert res.status_code == 200 and "閲覧制限中" in res.text and "閲覧制限を設定しました" in res.text
    answer = str(_check(client, world, "clinic", r))
    assert "秘匿町" not in answer and r["name"] in answer  # the designated facility: name, no address
    assert r["name"] not in str(_check(client, world, "other", r))  # another facility: not even the name
    res = client.post(f"{_rn(r)}/restriction", data={"csrf_token": csrf, "restricted": "0"})
    assert "制限なし" in res.text
    assert "秘匿町" in str(_check(client, world, "clinic", r))


def test_a_reason_too_long_is_refused_and_changes_nothing(client, users, world, db):
    r = world.recipient()
    csrf = _login(client, users["office"])
    before = snapshot(db)
    res = client.post(f"{_rn(r)}/restriction", data={"csrf_token": csrf, "restricted": "1", "reason": "x" * 201})
    assert res.status_code == 422
    assert snapshot(db) == before
