"""kill -9 of a CSV import half-way: all or nothing, on SQLite and PostgreSQL.

`fujo import recipients FILE --office …` runs in its own process on a file of a few thousand rows;
it is killed (SIGKILL) once it has written the first 1,000 of 3,000 rows inside its transaction,
and once it has written the last ones (the commit is under way). Afterwards the file's recipients
are all there or none is, their audit entries with them, the audit chain verifies, and the database
takes the next import at once (no lock left behind). Figures are printed (``-s``) for
docs/RELIABILITY.md; nothing here asserts a duration."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import text

from fujo.audit.verify import verify
from fujo.core.numbers import with_check_digit
from fujo.registry.csv_import import import_csv
from tests.factories import PAYER, World

ROWS = 3000  # written in batches of 1,000
HEADER = (
    "payer_number,recipient_number,name,name_kana,sex,birthdate,address,post_number,"
    "qualification_date,disqualification_date,disqualification_kind"
)

# The real CLI command in a process of its own; the only addition is a line on stderr each time the
# import has written a batch (the progress callback the CLI's progress bar is driven by), so the test
# knows where the import is when it kills it.
DRIVER = """
import os, sys
from fujo.registry import csv_import
real = csv_import.import_csv
def reporting(db, principal, kind, data, progress=None):
    def step(done, total):
        os.write(2, f"written {done} {total}\\n".encode())
        if progress:
            progress(done, total)
    return real(db, principal, kind, data, progress=step)
csv_import.import_csv = reporting
from fujo.cli.main import app
app(sys.argv[1:], prog_name="fujo")
"""


def _file(first: int, rows: int = ROWS) -> tuple[bytes, list[str]]:
    numbers = [with_check_digit(str(first + i)) for i in range(rows)]
    lines = [f"{PAYER},{n},生保一郎,ｾｲﾎ ｲﾁﾛｳ,1,1990-01-15,東京都○○市1-2-3,100-0001,2020-04-01,," for n in numbers]
    return ("\r\n".join([HEADER, *lines]) + "\r\n").encode(), numbers


def _counts(db, numbers: list[str]) -> tuple[int, int, int]:
    """(recipients of the file, their audit entries, all audit entries)."""
    with db.read() as c:
        ids = [
            r.id
            for r in c.execute(
                text("SELECT id, recipient_number FROM recipients WHERE payer_number = :p"), {"p": PAYER}
            )
            if r.recipient_number in set(numbers)
        ]
        entries = c.execute(
            text("SELECT count(*) FROM check_log WHERE reason = 'recipient.create' AND detail = 'import'")
        ).scalar()
        total = c.execute(text("SELECT count(*) FROM check_log")).scalar()
    return len(ids), entries, total


@pytest.mark.parametrize("kill_at", ["first batch written", "last batch written"])
def test_kill_9_of_an_import_leaves_all_or_nothing(world: World, db, tmp_path, kill_at):
    world.recipient()  # the office has a recipient already (and the chain some entries)
    data, numbers = _file(300_000)
    path = tmp_path / "recipients.csv"
    path.write_bytes(data)
    _, _, entries_before = _counts(db, numbers)
    env = {**os.environ, "FUJO_DATABASE_URL": db.url, "FUJO_DATA_DIR": str(tmp_path)}
    cmd = [sys.executable, "-c", DRIVER, "import", "recipients", str(path), "--office", "13001"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    started = time.monotonic()
    killed_after = None
    try:
        assert proc.stderr is not None
        for raw in proc.stderr:
            line = raw.decode(errors="replace").split()
            if line[:1] != ["written"]:
                continue
            done, total = int(line[1]), int(line[2])
            if (done == total) if kill_at == "last batch written" else (done >= 1000):
                os.kill(proc.pid, signal.SIGKILL)  # mid-flight: the import goes on writing meanwhile
                killed_after = (done, time.monotonic() - started)
                break
    finally:
        proc.kill()
        proc.wait(30)
    assert killed_after is not None, "the import never reported a written batch"
    if kill_at == "first batch written":
        assert proc.returncode == -signal.SIGKILL  # it was killed with 2,000 rows still to write
    rows, entries, entries_after = _counts(db, numbers)
    outcome = "all" if rows == ROWS else "nothing" if rows == 0 else f"{rows} of {ROWS}"
    assert outcome in ("all", "nothing"), outcome
    assert entries == rows and entries_after == entries_before + rows  # the audit trail went with the rows
    report = verify(db)
    assert report.ok, report.problem

    # the database takes the next import at once: the killed one left no lock behind
    again = time.monotonic()
    more, more_numbers = _file(310_000, 10)
    assert import_csv(db, world.principal("office"), "recipients", more).written == 10
    next_took = time.monotonic() - again
    assert _counts(db, more_numbers)[0] == 10 and verify(db).ok
    print(
        f"\n{db.engine.dialect.name}: import of {ROWS:,} recipients killed (-9) once {killed_after[0]} rows were written"
        f" ({killed_after[1]:.2f} s after start, exit {proc.returncode}): {outcome} of the file is there,"
        f" {entries_after - entries_before} audit entries with it; chain verifies;"
        f" the next import (10 rows) took {next_took * 1000:.0f} ms"
    )
