"""Benchmark of the hot path: checks by numbers, in-process and over HTTP (uvicorn + wrk).

    .venv/bin/python bench/check_bench.py --recipients 100000 --backend sqlite
    .venv/bin/python bench/check_bench.py --recipients 100000 --backend postgresql

Seeds N synthetic recipients (through the CSV importer: the same validation path as production),
each with a 医療券 for the month — half designating the checking clinic (answer: validity 1),
half another clinic (answer: validity 6, masked) — then measures:
  1. CSV import rate (rows/s);
  2. in-process check_by_numbers latency (service call incl. the check_log write);
  3. HTTP throughput and latency with wrk (random recipients, keep-alive) against
     `fujo serve --workers W` (uvicorn, httptools, uvloop).
Prints a Markdown table row for docs/PERFORMANCE.md and writes bench/results/*.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fujo import outbound  # noqa: E402
from fujo.auth.principal import FACILITY, WELFARE_OFFICE  # noqa: E402
from fujo.core.numbers import with_check_digit  # noqa: E402
from fujo.db.database import Database  # noqa: E402
from fujo.db.migrate import upgrade  # noqa: E402
from fujo.eligibility.service import check_by_numbers  # noqa: E402
from fujo.orgs.service import create_organisation, issue_credential, principal_for  # noqa: E402
from fujo.registry.csv_import import import_csv  # noqa: E402

PER_PAYER = 800_000
CLINIC = with_check_digit("131123456")
OTHER = with_check_digit("131129999")
MONTH_FIRST, MONTH_LAST = "2024-07-01", "2024-07-31"
WRK_LUA = r"""
local n = %(n)d
local per = %(per)d
local function cd(body)
  local s, w = 0, 2
  for i = #body, 1, -1 do
    local p = tonumber(body:sub(i, i)) * w
    s = s + math.floor(p / 10) + p %% 10
    w = (w == 2) and 1 or 2
  end
  return body .. tostring((10 - s %% 10) %% 10)
end
math.randomseed(os.time())
request = function()
  local i = math.random(0, n - 1)
  local payer = cd(string.format("1213%%03d", 1 + math.floor(i / per)))
  local rn = cd(string.format("%%06d", 100000 + (i %% per)))
  local body = '{"insurer_number":"' .. payer .. '","identification_number":"' .. rn ..
               '","birthdate":"1960-01-01","confirmation_date":"2024-07-10"}'
  return wrk.format("POST", "/api/v1/checks/numbers", {["Content-Type"] = "application/json",
                    ["Authorization"] = "Bearer %(token)s"}, body)
end
"""


def payer_of(i: int) -> str:
    return with_check_digit(f"1213{1 + i // PER_PAYER:03d}")


def recipient_of(i: int) -> str:
    return with_check_digit(f"{100000 + i % PER_PAYER:06d}")


PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def fresh_database(backend: str, workdir: Path, name: str = "fujo_bench") -> str:
    """An empty database for a benchmark: a SQLite file in ``workdir``, or PostgreSQL's ``name``
    (dropped and made anew; every benchmark has its own name, so that two can run at once)."""
    if backend == "sqlite":
        return f"sqlite:///{workdir / f'{name}.db'}"
    drop_database(backend, name)
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"


def drop_database(backend: str, name: str = "fujo_bench") -> None:
    """Drop :func:`fresh_database`'s PostgreSQL database (nothing to do for SQLite: its folder goes)."""
    if backend == "postgresql":
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def seed(db: Database, n: int) -> dict:
    offices = (n - 1) // PER_PAYER + 1
    for k in range(offices):
        create_organisation(
            db,
            kind=WELFARE_OFFICE,
            code=f"13{k:03d}",
            name=f"第{k + 1}福祉事務所",
            phone="03-0000-0000",
            address=None,
            payer_numbers=[payer_of(k * PER_PAYER)],
        )
    clinic = create_organisation(db, kind=FACILITY, code=CLINIC, name="●●医療機関")
    create_organisation(db, kind=FACILITY, code=OTHER, name="▲▲クリニック")
    from fujo.facility.service import set_medical_assistance  # starts as 利用しない (issue 8)

    set_medical_assistance(db, principal_for(db, kind=FACILITY, code=CLINIC), True)
    token = issue_credential(db, clinic["id"], label="bench")["token"]
    timings = {"recipients": 0.0, "tickets": 0.0}
    FILE_ROWS = 100_000  # an importer file holds at most 200,000 rows; offices send monthly files
    batches = [
        (k, range(lo, min(lo + FILE_ROWS, n, (k + 1) * PER_PAYER)))
        for k in range(offices)
        for lo in range(k * PER_PAYER, min(n, (k + 1) * PER_PAYER), FILE_ROWS)
    ]
    for k, ids in batches:
        p = principal_for(db, kind=WELFARE_OFFICE, code=f"13{k:03d}")
        rec = ["payer_number,recipient_number,name,name_kana,sex,birthdate,qualification_date"]
        rec += [f"{payer_of(i)},{recipient_of(i)},試験太郎{i},ｼｹﾝ ﾀﾛｳ,1,1960-01-01,2020-04-01" for i in ids]
        tic = [
            "payer_number,recipient_number,ticket_type,treatment_month,valid_from,valid_to,"
            "designated_facility_code,designated_facility_name,treatment_type,single_or_combined,injury_name1"
        ]
        tic += [
            f"{payer_of(i)},{recipient_of(i)},01,2024-07,{MONTH_FIRST},{MONTH_LAST},"
            f"{CLINIC if i % 2 == 0 else OTHER},{'●●医療機関' if i % 2 == 0 else '▲▲クリニック'},02,01,高血圧症"
            for i in ids
        ]
        for kind, rows in (("recipients", rec), ("tickets", tic)):
            t0 = time.perf_counter()
            import_csv(db, p, kind, "\n".join(rows).encode())
            timings[kind] += time.perf_counter() - t0
    return {"token": token, "import_rows_per_s": {k: round(n / v) for k, v in timings.items()}}


