"""The figures of record that `make bench` writes into docs/PERFORMANCE.md (issue 12): the machine,
the data sets, and the newest result of each benchmark `make bench` runs (bench/results/*.json),
with the command that produced it and each target of the issue — met, or missed by how much.

    .venv/bin/python bench/report.py            # print the section
    .venv/bin/python bench/report.py --write    # replace it in docs/PERFORMANCE.md (between its markers)

Only the section between ``BEGIN`` and ``END`` is rewritten; the rest of PERFORMANCE.md (the
dated investigations, each with its own command) is left as it is.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DOC = ROOT / "docs" / "PERFORMANCE.md"
BEGIN = "<!-- make bench: begin (bench/report.py writes what is between these lines) -->"
END = "<!-- make bench: end -->"

# issue 12's targets (its data set is 2,000,000 recipients; `make bench` measures 100,000 — said below)
HTTP_TARGET = {"sqlite": (3000, 10.0), "postgresql": (2000, 20.0)}  # checks/s, p99 ms
TRIVIAL_RATIO, BARE_RATIO = 0.4, 5.0
IN_PROCESS_TARGET, CARD_TARGET = 20_000, 3_000  # checks/s on one core
IMPORT_TARGET = {"sqlite": 100_000, "postgresql": 50_000}  # tickets/s
RSS_TARGET = 200  # MiB a worker under load


MIN_SIZE = 10_000  # recipients (or tickets): below it a result is a smoke run's (make test's), not a figure


def newest(pattern: str) -> dict[str, Any] | None:
    """The newest result of ``pattern`` of a real data set (the suite's smoke runs write theirs too)."""
    for f in sorted(RESULTS.glob(pattern), key=lambda p: p.stat().st_mtime, reverse=True):
        data = json.loads(f.read_text())
        if data.get("recipients", data.get("tickets", 0)) >= MIN_SIZE:
            data["_file"] = f.name
            data["_when"] = time.strftime("%Y-%m-%d %H:%M", time.localtime(f.stat().st_mtime))
            return data
    return None


def _ms(text: str | None) -> float | None:
    """wrk's latency text (812.00us, 3.41ms, 1.02s) in milliseconds."""
    if not text:
        return None
    for unit, k in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * k
    return None


def verdict(value: float, target: float, higher_is_better: bool = True) -> str:
    """'met', or how far from the target: 'missed by N %' of a floor (rates), 'N× the target' of a
    ceiling (latencies, ratios to a floor)."""
    ok = value >= target if higher_is_better else value <= target
    if ok:
        return "met"
    if higher_is_better:
        return f"**missed by {(target - value) / target * 100:.0f} %**"
    return f"**{value / target:.1f}× the target**"


def machine() -> list[str]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor() or "?",
    )
    mem = next(
        (
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        ),
        0,
    )
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
    except OSError:
        rev = ""
    return [
        f"- **Machine:** {cpu}, {os.cpu_count()} cores, {mem / 1024 / 1024:.0f} GiB; Linux {platform.release()}; "
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, {_pg_version()}.",
        f"- **Tree:** `{rev.strip() or '?'}` when this was written ({time.strftime('%Y-%m-%d %H:%M %Z')}; `make bench` "
        "runs every benchmark on it first). The server and the load generator (wrk) share the machine, as the "
        "issue's targets assume.",
    ]


def _pg_version() -> str:
    try:
        from sqlalchemy import create_engine, text

        engine = create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/test")
        with engine.connect() as c:
            v = c.execute(text("SHOW server_version")).scalar_one()
        engine.dispose()
        return f"PostgreSQL {v}"
    except Exception:  # the report is still written without PostgreSQL
        return "PostgreSQL (not reachable)"


