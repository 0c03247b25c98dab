"""Interleaved A/B of HTTP checks by numbers: this tree's `fujo serve` against another tree's (a copy of
the project before a change) on the same seeded database, round by round in turn (a shared, noisy
machine drifts less between the two than between two separate runs).

    git worktree add /tmp/fujo-A <commit before>
    .venv/bin/python bench/ab_checks.py --baseline /tmp/fujo-A --backend sqlite --workers 1

Seeds --recipients (check_bench's seed: CSV import, one clinic), then for each round starts each tree's
server with --workers, warms it with wrk for 3 s and measures --seconds with check_bench's Lua script
(32 connections, random recipients). Prints each round and the medians. Not a test; not in `make bench`
(its figures of record come from bench/check_bench.py): this is for measuring one change.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import check_bench as cb  # noqa: E402

from fujo.db.database import Database  # noqa: E402
from fujo.db.migrate import upgrade  # noqa: E402
from fujo.terminal.localserver import free_port  # noqa: E402


def rate(port: int, lua: Path, seconds: int, connections: int) -> tuple[float, list[str]]:
    """Requests/s of wrk against the check, and wrk's non-2xx lines (none expected)."""
    target = f"http://127.0.0.1:{port}"
    warm = ["wrk", "-t", "2", "-c", str(connections), "-d", f"{min(3, seconds)}s", "-s", str(lua), target]
    subprocess.run(warm, capture_output=True, check=True)
    args = ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "-s", str(lua), target]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    per_s = float(next(line for line in out.splitlines() if line.startswith("Requests/sec")).split()[1])
    return per_s, [line.strip() for line in out.splitlines() if "Non-2xx" in line]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--baseline", type=Path, required=True, help="the other source tree")
    ap.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    ap.add_argument("--recipients", type=int, default=20_000)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=32)
    a = ap.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (make bench installs it: apt-get install wrk)")
    workdir = Path(tempfile.mkdtemp(prefix="fujo-ab-checks-"))
    url = cb.fresh_database(a.backend, workdir, "fujo_ab_checks")
    db = Database(url)
    upgrade(db)
    token = cb.seed(db, a.recipients)["token"]
    db.dispose()
    lua = workdir / "check.lua"
    lua.write_text(cb.WRK_LUA % {"n": a.recipients, "per": cb.PER_PAYER, "token": token})
    trees = {"baseline": a.baseline.resolve(), "this": ROOT}
    rates: dict[str, list[float]] = {name: [] for name in trees}
    try:
        for i in range(a.rounds):
            for name, tree in trees.items():
                port = free_port()
                server = cb.start_server(url, workdir, port, a.workers, tree=tree)
                try:
                    per_s, refused = rate(port, lua, a.seconds, a.connections)
                finally:
                    server.terminate()
                    server.wait(timeout=30)
                rates[name].append(per_s)
                print(f"round {i + 1} {name}: {per_s:,.0f} checks/s {' '.join(refused)}", flush=True)
    finally:
        cb.drop_database(a.backend, "fujo_ab_checks")
        shutil.rmtree(workdir, ignore_errors=True)
    for name, xs in rates.items():
        print(f"{name}: median {statistics.median(xs):,.0f} checks/s ({', '.join(f'{x:,.0f}' for x in xs)})")


if __name__ == "__main__":
    main()
