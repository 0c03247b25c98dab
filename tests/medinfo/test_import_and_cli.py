"""CSV import of 薬剤情報等 (all or nothing, row + field in every error) and the ``fujo medinfo`` commands,
on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from fujo.cli.main import app
from fujo.core.dates import today_jst
from fujo.core.numbers import with_check_digit
from fujo.db import schema
from fujo.medinfo import csv_import
from fujo.registry.csv_import import ImportFailed
from tests.factories import CLINIC, PAYER

NOBODY = with_check_digit("999998")  # a 受給者番号 the factories never give
HEADER = (
    "payer_number,recipient_number,date,facility_code,facility_name,drug_code,drug_name,ingredient,dose,days,quantity\n"
)


def _count(db) -> int:
    with db.read() as conn:
        return conn.execute(select(func.count()).select_from(schema.medinfo_records)).scalar()


def _line(r, on="2026-10-01", code="2171022F1020", days="28"):
    return f"{r['payer_number']},{r['recipient_number']},{on},{CLINIC},●●医療機関,{code},アムロジピン錠5mg,アムロジピンベシル酸塩,1日1回,{days},28\n"


def test_a_good_file_is_written_whole_with_progress(world):
    r = world.recipient()
    seen = []
    data = (HEADER + _line(r) + _line(r, "2026-11-01")).encode("cp932")  # Shift_JIS is read too
    report = csv_import.import_csv(
        world.db, world.principal("office"), "medication", data, progress=lambda d, t: seen.append((d, t))
    )
    assert report.written == 2 and seen[-1] == (2, 2) and _count(world.db) == 2


def test_one_bad_row_refuses_the_whole_file_naming_row_and_field(world):
    r = world.recipient()
    data = (
        HEADER
        + _line(r)
        + _line(r, "2026-13-01", code="x", days="0")
        + _line({"payer_number": PAYER, "recipient_number": NOBODY})
    ).encode()
    with pytest.raises(ImportFailed) as e:
        csv_import.import_csv(world.db, world.principal("office"), "medication", data)
    errors = {(x.row, x.field) for x in e.value.report.errors}
    assert {(3, "date"), (3, "drug_code"), (3, "days")} <= errors
    assert _count(world.db) == 0
    # the unknown recipient is found once the rows are valid, and still nothing is written
    data = (HEADER + _line(r) + _line({"payer_number": PAYER, "recipient_number": NOBODY})).encode()
    with pytest.raises(ImportFailed) as e:
        csv_import.import_csv(world.db, world.principal("office"), "medication", data)
    assert [(x.row, x.field) for x in e.value.report.errors] == [(3, "recipient_number")]
    assert _count(world.db) == 0


def test_another_offices_recipients_and_bad_headers_are_refused(world):
    r = world.recipient()
    with pytest.raises(ImportFailed) as e:
        csv_import.import_csv(world.db, world.principal("office2"), "medication", (HEADER + _line(r)).encode())
    assert e.value.report.errors[0].field == "payer_number"
    from fujo.core.errors import Forbidden, ValidationFailed

    with pytest.raises(ValidationFailed):
        csv_import.import_csv(world.db, world.principal("office"), "medication", b"payer_number,nonsense\n")
    with pytest.raises(ValidationFailed):
        csv_import.import_csv(world.db, world.principal("office"), "nothing", HEADER.encode())
    with pytest.raises(Forbidden):
        csv_import.import_csv(world.db, world.principal("clinic"), "medication", HEADER.encode())


@pytest.fixture
def fujo(db, tmp_path, monkeypatch):
    monkeypatch.setenv("FUJO_DATABASE_URL", db.url)
    monkeypatch.setenv("FUJO_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("COLUMNS", "400")
    runner = CliRunner()
    return lambda *args: runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def test_the_commands_import_restrict_and_open_and_close_the_disaster_mode(world, fujo, tmp_path):
    r = world.recipient()
    f = tmp_path / "meds.csv"
    f.write_text(HEADER + _line(r), encoding="utf-8")
    res = fujo("medinfo", "import", "medication", f, "--office", "13001")
    assert res.exit_code == 0 and "1件を取り込みました" in res.output
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + _line(r, days="x"), encoding="utf-8")
    res = fujo("medinfo", "import", "medication", bad, "--office", "13001")
    assert res.exit_code == 2 and "行2 days" in res.output
    res = fujo(
        "medinfo", "restrict", "--office", "13001", "--payer", r["payer_number"], "--recipient", r["recipient_number"]
    )
    assert res.exit_code == 0 and '"restricted": true' in res.output
    res = fujo(
        "medinfo",
        "restrict",
        "--office",
        "13001",
        "--payer",
        r["payer_number"],
        "--recipient",
        r["recipient_number"],
        "--lift",
    )
    assert '"restricted": false' in res.output
    today = today_jst()
    res = fujo(
        "medinfo",
        "disaster-open",
        "--reason",
        "地震",
        "--from",
        today,
        "--to",
        today,
        "--prefecture",
        "17",
        "--municipality",
        "石川県輪島市",
    )
    assert res.exit_code == 0 and '"in_force": true' in res.output
    opening = res.output.split('"id": ')[1].split(",")[0]
    res = fujo("medinfo", "disaster-close", opening)
    assert res.exit_code == 0 and '"in_force": false' in res.output
    assert "地震" in fujo("medinfo", "disaster-list").output
    assert fujo("medinfo", "disaster-open", "--reason", "x", "--from", today, "--to", today).exit_code == 2
