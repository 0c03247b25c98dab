"""``fujo claims check``: the readable report, CSV and JSON, and the exit codes (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import io
import json

import pytest
from rich.progress import Progress
from typer.testing import CliRunner

from fujo.cli.main import app
from tests.claims.test_claims import CSV_COLUMNS, DATA, assert_csv_is_the_report, july_world, more_world
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
    assert "レセプト 16件（医療扶助 15件）: 要修正 8件 / 要確認 4件 / 問題なし 3件" in out


def test_json_and_csv_output(fujo, world):
    july_world(world)
    res = fujo("claims", "check", DATA / "facility_july.uke", "--facility", CLINIC, "--format", "json")
    body = json.loads(res.stdout)  # stdout is the report and nothing else
    assert body["counts"]["assistance"] == 15 and res.exit_code == 1
    res = fujo("claims", "check", DATA / "facility_july.uke", "--facility", CLINIC, "--format", "csv")
    rows = assert_csv_is_the_report(res.stdout, body, bom=False)  # no BOM on a terminal or in a pipe
    b = next(r for r in rows if r["行"] == "7")
    assert (b["判定"], b["コード"], b["氏名"]) == ("要修正", "not_designated", "生保二郎")
    f = next(r for r in rows if r["行"] == "20")  # F: cancelled, with the revision and its time
    assert (f["コード"], f["医療券の版"]) == ("ticket_cancelled", "2") and f["変更日時"].startswith("20")


class _Recorded(Progress):
    """rich's Progress, recording what the check feeds it (the task's total, each completed count)."""

    seen: dict = {}

    def add_task(self, description, *args, total=None, **kw):
        _Recorded.seen.update(description=description, total=total, completed=[])
        return super().add_task(description, *args, total=total, **kw)

    def update(self, task_id, *args, completed=None, **kw):
        if completed is not None:
            _Recorded.seen["completed"].append(completed)
        super().update(task_id, *args, completed=completed, **kw)


@pytest.mark.parametrize("output", ["json", "csv"])
def test_progress_is_reported_and_never_mixed_into_the_report(fujo, world, tmp_path, monkeypatch, output):
    """A month of 500 claims (2,502 records): the bar is fed the bytes read every 2,000 records and at
    the end (= the file's size, its total). It is drawn on stderr — even when rich believes both streams
    are terminals, stdout carries the CSV or JSON only."""
    from rich.console import Console

    from fujo.claims import cli as claims_cli
    from tests.claims.generate import uke_lines

    chunks = list(uke_lines(500))
    path = tmp_path / "RECEIPTC.UKE"
    path.write_bytes(b"".join(chunks))
    monkeypatch.setattr(claims_cli, "Progress", _Recorded)
    monkeypatch.setattr(claims_cli, "console", Console(force_terminal=True, width=120))
    monkeypatch.setattr(claims_cli, "err_console", Console(stderr=True, force_terminal=True, width=120))
    res = fujo("claims", "check", path, "--facility", CLINIC, "--format", output)
    assert res.exit_code == 1  # the numbers are nobody's: errors
    seen = _Recorded.seen
    assert seen["description"] == "checking RECEIPTC.UKE" and seen["total"] == path.stat().st_size
    assert seen["completed"] == [sum(map(len, chunks[:2000])), path.stat().st_size]
    assert "checking" not in res.stdout and "\x1b" not in res.stdout
    if output == "json":
        assert json.loads(res.stdout)["counts"]["claims"] == 500
    else:
        assert res.stdout.startswith(",".join(CSV_COLUMNS) + "\n")  # (click's result shows CR LF as LF)
        assert len(list(csv.DictReader(io.StringIO(res.stdout)))) == 500
    assert "checking RECEIPTC.UKE" in res.stderr  # the bar, where it belongs


def test_written_at_option(fujo, world):
    more_world(world)
    res = fujo("claims", "check", DATA / "facility_more.uke", "--facility", CLINIC, "--written-at", "令和6年8月5日")
    assert res.exit_code == 1
    out = res.stdout
    assert "レセプトの作成日時: 令和6年8月5日 00:00（この後の医療券の取消・変更を表示）" in out
    assert "12行目 令和6年7月 生保二十郎 12130019/1000207  【要確認】" in out
    assert "  ・医療券はレセプトの作成（令和6年8月5日 00:00）の後、令和6年8月6日 15:00に変更されています" in out
    assert "生保二十一子" not in out  # W: amended before — for reference, listed with --all only
    res = fujo("claims", "check", DATA / "facility_more.uke", "--facility", CLINIC, "--written-at", "R6.8.5", "--all")
    assert (
        "  ・（参考）医療券の変更（第2版、令和6年8月1日 10:00）はレセプトの作成（令和6年8月5日 00:00）より前です。"
        in res.stdout
    )
    res = fujo("claims", "check", DATA / "facility_more.uke", "--facility", CLINIC, "--written-at", "2024-08-32")
    assert res.exit_code == 2
    assert "--written-at: --written-at（レセプトの作成日時）「2024-08-32」は存在しない日付です。" in res.stderr


def test_office_option_and_a_broken_file(fujo, world):
    july_world(world)
    res = fujo("claims", "check", DATA / "office.uke", "--office", "13001")
    assert "未請求" in res.stdout and "未請求の医療券" in res.stdout
    res = fujo("claims", "check", DATA / "ko_before_re.uke", "--facility", CLINIC)
    assert res.exit_code == 2
    assert "2行目 KO" in res.output and "REレコード" in res.output
