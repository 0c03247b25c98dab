"""``fujo claims check``: the readable report, CSV and JSON, and the exit codes (SQLite and PostgreSQL)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from fujo.cli.main import app
from tests.claims.test_claims import DATA, july_world
from tests.factories import CLINIC


@pytest.fixture
def fujo(db, tmp_path, monkeypatch):
    monkeypatch.setenv("FUJO_DATABASE_URL", db.url)
    monkeypatch.setenv("FUJO_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("COLUMNS", "400")
    runner = CliRunner()
    return lambda *args: runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def test_text_report_says_what_is_wrong_and_what_to_do(fujo, world):
    july_world(world)
    res = fujo("claims", "check", DATA / "facility_july.uke", "--facility", CLINIC)
    assert res.exit_code == 1  # claims with errors
    out = res.stdout
    assert "7行目 令和6年7月 生保二郎 12130019/1000025  【要修正】" in out
    assert (
        "令和6年7月の医療券がこの医療機関に発行されていません（未委託）。○○市福祉事務所（03-0000-0000）に医療券の発行を依頼してください。"
        in out
    )
    assert "【問題なし】" not in out  # claims without findings are listed with --all only
    assert "レセプト 16件（医療扶助 15件）: 要修正 8件 / 要確認 5件 / 問題なし 2件" in out


def test_json_and_csv_output(fujo, world):
    july_world(world)
    res = fujo("claims", "check", DATA / "facility_july.uke", "--facility", CLINIC, "--format", "json")
    body = json.loads(res.stdout[res.stdout.index("{") :])
    assert body["counts"]["assistance"] == 15
    res = fujo("claims", "check", DATA / "facility_july.uke", "--facility", CLINIC, "--format", "csv")
    rows = [x for x in res.stdout.splitlines() if x.startswith(("行,", "7,"))]
    assert rows[0].startswith("行,レセプト番号") and "not_designated" in rows[1]


def test_office_option_and_a_broken_file(fujo, world):
    july_world(world)
    res = fujo("claims", "check", DATA / "office.uke", "--office", "13001")
    assert "未請求" in res.stdout and "未請求の医療券" in res.stdout
    res = fujo("claims", "check", DATA / "ko_before_re.uke", "--facility", CLINIC)
    assert res.exit_code == 2
    assert "2行目 KO" in res.output and "REレコード" in res.output
