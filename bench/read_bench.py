"""The reads of a check by numbers, in-process (`prepare_numbers_check`: no HTTP, no audit record), and
how many SQL statements each issues — the part of a check that the database's round trips decide.

    .venv/bin/python bench/read_bench.py --backend postgresql
    .venv/bin/python bench/read_bench.py --backend sqlite

Seeds 20,000 recipients with their tickets as bench/check_bench.py does (a throw-away database), then
times 3,000 checks of random recipients (half designated to the clinic, half to another facility)
and prints p50, mean and the statements a check."""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from check_bench import CLINIC, fresh_database, payer_of, recipient_of, seed  # noqa: E402
from sqlalchemy import event  # noqa: E402

from fujo.auth.principal import FACILITY  # noqa: E402
from fujo.db.database import Database  # noqa: E402
from fujo.db.migrate import upgrade  # noqa: E402
from fujo.eligibility.service import prepare_numbers_check  # noqa: E402
from fujo.orgs.service import principal_for  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    ap.add_argument("--recipients", type=int, default=20_000)
    ap.add_argument("--checks", type=int, default=3_000)
    a = ap.parse_args()
    db = Database(fresh_database(a.backend, Path(tempfile.mkdtemp(prefix="fujo-read-"))))
    upgrade(db)
    seed(db, a.recipients)
    p = principal_for(db, kind=FACILITY, code=CLINIC)
    statements = 0

    @event.listens_for(db.engine, "before_cursor_execute")
    def count(*_: object) -> None:
        nonlocal statements
        statements += 1

    rng, lat = random.Random(1), []
    for _ in range(a.checks):
        i = rng.randrange(a.recipients)
        t0 = time.perf_counter()
        out, _row = prepare_numbers_check(
            db,
            p,
            insurer_number=payer_of(i),
            identification_number=recipient_of(i),
            birthdate="1960-01-01",
            confirmation_date="2024-07-10",
        )
        lat.append(time.perf_counter() - t0)
        assert out["QualificationValidity"] == ("1" if i % 2 == 0 else "6")
    lat.sort()
    print(
        f"{a.backend}: p50 {lat[len(lat) // 2] * 1e3:.3f} ms, mean {statistics.mean(lat) * 1e3:.3f} ms, "
        f"{statements / a.checks:.2f} statements a check"
    )


if __name__ == "__main__":
    main()
