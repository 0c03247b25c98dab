"""The insurer's screen (保険者): register a health-insurance qualification with its card dates,
一部負担金割合 and certificates on a form generated from the field table; errors by field; only
insurer users; CSRF. Over plain HTTP (TestClient), on SQLite and PostgreSQL."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from fujo.accounts.service import create_user
from fujo.core.fields import INSURANCE_FIELDS
from fujo.db import schema as s
from fujo.web.insurer import SECTIONS
from tests.factories import INSURER_NO
from tests.web.conftest import csrf_of

FULL = {  # a 70–74 person of a 健康保険組合 with 高齢受給者証, 限度額適用認定証 and 特定疾病療養受療証
    "insurer_number": INSURER_NO,
    "insurer_name": "○○健康保険組合",
    "insured_card_classification": "01",
    "card_symbol": "12-34",
    "card_number": "8801",
    "branch_number": "01",
    "personal_family": "1",
    "card_issuance_date": "2024-07-15",
    "card_valid_from": "2024-08-01",
    "card_valid_to": "2026-03-31",
    "contribution_ratio": "020",
    "name": "高齢花子",
    "name_kana": "コウレイ ハナコ",
    "name_of_other": "",
    "name_of_other_kana": "",
    "insured_name": "高齢花子",
    "sex": "2",
    "birthdate": "1952-09-15",
    "address": "",
    "post_number": "",
    "preschool": "",
    "qualification_date": "2019-05-01",
    "disqualification_date": "",
    "elderly_certificate_date": "2024-07-15",
    "elderly_valid_from": "2024-08-01",
    "elderly_valid_to": "2025-07-31",
    "elderly_contribution_ratio": "020",
    "limit_classification": "01",
    "limit_bracket": "B04",
    "limit_certificate_date": "2024-07-20",
    "limit_valid_from": "2024-08-01",
    "limit_valid_to": "2025-07-31",
    "limit_long_term_date": "",
    "specific_disease_category": "1",
    "specific_disease_certificate_date": "2024-07-20",
    "specific_disease_valid_from": "2024-08-01",
    "specific_disease_valid_to": "",
    "specific_disease_self_pay": "10000",
    "card_serial": "",
}


def _login_insurer(client, world):
    create_user(
        world.db, world.orgs["insurer"]["id"], login="insurer", password="insurer-pass-123", display_name="保険者担当"
    )
    tok = csrf_of(client.get("/login").text)
    r = client.post(
        "/login",
        data={"csrf_token": tok, "org_code": INSURER_NO, "login": "insurer", "password": "insurer-pass-123"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/insurer"


def _count(db) -> int:
    with db.read() as conn:
        return conn.execute(select(func.count()).select_from(s.insurance_qualifications)).scalar_one()


def test_the_form_sections_cover_every_field_of_the_table_once():
    names = [n for _, fields in SECTIONS for n in fields]
    assert sorted(names) == sorted(f.name for f in INSURANCE_FIELDS)


def test_insurer_registers_a_qualification_with_its_certificates(client, world, db):
    _login_insurer(client, world)
    page = client.get("/insurer")
    assert page.status_code == 200
    for f in INSURANCE_FIELDS:  # the form is generated from the field table
        assert f'name="{f.name}"' in page.text, f.name
    assert f'value="{INSURER_NO}"' in page.text  # the insurer's own number, filled in
    assert '<option value="010">010 1割</option>' in page.text
    r = client.post("/insurer/qualifications", data={**FULL, "csrf_token": csrf_of(page.text)}, follow_redirects=False)
    assert r.status_code == 303
    assert re.fullmatch(r"/insurer/qualifications/\d+\?saved=1", r.headers["location"])
    detail = client.get(r.headers["location"])
    assert detail.status_code == 200
    for shown in (
        "登録しました。",
        "020 2割",
        "令和6年8月1日",
        "B04 一般",
        "10,000円",
        "人工透析を必要とする慢性腎不全",
        "ｺｳﾚｲ ﾊﾅｺ",
    ):
        assert shown in detail.text, shown
    with db.read() as conn:
        row = conn.execute(select(s.insurance_qualifications)).one()
    assert (
        row.contribution_ratio,
        row.elderly_contribution_ratio,
        row.limit_bracket,
        row.specific_disease_self_pay,
    ) == ("020", "020", "B04", 10000)
    assert row.card_valid_from.isoformat() == "2024-08-01" and row.limit_long_term_date is None


def test_errors_are_shown_by_field_and_nothing_is_written(client, world, db):
    _login_insurer(client, world)
    tok = csrf_of(client.get("/insurer").text)
    bad = {
        **FULL,
        "csrf_token": tok,
        "name": "",
        "contribution_ratio": "1",
        "card_valid_to": "2024-07-31",
        "birthdate": "1980-01-01",
        "limit_bracket": "",
        "limit_classification": "",
    }
    r = client.post("/insurer/qualifications", data=bad)
    assert r.status_code == 422
    errors = dict(re.findall(r'<p class="field-error" id="f-([a-z_]+)-error" aria-live="polite">([^<]+)</p>', r.text))
    assert "氏名を入力してください。" in errors["name"]
    assert "010（1割）" in errors["contribution_ratio"]
    assert "有効終了年月日が有効開始年月日より前" in errors["card_valid_to"]
    assert "70歳以上74歳以下" in errors["elderly_valid_from"]  # born 1980: no 高齢受給者証
    assert "限度額適用認定証区分" in errors["limit_classification"]  # the block is given whole or not at all
    assert 'aria-invalid="true"' in r.text and 'href="#f-contribution_ratio"' in r.text  # summary links to fields
    assert 'value="2024-07-31"' in r.text  # what was typed is kept
    assert _count(db) == 0


def test_another_insurers_number_is_refused_with_a_message(client, world, db):
    _login_insurer(client, world)
    tok = csrf_of(client.get("/insurer").text)
    r = client.post(
        "/insurer/qualifications",
        data={**FULL, "csrf_token": tok, "insurer_number": "01130012", "insurer_name": "協会けんぽ東京支部"},
    )
    assert r.status_code == 403 and "この保険者の番号ではありません" in r.text
    assert _count(db) == 0


def test_the_insurer_screen_is_for_insurer_users_only_and_needs_csrf(client, world, users):
    tok = csrf_of(client.get("/login").text)
    code, login, pw = users["clinic"]
    client.post("/login", data={"csrf_token": tok, "org_code": code, "login": login, "password": pw})
    assert client.get("/insurer").status_code == 403
    client.cookies.clear()
    assert client.get("/insurer", follow_redirects=False).headers["location"].startswith("/login")
    _login_insurer(client, world)
    r = client.post("/insurer/qualifications", data=FULL)
    assert r.status_code == 403 and "不正な送信のため受け付けませんでした" in r.text
    assert client.get("/insurer/qualifications/999999").status_code == 404
