"""The benchmarks run (seconds-long versions, on SQLite): not timings — a benchmark script that no
longer runs against the code would only be found the day someone needs its figures. The figures
themselves are in docs/PERFORMANCE.md, made by the full runs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def run(*args: str) -> str:
    done = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done.stdout


def test_the_check_benchmark_runs():
    out = run(
        "bench/check_bench.py",
        *("--recipients", "300", "--seconds", "1", "--workers", "1", "--in-process", "100"),
        *("--runs", "1", "--connections", "4"),
    )
    row = re.search(r"^\| sqlite \| 300 \| 1 \| 4 \| ([\d,]+) \| [^|]+ \| [^|]+ \| (\d+) \|", out, re.M)
    assert row, out[-2000:]
    assert int(row.group(1).replace(",", "")) > 0 and row.group(2) == "0"  # checks answered, none refused
    floors = re.search(
        r"^floors: HTTP checks [\d,]+/s = ([\d.]+) × the trivial endpoint .* = ([\d.]+) × its bare", out, re.M
    )
    assert floors and float(floors.group(1)) > 0 and float(floors.group(2)) > 0, out[-2000:]
    sizes = re.search(r"^database ([\d.]+) MiB on disk; server workers' peak RSS \[([\d., ]+)\] MiB$", out, re.M)
    assert sizes and float(sizes.group(1)) > 0 and max(map(float, sizes.group(2).split(","))) > 20, out[-2000:]


def test_the_fhir_benchmark_runs():
    out = run("bench/fhir_bench.py", "--tickets", "250", "--repeat", "1", "--counts", "100")
    assert re.search(r"^\| this \| sqlite \| FHIR search, _count=100 \| 3 \|", out, re.M), out[-2000:]


def test_the_read_benchmark_runs():
    out = run("bench/read_bench.py", "--recipients", "200", "--checks", "50")
    assert re.search(r"^sqlite: p50 [\d.]+ ms, mean [\d.]+ ms, 2\.00 statements a check$", out, re.M), out


def test_the_bulk_and_partitions_benchmarks_run(tmp_path):
    url = f"sqlite:///{tmp_path / 'synth.db'}"
    fujo = str(Path(sys.executable).parent / "fujo")
    small = ("--recipients", "300", "--offices", "5", "--facilities", "40", "--real-cards", "0")
    synth = subprocess.run(
        [fujo, "synth", *small, "--database-url", url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "FUJO_DATA_DIR": str(tmp_path / "data")},
    )
    assert synth.returncode == 0, synth.stderr[-2000:]
    out = run("bench/bulk_bench.py", "--database-url", url, "--facilities", "1", "--repeat", "1")
    # the busiest facility's month came whole (the bench checks every person once) with its changes
    assert re.search(
        r"^\| \d{10} \| [\d,]+ \| [\d,]+ \| [\d.]+ \([\d.]+\) \| [\d.]+ \([\d.]+\) \| [\d.]+ \(\d+ changes\) \|$",
        out,
        re.M,
    ), out
    # the same data set: the partitions' benchmark (made for PostgreSQL; SQLite has one table)
    out = run("bench/partitions_bench.py", "--database-url", url, "--sample", "50", "--rounds", "1")
    assert re.search(r"^median: check's read [\d.]+ ms, feed \d+ ms \([\d,]+ ticket rows in 1 table", out, re.M), out


def test_the_card_benchmark_runs():
    out = run(
        "bench/card_bench.py",
        *("--recipients", "300", "--cards", "3", "--in-process", "20", "--prepared", "200"),
        *("--seconds", "1", "--workers", "1"),
    )
    # every in-process check answered the holder's 医療扶助; the HTTP run answered checks by card
    assert '"not_as_expected": 0' in out, out[-2000:]
    row = re.search(r"^\| 1 \| 32 \| (\d+) \|", out, re.M)
    assert row and int(row.group(1)) > 0, out[-2000:]


def test_the_job_start_benchmark_runs():
    out = run("bench/job_start.py", "--jobs", "2", "--rounds", "1")
    assert re.search(r"^round 1 this tree: first job \d+ ms; next 2: median \d+ ms", out, re.M), out


def test_the_checks_ab_runs():
    """Against this very tree as the baseline: both sides answer checks, none refused."""
    out = run("bench/ab_checks.py", "--baseline", str(ROOT), "--recipients", "200", "--rounds", "1", "--seconds", "1")
    for name in ("baseline", "this"):
        row = re.search(rf"^round 1 {name}: ([\d,]+) checks/s $", out, re.M)
        assert row and int(row.group(1).replace(",", "")) > 0, out[-2000:]
