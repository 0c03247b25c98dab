"""bench/report.py, the section `make bench` writes into docs/PERFORMANCE.md: each benchmark's newest
result with its command, each target of issue 12 met or missed by how much, and nothing else of the
document touched."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.fixture
def report(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("bench_report", ROOT / "bench" / "report.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_report"] = module
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(module, "_pg_version", lambda: "PostgreSQL 15")
    (tmp_path / "results").mkdir()
    return module


def _check_result(rps: int, trivial: int, mean_ms: float, bare_ms: float) -> dict:
    return {
        "backend": "sqlite",
        "recipients": 100000,
        "import_rows_per_s": {"recipients": 40000, "tickets": 30000},
        "in_process": {"mean_ms": mean_ms, "p50_ms": mean_ms, "p99_ms": 1.0},
        "bare_lookups": {"mean_ms": bare_ms},
        "in_process_ratio_to_bare": round(mean_ms / bare_ms, 2),
        "http": {
            "requests_per_s": rps,
            "latency": {"50": "9.00ms", "99": "25.00ms"},
            "workers": 2,
            "connections": 32,
            "runs": [rps - 10, rps, rps + 10],
            "trivial": {"requests_per_s": trivial, "runs": [trivial]},
            "ratio_to_trivial": round(rps / trivial, 3),
            "rss_mib": [30.5, 150.2, 251.0],
        },
        "database_mib": 123.4,
    }


def test_the_checks_against_their_targets_and_floors(report):
    (report.RESULTS / "check-sqlite-100000-1.json").write_text(json.dumps(_check_result(1500, 6000, 0.5, 0.05)))
    text = report.section()
    row = next(line for line in text.splitlines() if line.startswith("| sqlite | 100,000 |"))
    assert "1,500 (1,490, 1,500, 1,510)" in row
    assert "≥ 3,000/s: **missed by 50 %**" in row and "p99 ≤ 10 ms: **2.5× the target**" in row
    assert "0.25 (**missed by 38 %**)" in row  # 1,500 / 6,000 against ≥ 0.4
    assert "10.0 (**2.0× the target**)" in row  # 0.5 ms against 5 × 0.05 ms
    assert "2,000 (**missed by 90 %**)" in row  # one thread: 1000 / 0.5 ms against 20,000
    assert "40,000 / 30,000 (tickets ≥ 100,000/s: **missed by 70 %**)" in row
    assert row.endswith("| 251.0 (**1.3× the target**) | 123.4 |")  # the largest worker
    assert "| postgresql | not run |" in text
    assert "bench/check_bench.py --backend sqlite   # check-sqlite-100000-1.json" in text


def test_a_smoke_run_is_not_a_figure(report):
    (report.RESULTS / "check-sqlite-100000-1.json").write_text(json.dumps(_check_result(1500, 6000, 0.5, 0.05)))
    smoke = _check_result(700, 5000, 0.7, 0.02) | {"recipients": 300}  # make test's, written later
    (report.RESULTS / "check-sqlite-300-2.json").write_text(json.dumps(smoke))
    assert "| sqlite | 100,000 |" in report.section() and "| sqlite | 300 |" not in report.section()


def test_a_target_met_says_so(report):
    (report.RESULTS / "check-sqlite-100000-1.json").write_text(json.dumps(_check_result(3500, 7000, 0.04, 0.01)))
    row = next(line for line in report.section().splitlines() if line.startswith("| sqlite | 100,000 |"))
    assert "≥ 3,000/s: met" in row and "0.5 (met)" in row and "4.0 (met)" in row and "25,000 (met)" in row


def test_write_replaces_only_its_section(report, tmp_path):
    doc = tmp_path / "PERFORMANCE.md"
    doc.write_text("# Performance\n\nOpening.\n\n## An investigation\nkept\n")
    report.write(doc)
    first = doc.read_text()
    assert first.startswith("# Performance\n\nOpening.\n\n" + report.BEGIN)
    assert first.endswith(report.END + "\n\n## An investigation\nkept\n")
    (report.RESULTS / "check-sqlite-100000-1.json").write_text(json.dumps(_check_result(1500, 6000, 0.5, 0.05)))
    report.write(doc)
    second = doc.read_text()
    assert second.count(report.BEGIN) == 1 and second.count(report.END) == 1
    assert "| sqlite | 100,000 |" in second and second.endswith(report.END + "\n\n## An investigation\nkept\n")
    assert second.startswith("# Performance\n\nOpening.\n\n" + report.BEGIN)
