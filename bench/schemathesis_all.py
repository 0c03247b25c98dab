"""schemathesis over every /api/v1 operation as every role, with many examples (the suite's
tests/api/test_schemathesis_roles.py runs the same with 2 per operation).

    .venv/bin/python bench/schemathesis_all.py                          # 50 examples, SQLite
    .venv/bin/python bench/schemathesis_all.py --examples 200 --backend postgresql

Each generated case is sent as each caller of the test's ``ROLES`` (nine roles and no token) to the
app in-process; prints the requests, the answers by status, the 5xx, the undocumented statuses and
the bodies that do not conform to their documented schema, one line per distinct finding. On
PostgreSQL it uses a database of its own, ``fujo_schemathesis`` on 127.0.0.1:5432 (dropped and
made again). Exit code 1 when anything was found."""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from check_bench import drop_database, fresh_database  # noqa: E402

from fujo.api.app import create_app  # noqa: E402
from fujo.cards.ca import CardAuthority  # noqa: E402
from fujo.config import Settings  # noqa: E402
from fujo.db.database import Database  # noqa: E402
from fujo.db.migrate import upgrade  # noqa: E402
from tests.api.test_schemathesis_roles import ROLES, Report, api_operations, run  # noqa: E402
from tests.factories import World  # noqa: E402

PG_DATABASE = "fujo_schemathesis"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--examples", type=int, default=50, help="generated cases per operation (each sent as every role)")
    ap.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    ap.add_argument("--operation", default="", help="only the operations whose path contains this")
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fujo-schemathesis-"))
    try:
        url = fresh_database(a.backend, work, PG_DATABASE)
        db = Database(url)
        upgrade(db)
        ca = CardAuthority.load_or_create(work / "ca")
        world = World(db, ca, work)
        app = create_app(Settings(database_url=url, data_dir=work), db, ca)
        operations = [op for op in api_operations(app) if a.operation in op.path]
        started = time.monotonic()
        report = run(app, world, operations, a.examples, derandomize=False, report=Report())
        took = time.monotonic() - started
        db.dispose()
    finally:
        shutil.rmtree(work, ignore_errors=True)
        drop_database(a.backend, PG_DATABASE)
    print(
        f"schemathesis on {a.backend}, {a.examples} examples per operation, {len(ROLES)} callers,"
        f" {took:.0f} s:\n  {report.summary()}"
    )
    for check, operation, who, status in report.distinct():
        sample = next(f[4] for f in report.failures if f[:4] == (check, operation, who, status))
        print(f"  {check}: {operation} as {who} → {status}: {sample.splitlines()[0] if sample else ''}")
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
