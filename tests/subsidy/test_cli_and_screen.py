"""``fujo subsidy estimate|rules`` (exit codes, options named in refusals) and the administrator's
補助金 screen over HTTP (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from fujo.accounts.service import create_user
from fujo.cli.main import app as cli
from tests.web.conftest import csrf_of


@pytest.fixture
def fujo(monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")
    runner = CliRunner()
    return lambda *args: runner.invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_cli_estimate_text(fujo):
    res = fujo(
        "subsidy",
        "estimate",
        "--kind",
        "clinic",
        "--cost",
        "80,000円",
        "--completed",
        "R5.12.20",
        "--applied",
        "2024-01-10",
    )
    assert res.exit_code == 0, res.output
    out = res.stdout
    assert "補助額（見積り）: 54,750円" in out
    assert "公表の上限「5.4万円」は概数です" in out
    assert "補助の対象は事業額の上限73,000円まで" in out
    assert "[ok] 完了日 令和5年12月20日 は完了期限（令和5年12月31日まで）内です。" in out
    assert "判定: 要件を満たします" in out


def test_cli_a_missed_deadline_exits_1_and_json(fujo):
    res = fujo(
        "subsidy", "estimate", "--kind", "hospital", "--cost", "600000", "--completed", "2024-01-05", "--format", "json"
    )
    assert res.exit_code == 1
    body = json.loads(res.stdout)
    assert body["amount"] == 283_000 and body["eligible"] is False
    assert body["checks"][0]["status"] == "late"
    res = fujo("subsidy", "estimate", "--kind", "chain-pharmacy", "--cost", "7.3万円", "--other-costs", "1000")
    assert res.exit_code == 0  # dates not given: not decided, not refused
    assert "36,500円" in res.stdout and "内訳書" in res.stdout and "判定: 未確定" in res.stdout


def test_cli_bad_input_names_the_options_and_exits_2(fujo):
    res = fujo("subsidy", "estimate", "--kind", "clinics", "--cost", "abc", "--applied", "R6.2.30")
    assert res.exit_code == 2
    err = res.stderr
    assert "--kind: 区分はhospital（病院）" in err and "「clinics」" in err
    assert "--cost: 導入経費（事業額）は円単位の整数で入力してください" in err
    assert "--applied: 申請日「R6.2.30」は存在しない日付です。" in err
    res = fujo("subsidy", "estimate", "--kind", "clinic", "--cost", "1", "--format", "xml")
    assert res.exit_code == 2 and "--format" in res.stderr


def test_cli_rules(fujo):
    res = fujo("subsidy", "rules")
    assert res.exit_code == 0
    assert "2023（令和5年度）" in res.stdout
    assert re.search(r"clinic\s+診療所: 3/4 × 上限 73,000円 = 54,750円、公表「5.4万円」（概数）", res.stdout)
    assert "283,000円、公表「28.3万円」\n" in res.stdout  # exact: no （概数）
    assert json.loads(fujo("subsidy", "rules", "--format", "json").stdout)[0]["fiscal_year"] == 2023


@pytest.fixture
def admin_web(app, world, db):
    create_user(
        db, world.orgs["admin"]["id"], login="op", password="admin-pass-123", display_name="運用", role="manager"
    )
    with TestClient(app) as c:
        tok = csrf_of(c.get("/login").text)
        res = c.post(
            "/login",
            data={"csrf_token": tok, "org_code": "operator", "login": "op", "password": "admin-pass-123"},
            follow_redirects=False,
        )
        assert res.status_code == 303
        yield c


def _text(html: str, id_: str) -> str:
    m = re.search(rf'id="{id_}"[^>]*>(.*?)</(?:strong|dd|ul|section|p)>', html, re.S)
    assert m, id_
    return re.sub(r"<[^>]+>", " ", m.group(1))


def test_screen_estimates_with_wareki_dates_and_says_the_maximum_is_rounded(admin_web):
    page = admin_web.get("/admin/subsidy")
    assert page.status_code == 200 and 'href="/admin/subsidy" aria-current="page"' in page.text
    assert 'id="subsidy-result"' not in page.text
    assert "5.4万円（概数）" in page.text and "28.3万円</td>" in page.text  # the rules table
    res = admin_web.get(
        "/admin/subsidy",
        params={"kind": "pharmacy", "cost": "100000", "completed": "令和5年12月1日", "applied": "R5.12.15"},
    )
    assert res.status_code == 200
    assert _text(res.text, "subsidy-amount") == "54,750円"
    assert _text(res.text, "subsidy-eligible").strip() == "要件を満たします"
    notes = _text(res.text, "subsidy-notes")
    assert "公表の上限「5.4万円」は概数です" in notes and "交付元に確認してください" in notes
    assert "令和5年12月1日（2023-12-01）" in res.text  # the date entry's reading


def test_screen_names_each_wrong_field(admin_web):
    res = admin_web.get("/admin/subsidy", params={"kind": "", "cost": "たくさん", "applied": "2024-13-01"})
    assert res.status_code == 422
    assert 'id="subsidy-result"' not in res.text
    for field, says in (
        ("kind", "区分はhospital（病院）"),
        ("cost", "円単位の整数で入力してください"),
        ("applied", "申請日「2024-13-01」は存在しない日付です。"),
    ):
        m = re.search(rf'id="f-{field}-error"[^>]*>([^<]*)<', res.text)
        assert m and says in m.group(1), field
    assert 'value="たくさん"' in res.text  # what was typed stays


def test_screen_is_the_administrators(app, world, db):
    create_user(
        db, world.orgs["clinic"]["id"], login="cl", password="clinic-pass-123", display_name="受付", role="manager"
    )
    with TestClient(app) as c:
        tok = csrf_of(c.get("/login").text)
        c.post(
            "/login",
            data={
                "csrf_token": tok,
                "org_code": world.orgs["clinic"]["code"],
                "login": "cl",
                "password": "clinic-pass-123",
            },
        )
        res = c.get("/admin/subsidy")
        assert res.status_code == 403 and 'href="/admin/subsidy"' not in res.text
    with TestClient(app) as c:
        assert c.get("/admin/subsidy", follow_redirects=False).headers["location"].startswith("/login")