def in_process(db: Database, n: int, count: int, check: Callable[..., dict] = check_by_numbers) -> dict:
    """``count`` checks by numbers of random recipients of the seeded ``n`` through ``check`` (the whole
    check, or a part of it that answers the same dict), each answer verified; latency p50/p99/mean."""
    p = principal_for(db, kind=FACILITY, code=CLINIC)
    rng = random.Random(1)
    lat = []
    for _ in range(count):
        i = rng.randrange(n)
        t0 = time.perf_counter()
        out = check(
            db,
            p,
            insurer_number=payer_of(i),
            identification_number=recipient_of(i),
            birthdate="1960-01-01",
            confirmation_date="2024-07-10",
        )
        lat.append(time.perf_counter() - t0)
        assert out["QualificationValidity"] == ("1" if i % 2 == 0 else "6")
    return latencies(lat)


def bare_lookups(db: Database, n: int, count: int) -> dict:
    """The floor of the in-process check (issue 12): the one read a check by numbers needs — the
    check's own statement (``RECIPIENT_WITH_TICKETS``: recipient, office, 照会番号 and the month's
    tickets, on their indexes), compiled once for the dialect and run on the raw driver connection
    (sqlite3 or psycopg, no SQLAlchemy, no rules, no record) for the same random recipients."""
    from fujo.eligibility import queries as Q

    clinic = principal_for(db, kind=FACILITY, code=CLINIC).organisation_id
    compiled = Q.RECIPIENT_WITH_TICKETS.compile(dialect=db.engine.dialect)
    sql = str(compiled)
    positional = compiled.positiontup  # sqlite3's qmark parameters, in order; psycopg takes them by name
    rng = random.Random(1)
    raw = db.engine.raw_connection()
    try:
        cur = raw.cursor()
        lat = []
        for _ in range(count):
            i = rng.randrange(n)
            params = {"payer": payer_of(i), "rn": recipient_of(i), "fid": clinic, "month": "202407"}
            params.update({k: v for k, v in compiled.params.items() if k not in params})  # the query's constants
            args = [params[k] for k in positional] if positional else params
            t0 = time.perf_counter()
            cur.execute(sql, args)
            rows = cur.fetchall()
            lat.append(time.perf_counter() - t0)
            assert rows, (i, "the seeded recipient was not found")
        raw.rollback()
    finally:
        raw.close()
    return latencies(lat)


