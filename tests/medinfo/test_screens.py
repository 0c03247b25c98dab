"""The 薬剤情報等 screens over HTTP and the PDF print (read back with pdftotext), on SQLite and
PostgreSQL: the clinician's list with the duplicate hint, every refusal on screen, the disaster search
and the administrator's disaster screen."""

from __future__ import annotations

import datetime as dt
import re
import subprocess

import pytest

from fujo.accounts.service import create_user
from fujo.core.dates import today_jst
from tests.medinfo.helpers import AMLODIPINE_OD, OTHER, add, audit_rows, card_check, medication, numbers_check
from tests.web.conftest import csrf_of

TODAY = today_jst()


def _login(client, world, key: str, role: str):
    login = f"{key}-{role}"
    create_user(world.db, world.orgs[key]["id"], login=login, password="pass-123456", display_name=login, role=role)
    tok = csrf_of(client.get("/login").text)
    res = client.post(
        "/login",
        data={"csrf_token": tok, "org_code": world.orgs[key]["code"], "login": login, "password": "pass-123456"},
        follow_redirects=False,
    )
    assert res.status_code == 303


@pytest.fixture
def patient(world):
    r = world.recipient()
    c = world.card(r)
    add(world, "medication", medication(r, TODAY - dt.timedelta(days=10)))
    add(world, "medication", medication(r, TODAY - dt.timedelta(days=3), AMLODIPINE_OD, OTHER, "▲▲クリニック"))
    return r, c


def _q(r):
    return f"payer_number={r['payer_number']}&recipient_number={r['recipient_number']}"


def test_the_clinician_sees_the_list_with_the_duplicate_hint_and_prints_it(world, client, patient, tmp_path):
    r, c = patient
    check = card_check(world, c)
    _login(client, world, "clinic", "clinician")
    assert "照会ID" in client.get("/desk/medinfo").text
    page = client.get(f"/desk/medinfo/medication?check_id={check['CheckId']}")
    assert page.status_code == 200
    assert 'id="duplicate-hint"' in page.text and page.text.count("重複の可能性</span>") == 2
    assert "アムロジピンOD錠5mg" in page.text and "生保一郎" in page.text
    assert audit_rows(world.db)[-1].channel == "web"
    pdf = client.get(f"/desk/medinfo/medication/print?{_q(r)}")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    path = tmp_path / "m.pdf"
    path.write_bytes(pdf.content)
    text = re.sub(
        r"\s+",
        "",
        subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True).stdout,
    )
    assert "薬剤情報" in text and "生保一郎" in text and "アムロジピンOD錠5mg" in text and "重複の可能性" in text
    assert "平成2年1月15日" in text
    assert audit_rows(world.db)[-1].channel == "print"
    # the other categories are tabs of the same patient; no surgery consent was refused here: all bits given
    assert "表示期間内の記録はありません" in client.get(f"/desk/medinfo/surgery?{_q(r)}").text


def test_refusals_are_shown_with_their_reason(world, client, patient):
    r, c = patient
    _login(client, world, "clinic", "clinician")
    page = client.get(f"/desk/medinfo/medication?{_q(r)}")
    assert page.status_code == 403 and 'data-reason="no_consent"' in page.text and "同意がありません" in page.text
    card_check(world, c, key="other")
    numbers_check(world, r)
    page = client.get(f"/desk/medinfo/medication?{_q(r)}")
    assert 'data-reason="other_facility"' in page.text
    assert client.get(f"/desk/medinfo/medication/print?{_q(r)}").status_code == 403
    assert client.get("/desk/medinfo/medication?check_id=abc").status_code == 422
    assert client.get("/desk/medinfo/nothing").status_code == 404


def test_reception_is_refused_for_the_role(world, client, patient):
    r, c = patient
    card_check(world, c)
    _login(client, world, "clinic", "reception")
    assert 'id="role-note"' in client.get("/desk/medinfo").text
    page = client.get(f"/desk/medinfo/medication?{_q(r)}")
    assert page.status_code == 403 and 'data-reason="role"' in page.text


def test_the_disaster_screens(world, client, patient):
    _login(client, world, "admin", "manager")
    page = client.get("/admin/disasters")
    assert page.status_code == 200
    tok = csrf_of(page.text)
    bad = client.post("/admin/disasters", data={"csrf_token": tok, "reason": "", "starts_at": "", "ends_at": ""})
    assert bad.status_code == 422
    res = client.post(
        "/admin/disasters",
        data={
            "csrf_token": tok,
            "reason": "地震",
            "prefectures": "13",
            "starts_at": TODAY.isoformat(),
            "ends_at": TODAY.isoformat(),
        },
        follow_redirects=False,
    )
    assert res.status_code == 303
    assert "実施中" in client.get("/admin/disasters").text
    client.post("/logout", data={"csrf_token": tok})
    _login(client, world, "clinic", "clinician")
    assert 'id="disaster-open"' in client.get("/desk/medinfo").text
    tok = csrf_of(client.get("/desk/medinfo/disaster").text)
    page = client.post(
        "/desk/medinfo/disaster", data={"csrf_token": tok, "name": "生保一郎", "birthdate": "H2.1.15", "sex": "1"}
    )
    assert page.status_code == 200 and "災害時" in page.text and "アムロジピン" in page.text
    assert audit_rows(world.db)[-1].flags == "disaster"
    page = client.post("/desk/medinfo/disaster", data={"csrf_token": tok, "name": "", "birthdate": "", "sex": ""})
    assert page.status_code == 422
    page = client.post(
        "/desk/medinfo/disaster", data={"csrf_token": tok, "name": "別人", "birthdate": "1990-01-15", "sex": "1"}
    )
    assert page.status_code == 404


def test_the_planned_prescription_check_on_the_medication_screen(world, client, patient):
    r, c = patient
    card_check(world, c, key="pharmacy")
    _login(client, world, "pharmacy", "clinician")
    page = client.get(f"/desk/medinfo/medication?{_q(r)}")
    assert 'id="planned-form"' in page.text
    page = client.get(f"/desk/medinfo/medication/overlaps?{_q(r)}&drug_codes=2171022F1020,620000001&days=14")
    assert page.status_code == 200 and 'id="planned-result"' in page.text
    assert "▲▲クリニック" in page.text and "成分が不明の薬剤コード：620000001" in page.text
    assert client.get(f"/desk/medinfo/medication/overlaps?{_q(r)}&drug_codes=x").status_code == 422