def _table(title: str, header: list[str], pattern: str, rows, command: str, note: str = "") -> list[str]:
    """A section: ``title``, a table of ``header`` with ``rows(result, backend)``'s rows for the newest
    result of ``pattern`` (``{backend}`` in it) on each database, ``note``, and the commands run."""
    out = [f"### {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    cmds = []
    for backend in ("sqlite", "postgresql"):
        r = newest(pattern.format(backend=backend))
        if r is None:
            out.append(f"| {backend} | not run |" + " |" * (len(header) - 2))
            continue
        out += rows(r, backend)
        cmds.append(f"{command.format(backend=backend)}   # {r['_file']}, {r['_when']}")
    return [*out, "", *([note, ""] if note else []), "```sh", *cmds, "```", ""]


def _check_rows(r: dict[str, Any], backend: str) -> list[str]:
    h, ip, bare = r["http"], r["in_process"], r.get("bare_lookups")
    rps, p99 = h["requests_per_s"], _ms(h["latency"].get("99"))
    want_rps, want_p99 = HTTP_TARGET[backend]
    target = f"≥ {want_rps:,}/s: {verdict(rps, want_rps)}; p99 ≤ {want_p99:g} ms: " + (
        verdict(p99, want_p99, higher_is_better=False) if p99 is not None else "?"
    )
    trivial = h.get("trivial")
    per_s = 1000 / ip["mean_ms"]
    runs = ", ".join(f"{x:,}" for x in h.get("runs", [rps]))
    trivial_rps = f"{trivial['requests_per_s']:,}" if trivial else "-"
    x_trivial = f"{h['ratio_to_trivial']} ({verdict(h['ratio_to_trivial'], TRIVIAL_RATIO)})" if trivial else "-"
    bare_ms = f"{bare['mean_ms']} ms" if bare else "-"
    x_bare = r.get("in_process_ratio_to_bare")
    x_bare_text = f"{x_bare} ({verdict(x_bare, BARE_RATIO, higher_is_better=False)})" if bare else "-"
    imported = r["import_rows_per_s"]
    rss = max(h.get("rss_mib") or [0]) or None
    rss_text = f"{rss} ({verdict(rss, RSS_TARGET, higher_is_better=False)})" if rss else "-"
    return [
        f"| {backend} | {r['recipients']:,} | {h['workers']} × {h['connections']} | {rps:,} ({runs}) "
        f"| {h['latency'].get('50')} / {h['latency'].get('99')} | {target} | {trivial_rps} | {x_trivial} "
        f"| {ip['mean_ms']} ms | {bare_ms} | {x_bare_text} | {per_s:,.0f} ({verdict(per_s, IN_PROCESS_TARGET)}) "
        f"| {imported['recipients']:,} / {imported['tickets']:,} "
        f"(tickets ≥ {IMPORT_TARGET[backend]:,}/s: {verdict(imported['tickets'], IMPORT_TARGET[backend])}) "
        f"| {rss_text} | {r.get('database_mib', '-')} |"
    ]


def _card_rows(r: dict[str, Any], backend: str) -> list[str]:
    c = r["in_process"]["check"]
    per_s = 1000 / c["mean_ms"] if c.get("mean_ms") else 1000 / c["p50_ms"]
    http = "; ".join(
        f"{h['workers']}: {h['requests_per_s']:,}/s, {h['latency'].get('99')}"
        + (" (bodies ran out)" if h.get("ran_out") else "")
        for h in r.get("http", [])
    )
    return [
        f"| {backend} | {r['recipients']:,} | {c['p50_ms']} / {c['p99_ms']} ms | {per_s:,.0f} "
        f"({verdict(per_s, CARD_TARGET)}) | {http or '-'} |"
    ]


def _fhir_rows(r: dict[str, Any], backend: str) -> list[str]:
    rows = []
    for k, h in r["http"]["this"].items():  # this tree only (a baseline's rows are an investigation's)
        what = "native download" if k == "native" else "FHIR search, _count=" + k.split("_")[1]
        cpu = r.get("in_process_x_native", {}).get(k, "-")  # the server's own work, CPU × the download's
        rows.append(
            f"| {backend} | {r['tickets']:,} | {what} | {h['seconds']} | {h.get('x_native', '-')} "
            f"| {h.get('x_native_unparsed', '-')} | {cpu} |"
        )
    return rows


CHECKS_NOTE = (
    "The trivial endpoint is `GET /api/v1/health` on the same server, workers, middleware and wrk settings, "
    "measured in turn with the checks (interleaved runs); the bare lookup is the check's own read "
    "(`RECIPIENT_WITH_TICKETS`, one statement on the indexes) on the raw driver connection (sqlite3 / "
    "psycopg, no SQLAlchemy), for the same recipients. The in-process check includes the durable "
    "`check_log` and audit record; checks/s in-process is one thread, 1000 / mean."
)


def sections() -> list[str]:
    return [
        *_table(
            "Checks by numbers: over HTTP, in-process, and against the stack's own floors",
            [
                "backend",
                "recipients",
                "workers × connections",
                "checks/s (median; runs)",
                "p50 / p99",
                "target",
                "trivial endpoint/s",
                "× trivial (≥ 0.4)",
                "in-process mean",
                "bare lookup mean",
                "× bare (≤ 5)",
                "in-process checks/s (≥ 20,000)",
                "CSV import rows/s (recipients / tickets)",
                "a worker's peak RSS under load, MiB (≤ 200)",
                "database on disk, MiB",
            ],
            "check-{backend}-*.json",
            _check_rows,
            ".venv/bin/python bench/check_bench.py --backend {backend}",
            CHECKS_NOTE,
        ),
        *_table(
            "Checks by My Number card",
            [
                "backend",
                "recipients",
                "in-process check p50 / p99",
                "in-process checks/s (≥ 3,000)",
                "HTTP (workers: checks/s, p99)",
            ],
            "card-{backend}-*.json",
            _card_rows,
            ".venv/bin/python bench/card_bench.py --backend {backend}",
        ),
        *_table(
            "FHIR Coverage search against the native month download",
            [
                "backend",
                "tickets",
                "what",
                "seconds",
                "× native (with each client's parse)",
                "× native (server and wire)",
                "server's CPU × native (in-process)",
            ],
            "fhir-{backend}-*.json",
            _fhir_rows,
            ".venv/bin/python bench/fhir_bench.py --tickets 10000 --backend {backend} --counts 100,1000 --repeat 5",
        ),
    ]


def section() -> str:
    lines = [
        BEGIN,
        "## Figures of record (written by `make bench`)",
        "",
        *machine(),
        "- **Data set:** what each benchmark seeds (the recipients column); the issue's targets are set for "
        "2,000,000 recipients (`bench/national_bench.py`, not part of `make bench`: its load takes ≈ 10 minutes).",
        "- Each figure is the newest result of its benchmark in `bench/results/` (file and time given); a target "
        "missed says by how much, and the investigations below say what the profile shows.",
        "",
        *sections(),
        END,
    ]
    return "\n".join(lines) + "\n"


def write(doc: Path = DOC) -> None:
    text = doc.read_text()
    new = section()
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1].lstrip("\n")
        text = head + new + "\n" + tail
    else:  # first time: after the title and its opening paragraph, before the first section
        at = text.find("\n## ") + 1 or len(text)
        text = text[:at] + new + "\n" + text[at:]
    doc.write_text(text)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--write", action="store_true", help="replace the section in docs/PERFORMANCE.md")
    a = ap.parse_args()
    if a.write:
        write()
        print(f"written: {DOC.relative_to(ROOT)}")
    else:
        sys.stdout.write(section())


if __name__ == "__main__":
    main()