def latencies(seconds: list[float]) -> dict:
    """Count, mean, p50, p99 and max of latencies given in seconds, in milliseconds."""
    lat = sorted(seconds)
    return {
        "checks": len(lat),
        "mean_ms": round(statistics.mean(lat) * 1000, 3),
        "p50_ms": round(lat[len(lat) // 2] * 1000, 3),
        "p99_ms": round(lat[int(len(lat) * 0.99)] * 1000, 3),
        "max_ms": round(lat[-1] * 1000, 3),
    }


def start_server(
    url: str, datadir: Path, port: int, workers: int = 1, *, limits: str = "checks=1000000000", tree: Path = ROOT
) -> subprocess.Popen:
    """`fujo serve --workers W` of the source tree ``tree`` (this one, or a baseline's copy: PYTHONPATH
    puts its ``fujo`` first) on ``port``, once it answers /health. The benchmark's one credential
    makes every request, so the rate limits of ``limits`` are lifted (``FUJO_RATE_LIMITS``)."""
    env = dict(
        os.environ, FUJO_DATABASE_URL=url, FUJO_DATA_DIR=str(datadir), FUJO_RATE_LIMITS=limits, PYTHONPATH=str(tree)
    )
    fujo = str(Path(sys.executable).parent / "fujo")
    with open(datadir / f"server-{port}.log", "ab") as log:  # the access lines: not on the terminal
        server = subprocess.Popen(
            [fujo, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
            env=env,
            cwd=tree,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    for _ in range(300):
        try:
            if outbound.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    server.terminate()
    raise SystemExit("fujo serve did not start")


def server_processes(pid: int) -> list[int]:
    """``pid`` and its children (the workers `fujo serve --workers W` forks, its helpers)."""
    procs = [pid]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                procs.append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    return procs


def status_kib(pid: int, field: str) -> int:
    """A /proc/PID/status figure in KiB (VmRSS, VmHWM …); 0 when the process is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    line = next((x for x in status.splitlines() if x.startswith(field + ":")), None)
    return int(line.split()[1]) if line else 0


def worker_peaks_mib(pid: int) -> list[float]:
    """Each server process's peak resident set (VmHWM, MiB): the processes `fujo serve --workers W`
    started (its workers and helpers; with W = 1 and no helper, the server itself), read after the load."""
    procs = server_processes(pid)
    return [round(status_kib(p, "VmHWM") / 1024, 1) for p in procs[1:] or procs if status_kib(p, "VmHWM")]


def database_mib(url: str) -> float:
    """The data set's size on disk: SQLite's file with its WAL, or PostgreSQL's database."""
    if url.startswith("sqlite"):
        path = Path(url.split("///", 1)[1])
        return round(sum(p.stat().st_size for p in path.parent.glob(path.name + "*")) / 2**20, 1)
    engine = create_engine(url)
    with engine.connect() as c:
        size = c.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
    engine.dispose()
    return round(size / 2**20, 1)


def run_wrk(target: str, lua: Path | None, seconds: int, connections: int) -> dict:
    """wrk with the Lua script ``lua`` (None: GET ``target`` itself) against ``target``; requests/s,
    p50/p90/p99, non-2xx."""
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (make bench installs it: apt-get install wrk)")
    args = ["-t", str(min(2, connections)), "-c", str(connections), "-d", f"{seconds}s", "--latency"]
    done = subprocess.run(["wrk", *args, *(["-s", str(lua)] if lua else []), target], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(
            f"wrk failed ({done.returncode}) against {target}: {done.stderr.strip() or done.stdout[-500:]}"
        )
    out = done.stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    pct = dict(re.findall(r"\s+(50|90|99)(?:\.000)?%\s+([\d.]+\w+)", out))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "requests_per_s": round(rps),
        "latency": pct,
        "non_2xx": int(errors.group(1)) if errors else 0,
        "connections": connections,
        "seconds": seconds,
        "wrk": out,
    }


def over_http(
    url: str,
    datadir: Path,
    n: int,
    token: str,
    workers: int,
    seconds: int,
    connections: int,
    script: str | None = None,
    runs: int = 1,
    floors: bool = False,
) -> dict:
    """wrk against `fujo serve --workers W`; ``script`` replaces the Lua of :data:`WRK_LUA` (then
    ``n`` and ``token`` are unused: the script carries its own requests). With ``floors`` the checks and
    the floor — the trivial endpoint (``GET /api/v1/health``: no database, the same server, middleware
    and settings) — are measured in turn, ``runs`` times each, and the medians reported with their
    ratio (issue 12: HTTP check ≥ 0.4 × the trivial endpoint)."""
    port = 18000 + os.getpid() % 1000
    server = start_server(url, datadir, port, workers)
    try:
        lua = datadir / "check.lua"
        lua.write_text(script or WRK_LUA % {"n": n, "per": PER_PAYER, "token": token})
        base = f"http://127.0.0.1:{port}"
        if not floors:
            return {
                **run_wrk(base, lua, seconds, connections),
                "workers": workers,
                "rss_mib": worker_peaks_mib(server.pid),
            }
        checks, trivial = [], []
        for _ in range(runs):  # interleaved: a drift of the machine's load falls on both alike
            checks.append(run_wrk(base, lua, seconds, connections))
            trivial.append(run_wrk(f"{base}/api/v1/health", None, seconds, connections))
        med = sorted(checks, key=lambda r: r["requests_per_s"])[len(checks) // 2]
        floor = sorted(trivial, key=lambda r: r["requests_per_s"])[len(trivial) // 2]
        return {
            **med,
            "workers": workers,
            "runs": [r["requests_per_s"] for r in checks],
            "trivial": {k: v for k, v in floor.items() if k != "wrk"}
            | {"runs": [r["requests_per_s"] for r in trivial]},
            "ratio_to_trivial": round(med["requests_per_s"] / floor["requests_per_s"], 3),
            "rss_mib": worker_peaks_mib(server.pid),  # each worker's peak over every run
        }
    finally:
        server.terminate()
        server.wait(timeout=20)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--recipients", type=int, default=100_000)
    ap.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    ap.add_argument("--seconds", type=int, default=15)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--in-process", type=int, default=3000, dest="in_process")
    ap.add_argument("--runs", type=int, default=3, help="HTTP runs of the checks and of the trivial endpoint, in turn")
    a = ap.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="fujo-bench-"))
    url = fresh_database(a.backend, workdir)
    db = Database(url)
    upgrade(db)
    t0 = time.perf_counter()
    seeded = seed(db, a.recipients)
    result = {
        "backend": a.backend,
        "recipients": a.recipients,
        "tickets": a.recipients,
        "seed_seconds": round(time.perf_counter() - t0, 1),
        "import_rows_per_s": seeded["import_rows_per_s"],
        "in_process": in_process(db, a.recipients, a.in_process),
        "bare_lookups": bare_lookups(db, a.recipients, a.in_process),
    }
    result["in_process_ratio_to_bare"] = round(result["in_process"]["mean_ms"] / result["bare_lookups"]["mean_ms"], 2)
    db.dispose()
    result["database_mib"] = database_mib(url)
    result["http"] = over_http(
        url, workdir, a.recipients, seeded["token"], a.workers, a.seconds, a.connections, runs=a.runs, floors=True
    )
    (ROOT / "bench" / "results").mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (ROOT / "bench" / "results" / f"check-{a.backend}-{a.recipients}-{stamp}.json").write_text(
        json.dumps(result, indent=2)
    )
    h, ip = result["http"], result["in_process"]
    print(json.dumps({k: v for k, v in result.items() if k != "http"}, indent=2))
    print(h["wrk"])
    print(
        f"| {a.backend} | {a.recipients:,} | {h['workers']} | {h['connections']} | {h['requests_per_s']:,} | "
        f"{h['latency'].get('50', '?')} | {h['latency'].get('99', '?')} | {h['non_2xx']} | {ip['p50_ms']} ms | "
        f"{result['import_rows_per_s']['recipients']:,} / {result['import_rows_per_s']['tickets']:,} |"
    )
    if "trivial" in h:  # the floors, measured in the same run
        print(
            f"floors: HTTP checks {h['requests_per_s']:,}/s = {h['ratio_to_trivial']} × the trivial endpoint "
            f"({h['trivial']['requests_per_s']:,}/s; runs {h['runs']} / {h['trivial']['runs']}); in-process check "
            f"mean {ip['mean_ms']} ms = {result['in_process_ratio_to_bare']} × its bare lookup "
            f"({result['bare_lookups']['mean_ms']} ms, the raw driver)"
        )
    print(f"database {result['database_mib']} MiB on disk; server workers' peak RSS {h['rss_mib']} MiB")
    shutil.rmtree(workdir, ignore_errors=True)
    drop_database(a.backend)  # PostgreSQL's copy of the data set (SQLite's went with the folder)


if __name__ == "__main__":
    main()
