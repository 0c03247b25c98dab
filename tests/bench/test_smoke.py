"""The benchmarks run (seconds-long versions, on SQLite): not timings — a benchmark script that no
longer runs against the code would only be found the day someone needs its figures. The figures
themselves are in docs/PERFORMANCE.md, made by the full runs."""

from __future__ import annotations

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
    out = run("bench/check_bench.py", "--recipients", "300", "--seconds", "1", "--workers", "1", "--in-process", "100")
    row = re.search(r"^\| sqlite \| 300 \| 1 \| 32 \| ([\d,]+) \| [^|]+ \| [^|]+ \| (\d+) \|", out, re.M)
    assert row, out[-2000:]
    assert int(row.group(1).replace(",", "")) > 0 and row.group(2) == "0"  # checks answered, none refused


def test_the_fhir_benchmark_runs():
    out = run("bench/fhir_bench.py", "--tickets", "250", "--repeat", "1", "--counts", "100")
    assert re.search(r"^\| this \| sqlite \| FHIR search, _count=100 \| 3 \|", out, re.M), out[-2000:]


def test_the_read_benchmark_runs():
    out = run("bench/read_bench.py", "--recipients", "200", "--checks", "50")
    assert re.search(r"^sqlite: p50 [\d.]+ ms, mean [\d.]+ ms, 2\.00 statements a check$", out, re.M), out
