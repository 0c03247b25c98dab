"""The reads of a check by numbers, in-process (`prepare_numbers_check`: no HTTP, no audit record), and
how many SQL statements each issues — the part of a check that the database's round trips decide.

    .venv/bin/python bench/read_bench.py --backend postgresql
    .venv/bin/python bench/read_bench.py --backend sqlite

Seeds 20,000 recipients with their tickets as bench/check_bench.py does (a throw-away database), then
times 3,000 checks of random recipients (half designated to the clinic, half to another facility)
and prints p50, mean and the statements a check."""

from __future__ import annotations

import argparse
import atexit
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from check_bench import fresh_database, in_process, seed  # noqa: E402
from sqlalchemy import event  # noqa: E402

from fujo.db.database import Database  # noqa: E402
from fujo.db.migrate import upgrade  # noqa: E402
from fujo.eligibility.service import prepare_numbers_check  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    ap.add_argument("--recipients", type=int, default=20_000)
    ap.add_argument("--checks", type=int, default=3_000)
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fujo-read-"))
    atexit.register(shutil.rmtree, work, True)  # the SQLite file: not kept
    db = Database(fresh_database(a.backend, work))
    upgrade(db)
    seed(db, a.recipients)
    statements, inside = 0, False

    @event.listens_for(db.engine, "before_cursor_execute")
    def count(*_: object) -> None:
        nonlocal statements
        statements += inside  # only those of the checks' reads

    def reads(*args: object, **kw: object) -> dict:
        nonlocal inside
        inside = True
        try:
            return prepare_numbers_check(*args, **kw)[0]  # type: ignore[arg-type]
        finally:
            inside = False

    got = in_process(db, a.recipients, a.checks, reads)
    print(
        f"{a.backend}: p50 {got['p50_ms']:.3f} ms, mean {got['mean_ms']:.3f} ms, "
        f"{statements / a.checks:.2f} statements a check"
    )


if __name__ == "__main__":
    main()
