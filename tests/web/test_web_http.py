"""The screens over plain HTTP (TestClient): sessions, CSRF on every POST, headers, roles,
expiry, the late-ticket view and the dashboard query. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from sqlalchemy import update

from fujo.core.dates import JST, today_jst
from fujo.db import schema as s
from tests.factories import CLINIC, PAYER
from tests.web.conftest import csrf_of


def _login(client, creds):
    code, login, pw = creds
    tok = csrf_of(client.get("/login").text)
    return client.post(
        "/login", data={"csrf_token": tok, "org_code": code, "login": login, "password": pw}, follow_redirects=False
    )


def test_session_cookie_flags_and_security_headers(client, users):
    r = _login(client, users["clinic"])
    assert r.status_code == 303 and r.headers["location"] == "/desk"
    cookie = r.headers["set-cookie"]
    assert "fujo_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    page = client.get("/desk")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["x-frame-options"] == "DENY"
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "<script>" not in page.text and "style=" not in page.text  # nothing inline (CSP)
    assert client.get("/api/v1/health").json() == {"status": "ok"}  # the API is left alone


def test_secure_cookie_over_https(app, users):
    from fastapi.testclient import TestClient

    with TestClient(app, base_url="https://testserver") as c:
        r = _login(c, users["clinic"])
        assert "Secure" in r.headers["set-cookie"]


POSTS = [
    "/login",
    "/logout",
    "/desk/check/numbers",
    "/desk/check/card",
    "/desk/check/card/challenge",
    "/desk/settings",
    "/desk/reference",
    "/office/recipients",
    "/office/import",
    "/office/import/jobs",
    "/admin/orgs",
    "/admin/cards/revoke",
    "/portal/login",
    "/portal/login/challenge",
]


@pytest.mark.parametrize("path", POSTS)
def test_every_post_without_csrf_token_is_refused(client, users, path):
    login = {"/desk": "clinic", "/office": "office", "/admin": "admin"}
    for prefix, who in login.items():
        if path.startswith(prefix):
            assert _login(client, users[who]).status_code == 303
    r = client.post(path, data={"medical_assistance": "nouse", "payer_number": PAYER, "org_code": "x"})
    assert r.status_code == 403
    assert "不正な送信のため受け付けませんでした" in r.text
    r = client.post(path, data={"csrf_token": "forged", "medical_assistance": "nouse"})
    assert r.status_code == 403


def test_csrf_refusal_changes_nothing(client, users, world):
    _login(client, users["clinic"])
    client.post("/desk/settings", data={"medical_assistance": "nouse"})
    assert world.principal("clinic").medical_assistance_enabled is True
    tok = csrf_of(client.get("/desk/settings").text)
    client.post("/desk/settings", data={"medical_assistance": "nouse", "csrf_token": tok})
    assert world.principal("clinic").medical_assistance_enabled is False


def test_sign_in_refusals_do_not_say_which_part_was_wrong(client, users):
    code, login, pw = users["clinic"]
    for creds in [(code, login, "wrong-password"), (code, "nobody", pw), ("1311299992", login, pw)]:
        r = _login(client, creds)
        assert r.status_code == 401
        assert "組織コード、ログインID、またはパスワードが正しくありません。" in r.text
        assert "fujo_session" not in r.headers.get("set-cookie", "")
    r = _login(client, ("", "", ""))
    assert r.status_code == 422 and "ログインIDを入力してください。" in r.text


def test_repeated_failures_are_throttled(client, users):
    code, login, pw = users["office"]
    for _ in range(5):
        _login(client, (code, login, "wrong-password"))
    r = _login(client, users["office"])
    assert r.status_code == 401 and "しばらく（15分）受け付けません" in r.text


def test_wrong_organisation_kind_is_forbidden_and_anonymous_goes_to_sign_in(client, users):
    r = client.get("/office", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/office"
    _login(client, users["clinic"])
    r = client.get("/office")
    assert r.status_code == 403 and "福祉事務所の利用者のみ" in r.text
    assert client.get("/admin").status_code == 403


def test_logout_and_expiry_end_the_session(client, users, db):
    _login(client, users["clinic"])
    assert client.get("/desk").status_code == 200
    with db.write() as c:
        c.execute(update(s.web_sessions).values(expires_at=dt.datetime.now(JST) - dt.timedelta(seconds=1)))
    assert client.get("/desk", follow_redirects=False).status_code == 303
    _login(client, users["clinic"])
    page = client.get("/desk")
    client.post("/logout", data={"csrf_token": csrf_of(page.text)})
    assert client.get("/desk", follow_redirects=False).status_code == 303


def test_a_stolen_old_cookie_stops_working_after_logout(app, users):
    from fastapi.testclient import TestClient

    with TestClient(app) as a:
        _login(a, users["clinic"])
        cookie = a.cookies.get("fujo_session")
        a.post("/logout", data={"csrf_token": csrf_of(a.get("/desk").text)})
    with TestClient(app, cookies={"fujo_session": cookie}) as b:
        assert b.get("/desk", follow_redirects=False).status_code == 303


def test_disabled_user_is_signed_out(client, users, world, db):
    _login(client, users["clinic"])
    with db.write() as c:
        c.execute(update(s.users).where(s.users.c.login == "clinic").values(disabled_at=dt.datetime.now(JST)))
    assert client.get("/desk", follow_redirects=False).status_code == 303
    assert _login(client, users["clinic"]).status_code == 401


def test_personal_data_is_not_logged(client, users, world, caplog):
    r = world.recipient(name="秘密太郎")
    world.ticket(r, on=today_jst())
    caplog.set_level(logging.DEBUG)
    _login(client, users["clinic"])
    tok = csrf_of(client.get("/desk/numbers").text)
    res = client.post(
        "/desk/check/numbers",
        data={
            "csrf_token": tok,
            "payer_number": PAYER,
            "recipient_number": r["recipient_number"],
            "birthdate": "1990-01-15",
        },
    )
    assert "秘密太郎" in res.text
    _login(client, (users["clinic"][0], "clinic", "bad-password-x"))
    text = caplog.text
    assert "秘密太郎" not in text and r["recipient_number"] not in text and "bad-password-x" not in text


def test_late_registered_ticket_is_listed_for_the_office(client, users, world):
    r = world.recipient(name="事後登録")
    from fujo.eligibility.service import check_by_numbers

    check_by_numbers(  # 未登録 at the visit
        world.db,
        world.principal("clinic"),
        insurer_number=PAYER,
        identification_number=r["recipient_number"],
        birthdate="1990-01-15",
    )
    world.ticket(r, on=today_jst(), facility=CLINIC)  # registered afterwards
    _login(client, users["office"])
    page = client.get("/office/late")
    assert page.status_code == 200
    assert "事後登録" in page.text and r["recipient_number"] in page.text
    assert "1件" in page.text


def test_dashboard_counts_per_hour_and_outcome(db, world):
    from fujo.audit.dashboard import checks_for_day
    from fujo.audit.service import record_check

    p = world.principal("clinic")
    day = dt.date(2024, 7, 10)
    for hour, outcome in [(9, "1"), (9, "6"), (9, "1"), (14, "2")]:
        record_check(db, p, "numbers", outcome, at=dt.datetime(2024, 7, 10, hour, 5, tzinfo=JST))
    record_check(db, p, "bulk", "-", at=dt.datetime(2024, 7, 10, 9, 0, tzinfo=JST))  # not a check
    record_check(db, p, "card", "1", at=dt.datetime(2024, 7, 11, 0, 0, tzinfo=JST))  # next day
    stats = checks_for_day(db, day)
    assert stats["total"] == 4
    assert stats["by_outcome"] == {"1": 2, "6": 1, "2": 1}
    assert stats["hours"][9] == {"hour": 9, "total": 3, "by_outcome": {"1": 2, "6": 1}}
    assert stats["hours"][14]["by_outcome"] == {"2": 1}


def test_ticket_form_has_every_ticket_field_labelled(client, users, world):
    from fujo.core.fields import TICKET_FIELDS

    r = world.recipient()
    _login(client, users["office"])
    page = client.get(f"/office/recipients/{PAYER}/{r['recipient_number']}/tickets/new").text
    for f in TICKET_FIELDS:
        if f.name in ("designated_facility_name", "prescription_issuer_name"):  # the registry's: shown, not typed
            assert f'<span class="label" id="f-{f.name}-label">{f.label_ja}' in page, f.name
            assert f'name="{f.name}"' not in page
            continue
        assert f'<label for="f-{f.name}">{f.label_ja}' in page, f.name
        assert f'id="f-{f.name}-error"' in page


def test_html_is_escaped(client, users, world):
    r = world.recipient(name="<script>alert(1)</script>")
    _login(client, users["office"])
    page = client.get(f"/office/recipients/{PAYER}/{r['recipient_number']}").text
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page


def test_demo_users_and_cli(db, world):
    from fujo.accounts.service import authenticate_user
    from fujo.demo.users import load_demo_users

    users = load_demo_users(db)  # the test world uses the demo's organisation codes
    assert ("clinic", "demo-clinic-pass", f"●●医療機関 ({CLINIC}) 受付") in users
    assert ("clinic-admin", "demo-clinic-admin-pass", f"●●医療機関 ({CLINIC}) 管理者") in users
    assert load_demo_users(db) == users  # idempotent
    assert authenticate_user(db, org_code=CLINIC, login="clinic", password="demo-clinic-pass") is not None
    from fujo.accounts.service import create_user

    u = create_user(db, world.orgs["office"]["id"], login="desk-1", password="long-enough-pw")
    assert authenticate_user(db, org_code="13001", login="desk-1", password="long-enough-pw")["id"] == u["id"]
    assert authenticate_user(db, org_code="13001", login="desk-1", password="long-enough-px") is None


def test_reference_by_insurance_numbers_shared_by_a_family_asks_for_the_branch_number(client, users, world):
    from tests.factories import INSURER_NO

    r = world.recipient()
    world.insurance(world.card(r))  # 枝番 01: the card holder
    world.insurance(branch_number="02", name="生保花子", name_kana="ｾｲﾎ ﾊﾅｺ", sex="2")  # same number and birth date
    _login(client, users["clinic"])
    form = {
        "reference_number": "P9",
        "insurer_number": INSURER_NO,
        "identification_number": "5678",
        "birthdate": "1990-01-15",
    }
    res = client.post("/desk/reference", data={"csrf_token": csrf_of(client.get("/desk/reference").text), **form})
    assert res.status_code == 409 and "枝番を指定してください" in res.text
    res = client.post(
        "/desk/reference",
        data={"csrf_token": csrf_of(client.get("/desk/reference").text), **form, "branch_number": "01"},
    )
    assert res.status_code == 200 and "照会番号 P9 を登録しました。" in res.text


def test_late_view_refuses_impossible_months_with_a_message(client, users):
    _login(client, users["office"])
    for bad in ("0000-01", "0999-01", "2024-13"):
        res = client.get("/office/late", params={"month": bad})
        assert res.status_code == 422, bad
        assert "診療年月" in res.text


def test_ticket_csv_cells_cannot_run_as_spreadsheet_formulas(client, users, world):
    r = world.recipient(name='=HYPERLINK("http://x")')
    world.ticket(r, on=today_jst(), injury_name1="@SUM(1+1)")
    _login(client, users["clinic"])
    body = client.get("/desk/tickets.csv").content.decode("utf-8-sig")
    assert "'=HYPERLINK" in body and "'@SUM(1+1)" in body
    assert ",=HYPERLINK" not in body and ",@SUM" not in body
