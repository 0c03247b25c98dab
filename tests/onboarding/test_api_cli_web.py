"""The checklist through the API (multipart steps), ``fujo onboarding show|advance`` and the screens: a
facility's 管理者 walks its own checklist, the administrator lists every facility and advances any.
SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from fujo.cli.main import app as cli
from fujo.onboarding import service
from fujo.onboarding.service import STEPS
from fujo.terminal.cases import CASES
from tests.factories import CLINIC
from tests.onboarding.conftest import NEW, report
from tests.web.conftest import signed_in

KEYS = [st.key for st in STEPS]


def _advance_all(db, principal, code, upto):
    for key in KEYS[: KEYS.index(upto) + 1]:
        service.advance(db, principal, code, key, report=report() if key == "acceptance_test" else None)


# --- API ------------------------------------------------------------------------------------------


def test_api_facility_walks_its_checklist(client, world, new_facility):
    from fujo.orgs.service import issue_credential

    manager = {
        "Authorization": "Bearer " + issue_credential(world.db, new_facility["id"], label="t", role="manager")["token"]
    }
    reception = {
        "Authorization": "Bearer "
        + issue_credential(world.db, new_facility["id"], label="r", role="reception")["token"]
    }
    res = client.get(f"/api/v1/onboarding/{NEW}", headers=reception)
    assert res.status_code == 200 and res.json()["next_step"] == "estimate" and res.json()["can_advance"] is False
    res = client.post(f"/api/v1/onboarding/{NEW}/steps/estimate", headers=reception)
    assert res.status_code == 403 and res.json()["error"]["code"] == "forbidden"
    res = client.post(f"/api/v1/onboarding/{NEW}/steps/order", headers=manager)
    assert res.status_code == 409 and res.json()["error"]["code"] == "onboarding_order"
    assert "先に「見積り」を完了してください" in res.json()["error"]["message_ja"]
    res = client.post(f"/api/v1/onboarding/{NEW}/steps/estimate", headers=manager, data={"note": "見積り受領"})
    assert res.status_code == 200, res.text
    assert (
        res.json()["steps"][0]["note"] == "見積り受領"
        and res.json()["steps"][0]["done_by"] == "APIトークン t（管理者）"
    )
    for key in ("order", "package"):
        assert client.post(f"/api/v1/onboarding/{NEW}/steps/{key}", headers=manager).status_code == 200
    res = client.post(
        f"/api/v1/onboarding/{NEW}/steps/acceptance_test",
        headers=manager,
        files={"report": ("vendor-test.xml", report(failed=("lost",)), "application/xml")},
    )
    assert res.status_code == 422
    (f,) = res.json()["error"]["fields"]
    assert (f["field"], f["code"]) == ("report", "test_failed") and "lost" in f["message_ja"]
    res = client.post(
        f"/api/v1/onboarding/{NEW}/steps/acceptance_test",
        headers=manager,
        files={"report": ("vendor-test.xml", report(), "application/xml")},
    )
    assert res.status_code == 200 and res.json()["steps"][3]["report"]["passed"] is True
    for key in ("reception", "subsidy", "go_live"):
        res = client.post(f"/api/v1/onboarding/{NEW}/steps/{key}", headers=manager)
        assert res.status_code == 200, res.text
    assert res.json()["completed"] is True and res.json()["medical_assistance_enabled"] is True
    settings = client.get("/api/v1/facility/settings", headers=manager).json()
    assert settings["medical_assistance_enabled"] is True
    # another facility's checklist, the administrator's list
    assert client.get(f"/api/v1/onboarding/{CLINIC}", headers=manager).status_code == 403
    assert client.get("/api/v1/onboarding", headers=manager).status_code == 403


def test_api_administrator(client, world, new_facility):
    admin = world.auth("admin")
    rows = client.get("/api/v1/onboarding", headers=admin).json()
    assert {r["facility_code"] for r in rows} >= {NEW, CLINIC} and all(r["done"] == 0 for r in rows)
    res = client.post(f"/api/v1/onboarding/{NEW}/steps/estimate", headers=admin)
    assert res.status_code == 200 and res.json()["steps"][0]["done_by"] == "APIトークン test（運用管理者）"
    assert client.get(f"/api/v1/onboarding/{NEW}", headers=admin).json()["done"] == 1
    assert (
        client.post(f"/api/v1/onboarding/{NEW}/steps/nope", headers=admin).json()["error"]["fields"][0]["field"]
        == "step"
    )
    assert client.get("/api/v1/onboarding/1311299984", headers=admin).status_code == 404
    assert client.get("/api/v1/onboarding", headers=world.auth("office")).status_code == 403
    assert client.get(f"/api/v1/onboarding/{NEW}").status_code == 401


# --- CLI ------------------------------------------------------------------------------------------


@pytest.fixture
def fujo(db, tmp_path, monkeypatch):
    monkeypatch.setenv("FUJO_DATABASE_URL", db.url)
    monkeypatch.setenv("FUJO_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("COLUMNS", "400")
    runner = CliRunner()
    return lambda *args: runner.invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_cli_show_and_advance(fujo, world, new_facility, tmp_path):
    res = fujo("onboarding", "show")
    assert res.exit_code == 0 and f"{NEW} 新規クリニック  0/7  次: 見積り" in res.stdout
    res = fujo("onboarding", "advance", "order", "--facility", NEW)
    assert res.exit_code == 2 and "先に「見積り」を完了してください" in res.stderr
    res = fujo("onboarding", "advance", "estimate", "--facility", NEW, "--note", "見積書受領")
    assert res.exit_code == 0, res.output
    assert "1. 見積り（estimate） 完了 " in res.stdout and "運用管理者（CLI）" in res.stdout
    assert "メモ: 見積書受領" in res.stdout and "次の手順: 発注（order）" in res.stdout
    for key in ("order", "package"):
        assert fujo("onboarding", "advance", key, "--facility", NEW).exit_code == 0
    bad = tmp_path / "failed.xml"
    bad.write_bytes(report(failed=("echo",)))
    res = fujo("onboarding", "advance", "acceptance_test", "--facility", NEW, "--report", bad)
    assert res.exit_code == 2 and "--report: 運用テストに合格していないケースがあります（1件: echo）" in res.stderr
    good = tmp_path / "vendor-test.xml"
    good.write_bytes(report())
    res = fujo("onboarding", "advance", "acceptance_test", "--facility", NEW, "--report", good)
    assert res.exit_code == 0 and f"運用テスト: {len(CASES)}ケース合格" in res.stdout
    body = json.loads(fujo("onboarding", "show", "--facility", NEW, "--format", "json").stdout)
    assert body["next_step"] == "reception" and body["steps"][3]["report"]["passed"] is True
    res = fujo("onboarding", "advance", "estimate", "--facility", "123")
    assert res.exit_code == 2 and "--facility" in res.stderr
    res = fujo("onboarding", "advance", "bogus", "--facility", NEW)
    assert res.exit_code == 2 and "STEP: 手順はestimate（見積り）" in res.stderr


# --- screens --------------------------------------------------------------------------------------


def _row(html: str, step: str) -> str:
    m = re.search(rf'<tr id="step-{step}"[^>]*>(.*?)</tr>', html, re.S)
    assert m, step
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", m.group(1)))


def test_screen_facility_manager_walks_the_checklist(app, db, world, new_facility):
    c, csrf = signed_in(app, db, new_facility, "boss", "manager")
    page = c.get("/desk/onboarding").text
    assert 'href="/desk/onboarding" aria-current="page"' in page  # in the menu
    assert "次の手順" in _row(page, "estimate") and "「見積り」を完了にする</button>" in page
    res = c.post("/desk/onboarding/estimate", data={"csrf_token": csrf, "note": "A社に依頼"}, follow_redirects=True)
    assert res.status_code == 200 and "「見積り」を完了にしました。" in res.text
    row = _row(res.text, "estimate")
    assert "完了" in row and "boss（管理者）" in row and "メモ：A社に依頼" in row and "令和" in row
    res = c.post("/desk/onboarding/package", data={"csrf_token": csrf})  # skipping: refused on the page
    assert res.status_code == 409 and "先に「発注」を完了してください。" in res.text
    assert c.post("/desk/onboarding/estimate", data={"note": "no csrf"}).status_code == 403
    for key in ("order", "package"):
        assert c.post(f"/desk/onboarding/{key}", data={"csrf_token": csrf}).status_code == 200
    page = c.get("/desk/onboarding").text
    assert 'name="report" type="file"' in page  # the acceptance test asks for the report
    res = c.post(
        "/desk/onboarding/acceptance_test",
        data={"csrf_token": csrf},
        files={"report": ("vendor-test.xml", report(only=("designated",)), "application/xml")},
    )
    assert res.status_code == 422
    assert re.search(r'id="f-report-error"[^>]*>[^<]*含まれていないケースがあります', res.text)
    res = c.post(
        "/desk/onboarding/acceptance_test",
        data={"csrf_token": csrf},
        files={"report": ("vendor-test.xml", report(), "application/xml")},
        follow_redirects=True,
    )
    assert f"運用テスト：全{len(CASES)}ケース合格" in _row(res.text, "acceptance_test")
    for key in ("reception", "subsidy"):
        c.post(f"/desk/onboarding/{key}", data={"csrf_token": csrf})
    page = c.get("/desk/onboarding").text
    assert 'id="go-live-hint"' in page and 'id="medical-assistance-state">利用しない<' in page
    res = c.post("/desk/onboarding/go_live", data={"csrf_token": csrf}, follow_redirects=True)
    assert 'id="medical-assistance-state">利用する<' in res.text and 'id="onboarding-complete"' in res.text
    assert 'id="medical-assistance-state">利用する<' in c.get("/desk/settings").text


def test_screen_reception_reads_only(app, db, world, new_facility):
    c, csrf = signed_in(app, db, new_facility, "desk1", "reception")
    page = c.get("/desk/onboarding")
    assert page.status_code == 200 and 'id="onboarding-readonly"' in page.text and 'id="advance-form"' not in page.text
    assert 'href="/desk/onboarding"' not in c.get("/desk").text  # the menu shows it to the 管理者 only
    assert c.post("/desk/onboarding/estimate", data={"csrf_token": csrf}).status_code == 403


def test_screen_administrator_list_and_any_checklist(app, db, world, new_facility):
    _advance_all(db, world.principal("clinic"), None, "acceptance_test")
    c, csrf = signed_in(app, db, world.orgs["admin"], "op", "manager")
    page = c.get("/admin/onboarding").text
    row = re.sub(
        r"\s+", " ", re.sub(r"<[^>]+>", " ", re.search(rf'<tr id="facility-{CLINIC}">(.*?)</tr>', page, re.S).group(1))
    )
    assert "●●医療機関 4/7 受付業務の確認 利用する" in row
    assert f'href="/admin/onboarding/{NEW}"' in page and 'id="completed-count">0<' in page
    detail = c.get(f"/admin/onboarding/{NEW}").text
    assert (
        "新規クリニック（医療機関コード 1311555559）" in detail
        and 'action="/admin/onboarding/1311555559/estimate"' in detail
    )
    res = c.post(
        f"/admin/onboarding/{NEW}/estimate", data={"csrf_token": csrf, "note": "電話で確認"}, follow_redirects=True
    )
    assert "op（運用管理者）" in _row(res.text, "estimate")
    assert c.get("/admin/onboarding/1311299984").status_code == 404
    office, _ = signed_in(app, db, world.orgs["office"], "ofc", "manager")
    assert office.get("/admin/onboarding").status_code == 403
    assert office.get("/desk/onboarding").status_code == 403


def test_answers_validate_against_the_published_schema(client, world, new_facility):
    from tests.api.test_openapi_contracts import Contract

    contract, admin = Contract(client), world.auth("admin")
    contract.call("GET", "/onboarding", expect=200, headers=admin)
    contract.call("GET", f"/onboarding/{NEW}", route="/onboarding/{facility_code}", expect=200, headers=admin)
    route = "/onboarding/{facility_code}/steps/{step}"
    for key in KEYS:
        files = {"report": ("vendor-test.xml", report(), "application/xml")} if key == "acceptance_test" else None
        contract.call("POST", f"/onboarding/{NEW}/steps/{key}", route=route, expect=200, headers=admin, files=files)
    contract.call("POST", f"/onboarding/{NEW}/steps/estimate", route=route, expect=409, headers=admin)
    contract.call("POST", f"/onboarding/{NEW}/steps/x", route=route, expect=422, headers=admin)
    contract.call(
        "GET", f"/onboarding/{NEW}", route="/onboarding/{facility_code}", expect=403, headers=world.auth("clinic")
    )
    done = contract.call("GET", "/onboarding", expect=200, headers=admin).json()
    assert next(r for r in done if r["facility_code"] == NEW)["completed"] is True
