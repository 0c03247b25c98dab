"""The claims pre-check reports of the screens live in the database (issue 12, fujo.claims.reports):
a report stored through one server process is served by another (two apps over one database), to its
owner only (the same web user, on the same screen), for 30 minutes; expired rows are deleted by the
next store. On SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from fujo.accounts.service import create_user
from fujo.api.app import create_app
from fujo.claims import reports
from fujo.core.errors import NotFound
from fujo.db import schema as s
from tests.claims.test_claims import DATA, july_world
from tests.web.conftest import csrf_of, signed_in

JULY = (DATA / "facility_july.uke").read_bytes()
R = s.claims_reports


def _ids(db) -> set[str]:
    with db.read() as conn:
        return set(conn.execute(select(R.c.id)).scalars())


def _upload(c: TestClient, csrf: str, path: str = "/desk/claims") -> str:
    res = c.post(path, data={"csrf_token": csrf}, files={"file": ("RECEIPTC.UKE", JULY, "application/octet-stream")})
    assert res.status_code == 200, res.text[:500]
    return re.search(rf'href="{path}/reports/([A-Za-z0-9_-]+)\.csv"', res.text).group(1)


def _sign_in(app, org_code: str, login: str) -> TestClient:
    """Another browser of an existing user (password as tests.web.conftest.signed_in sets it)."""
    c = TestClient(app)
    tok = csrf_of(c.get("/login").text)
    res = c.post(
        "/login",
        data={"csrf_token": tok, "org_code": org_code, "login": login, "password": "role-pass-1234"},
        follow_redirects=False,
    )
    assert res.status_code == 303
    return c


def test_a_report_stored_by_one_process_is_served_by_another(settings, db, ca, world):
    july_world(world)
    one, two = create_app(settings, db, ca), create_app(settings, db, ca)  # two server processes, one database
    c, csrf = signed_in(one, db, world.orgs["clinic"], "desk1", "reception")
    rid = _upload(c, csrf)
    first = json.loads(c.get(f"/desk/claims/reports/{rid}.json").content)

    elsewhere = TestClient(two, cookies=c.cookies)  # the same browser, its next request reaching process two
    page = elsewhere.get(f"/desk/claims/reports/{rid}")
    assert page.status_code == 200 and "【要修正】検証番号の誤り（1件）" in page.text
    assert json.loads(elsewhere.get(f"/desk/claims/reports/{rid}.json").content) == first
    got = elsewhere.get(f"/desk/claims/reports/{rid}.csv?problems=1")
    assert got.status_code == 200 and 'filename="claims-facility-202407.csv"' in got.headers["content-disposition"]
    assert not hasattr(one.state, "claims_reports") and not hasattr(two.state, "claims_reports")

    # the same user signed in on another browser reads it too; the owner is the user, not the session
    again = _sign_in(two, world.orgs["clinic"]["code"], "desk1")
    assert again.get(f"/desk/claims/reports/{rid}.json").status_code == 200


def test_only_its_owner_reads_a_report(app, db, world):
    july_world(world)
    c, csrf = signed_in(app, db, world.orgs["clinic"], "desk1")
    rid = _upload(c, csrf)
    colleague, _ = signed_in(app, db, world.orgs["clinic"], "desk2")  # same facility, another user
    stranger, _ = signed_in(app, db, world.orgs["other"], "desk3")  # another facility
    office, _ = signed_in(app, db, world.orgs["office"], "cw")
    for who, path in (
        (colleague, f"/desk/claims/reports/{rid}"),
        (colleague, f"/desk/claims/reports/{rid}.csv"),
        (stranger, f"/desk/claims/reports/{rid}.json"),
        (office, f"/office/claims/reports/{rid}.json"),
    ):
        res = who.get(path)
        assert res.status_code == 404, path
        assert "生保" not in res.text
    assert "点検結果が見つかりません" in colleague.get(f"/desk/claims/reports/{rid}").text
    assert c.get(f"/desk/claims/reports/{rid}.json").status_code == 200  # still the owner's


def test_an_expired_report_is_not_served_and_is_deleted_by_the_next_store(app, db, world):
    july_world(world)
    c, csrf = signed_in(app, db, world.orgs["clinic"], "desk1")
    rid = _upload(c, csrf)
    with db.read() as conn:
        row = conn.execute(select(R.c.created_at, R.c.expires_at, R.c.mode)).one()
    assert row.mode == "facility"
    assert (row.expires_at - row.created_at) == dt.timedelta(minutes=30)
    with db.write() as conn:  # half an hour later
        conn.execute(update(R).values(expires_at=db.now() - dt.timedelta(seconds=1)))
    for ext in ("", ".csv", ".json"):
        assert c.get(f"/desk/claims/reports/{rid}{ext}").status_code == 404
    assert _ids(db) == {rid}  # reading does not write
    other, other_csrf = signed_in(app, db, world.orgs["clinic"], "desk2")
    fresh = _upload(other, other_csrf)  # anyone's store deletes the expired rows
    assert _ids(db) == {fresh}


def _principal(world, key: str, login: str):
    u = create_user(world.db, world.orgs[key]["id"], login=login, password="role-pass-1234")
    return dataclasses.replace(world.principal(key), user_id=u["id"])


def test_the_store_keeps_a_few_reports_a_user_for_half_an_hour(db, world):
    me, you = _principal(world, "clinic", "me"), _principal(world, "clinic", "you")
    t0 = db.now()
    ids = [
        reports.store_report(db, me, "facility", {"n": i, "name": "生保一郎"}, now=t0 + dt.timedelta(seconds=i))
        for i in range(6)
    ]
    theirs = reports.store_report(db, you, "facility", {"n": "theirs"}, now=t0 + dt.timedelta(seconds=6))
    assert len(set(ids)) == 6 and all(len(i) >= 32 for i in ids)  # opaque, 192 random bits
    later = t0 + dt.timedelta(minutes=29)
    with pytest.raises(NotFound):  # the sixth pushed the first out
        reports.load_report(db, me, ids[0], "facility", now=later)
    assert [reports.load_report(db, me, i, "facility", now=later)["n"] for i in ids[1:]] == [1, 2, 3, 4, 5]
    assert reports.load_report(db, me, ids[1], "facility", now=later) == {"n": 1, "name": "生保一郎"}
    other_org = dataclasses.replace(me, organisation_id=world.orgs["other"]["id"])
    for who, mode in (
        (you, "facility"),
        (me, "office"),
        (other_org, "facility"),
        (world.principal("clinic"), "facility"),
    ):
        with pytest.raises(NotFound):  # another user or organisation, the other screen, no user at all
            reports.load_report(db, who, ids[1], mode, now=later)
    expired = t0 + dt.timedelta(minutes=30, seconds=7)
    with pytest.raises(NotFound):
        reports.load_report(db, you, theirs, "facility", now=expired)
    assert _ids(db) == {*ids[1:], theirs}
    new = reports.store_report(db, you, "facility", {"n": "new"}, now=expired)
    assert _ids(db) == {new}  # every expired row went with the next store
    with pytest.raises(ValueError):
        reports.store_report(db, world.principal("clinic"), "facility", {})  # a token: no web user
