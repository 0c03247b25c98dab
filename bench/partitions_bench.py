"""The tickets' monthly partitions against one table (issue 12): the check's read and the change feed,
in-process, on a `fujo synth` PostgreSQL database with a year of history.

    git worktree add /tmp/fujo-A 2463415                     # a tree from before the partitions
    (cd /tmp/fujo-A && FUJO_DATABASE_URL=…/fujo_part_a .venv/bin/fujo init)   # its schema: one table
    FUJO_DATABASE_URL=…/fujo_part_b .venv/bin/fujo init                         # this tree: partitioned
    .venv/bin/fujo synth --recipients 100000 --offices 100 --facilities 10000 --real-cards 0 --database-url …   # each
    PYTHONPATH=/tmp/fujo-A .venv/bin/python bench/partitions_bench.py --database-url …/fujo_part_a
    .venv/bin/python bench/partitions_bench.py --database-url …/fujo_part_b

(run the two in turn, several times: PYTHONPATH decides which tree's ``fujo`` answers). Prints, for
``--rounds`` rounds: the mean time of the check's read (``prepare_numbers_check``: one statement) over
bench/national_bench.py's sample of people with a ticket this month, and the time of the busiest
facility's change feed from cursor 0 (``changes_since``, 1,000 changes, its audit record included);
then the medians and how the database's tickets are laid out."""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from national_bench import body, facility_tokens, sample  # noqa: E402
from sqlalchemy import text  # noqa: E402

from fujo.auth.principal import FACILITY  # noqa: E402
from fujo.bulk import service as bulk  # noqa: E402
from fujo.core.dates import JST  # noqa: E402
from fujo.db.database import Database  # noqa: E402
from fujo.eligibility.service import prepare_numbers_check  # noqa: E402
from fujo.orgs.service import principal_for  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--database-url", required=True, dest="url")
    ap.add_argument("--month", help="YYYYMM of the sample's tickets (default: this month in JST)")
    ap.add_argument("--sample", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    db = Database(a.url)
    month = a.month or db.now().astimezone(JST).strftime("%Y%m")
    picked, _ = sample(db, month, a.sample, 10)
    principals, _, _ = facility_tokens(db, picked)
    with db.read() as c:
        busiest = c.execute(
            text(
                "SELECT designated_facility_code FROM tickets WHERE treatment_month = :m "
                "GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
            ),
            {"m": month},
        ).scalar_one()
        layout = 1 if db.is_sqlite else c.execute(text("SELECT count(DISTINCT tableoid) FROM tickets")).scalar_one()
        rows = c.execute(text("SELECT count(*) FROM tickets")).scalar_one()
    feeder = principal_for(db, kind=FACILITY, code=busiest)
    reads, feeds = [], []
    for i in range(a.rounds):
        t0 = time.perf_counter()
        for p in picked:
            prepare_numbers_check(db, principals[p["asker"]], **body(p))
        reads.append((time.perf_counter() - t0) / len(picked) * 1000)
        t0 = time.perf_counter()
        changes = bulk.changes_since(db, feeder, 0, limit=1000)["Changes"]
        feeds.append((time.perf_counter() - t0) * 1000)
        print(f"round {i + 1}: check's read {reads[-1]:.3f} ms; feed of {len(changes):,} changes {feeds[-1]:.0f} ms")
    print(
        f"median: check's read {statistics.median(reads):.3f} ms, feed {statistics.median(feeds):.0f} ms "
        f"({rows:,} ticket rows in {layout} table(s); sample {len(picked):,}, month {month})"
    )
    db.dispose()


if __name__ == "__main__":
    main()
