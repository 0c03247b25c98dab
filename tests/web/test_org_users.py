"""A facility's or office's 管理者 manages its own users and their roles; the roles are what they say."""

from __future__ import annotations

from fujo.accounts.service import authenticate_user
from tests.helpers import snapshot
from tests.web.conftest import csrf_of


def _login(client, creds):
    code, login, pw = creds
    tok = csrf_of(client.get("/login").text)
    return client.post(
        "/login", data={"csrf_token": tok, "org_code": code, "login": login, "password": pw}, follow_redirects=False
    )


def test_a_facility_manager_adds_a_front_desk_user_who_cannot_change_settings(client, users, world, db):
    assert _login(client, users["clinic"]).status_code == 303  # the test users are 管理者
    page = client.get("/desk/users")
    assert page.status_code == 200 and "医師・歯科医師・薬剤師" in page.text
    tok = csrf_of(page.text)
    before = snapshot(db)
    bad = client.post(
        "/desk/users", data={"csrf_token": tok, "login": "desk1", "password": "long-enough-1", "role": "caseworker"}
    )
    assert bad.status_code == 422 and "権限は" in bad.text and snapshot(db) == before
    ok = client.post(
        "/desk/users",
        data={
            "csrf_token": tok,
            "login": "desk1",
            "password": "long-enough-1",
            "display_name": "受付一号",
            "role": "reception",
        },
    )
    assert ok.status_code == 200 and "desk1" in ok.text and "受付" in ok.text
    assert (
        authenticate_user(db, org_code=world.orgs["clinic"]["code"], login="desk1", password="long-enough-1")["role"]
        == "reception"
    )
    client.post("/logout", data={"csrf_token": tok})
    assert _login(client, (world.orgs["clinic"]["code"], "desk1", "long-enough-1")).status_code == 303
    settings = client.get("/desk/settings")
    assert "管理者のみ" in settings.text and 'name="medical_assistance"' not in settings.text
    before = snapshot(db)
    res = client.post("/desk/settings", data={"csrf_token": csrf_of(settings.text), "medical_assistance": "nouse"})
    assert res.status_code == 403 and snapshot(db) == before
    assert client.get("/desk/users").status_code == 403
    assert client.get("/desk").status_code == 200  # the front desk still checks


def test_the_settings_screen_records_who_switched_it(client, users, world):
    _login(client, users["clinic"])
    page = client.get("/desk/settings")
    client.post("/desk/settings", data={"csrf_token": csrf_of(page.text), "medical_assistance": "nouse"})
    page = client.get("/desk/settings").text
    assert "clinic（管理者）" in page and "利用しない" in page
    assert world.principal("clinic").medical_assistance_enabled is False


def test_an_office_manager_adds_a_caseworker(client, users, world, db):
    _login(client, users["office"])
    tok = csrf_of(client.get("/office/users").text)
    res = client.post(
        "/office/users", data={"csrf_token": tok, "login": "case1", "password": "long-enough-1", "role": "caseworker"}
    )
    assert res.status_code == 200 and "担当員" in res.text
    client.post("/logout", data={"csrf_token": tok})
    _login(client, (world.orgs["office"]["code"], "case1", "long-enough-1"))
    assert client.get("/office").status_code == 200
    assert client.get("/office/users").status_code == 403


def test_the_administrator_gives_tokens_and_users_a_role(client, users, world, db):
    _login(client, users["admin"])
    org = world.orgs["clinic"]
    page = client.get(f"/admin/orgs/{org['id']}")
    assert "医師・歯科医師・薬剤師" in page.text
    tok = csrf_of(page.text)
    res = client.post(
        f"/admin/orgs/{org['id']}/credentials", data={"csrf_token": tok, "label": "レセコン", "role": "clinician"}
    )
    assert res.status_code == 200 and 'id="token"' in res.text
    res = client.post(
        f"/admin/orgs/{org['id']}/users",
        data={"csrf_token": tok, "login": "doc1", "password": "long-enough-1", "role": "clinician"},
    )
    assert res.status_code == 200
    assert authenticate_user(db, org_code=org["code"], login="doc1", password="long-enough-1")["role"] == "clinician"
