"""Benchmark of the month retrieval (委託先資格情報一括取得): the FHIR Coverage search, walked page by
page through its ``next`` links, against the native download of the same month.

    .venv/bin/python bench/fhir_bench.py --tickets 10000 --backend sqlite
    .venv/bin/python bench/fhir_bench.py --tickets 10000 --backend postgresql

Seeds N synthetic recipients, each with a 医療券 of July 2024 designating one clinic (through the CSV
importer, as bench/check_bench.py does), then measures, against `fujo serve` on a free port:
  1. the native download, GET /api/v1/facility/tickets?month=2024-07 (streamed JSON, one request);
  2. the FHIR search, GET /fhir/Coverage?month=2024-07&_count=C, following ``next`` to the last page,
     for each C of --counts (the server's default page and its maximum);
each --repeat times (the median is reported; the server's bulk rate limit is lifted, see serve()), checking every time that the walk holds exactly the
download's tickets (same 受給者番号 and 交付番号, in the same order, none twice). Also the same two
reads in-process (the services without HTTP and JSON), to show where the time goes.
Prints a Markdown table and writes bench/results/fhir-*.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fujo.auth.principal import FACILITY, WELFARE_OFFICE  # noqa: E402
from fujo.bulk.service import tickets_for_month  # noqa: E402
from fujo.core.numbers import with_check_digit  # noqa: E402
from fujo.db.database import Database  # noqa: E402
from fujo.db.migrate import upgrade  # noqa: E402
from fujo.facility.service import set_medical_assistance  # noqa: E402
from fujo.fhir import service as fhir_service  # noqa: E402
from fujo.orgs.service import create_organisation, issue_credential, principal_for  # noqa: E402
from fujo.registry.csv_import import import_csv  # noqa: E402

PAYER = with_check_digit("1213001")
CLINIC = with_check_digit("131123456")
FILE_ROWS = 100_000
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PG_NAME = "fujo_fhir_bench"


def recipient_of(i: int) -> str:
    return with_check_digit(f"{100000 + i:06d}")


def fresh_database(backend: str, workdir: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{workdir / 'bench.db'}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{PG_NAME}" WITH (FORCE)'))
        c.execute(text(f'CREATE DATABASE "{PG_NAME}"'))
    admin.dispose()
    return PG_ADMIN.rsplit("/", 1)[0] + f"/{PG_NAME}"


def drop_database(backend: str) -> None:
    if backend == "postgresql":
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{PG_NAME}" WITH (FORCE)'))
        admin.dispose()


def seed(db: Database, n: int) -> str:
    """N recipients of one office, each with a 医療券 of July 2024 designating the clinic; its token."""
    if n > 800_000:
        raise SystemExit("at most 800,000 tickets (one 公費負担者番号)")
    create_organisation(
        db,
        kind=WELFARE_OFFICE,
        code="13001",
        name="第1福祉事務所",
        phone="03-0000-0000",
        address=None,
        payer_numbers=[PAYER],
    )
    clinic = create_organisation(db, kind=FACILITY, code=CLINIC, name="●●医療機関")
    set_medical_assistance(db, principal_for(db, kind=FACILITY, code=CLINIC), True)
    office = principal_for(db, kind=WELFARE_OFFICE, code="13001")
    for lo in range(0, n, FILE_ROWS):
        ids = range(lo, min(lo + FILE_ROWS, n))
        rec = ["payer_number,recipient_number,name,name_kana,sex,birthdate,qualification_date,address,post_number"]
        rec += [
            f"{PAYER},{recipient_of(i)},試験太郎{i},ｼｹﾝ ﾀﾛｳ,1,1960-01-01,2020-04-01,東京都○○市1-{i},100-0001"
            for i in ids
        ]
        tic = [
            "payer_number,recipient_number,ticket_type,treatment_month,valid_from,valid_to,"
            "designated_facility_code,designated_facility_name,treatment_type,single_or_combined,"
            "injury_name1,issue_number"
        ]
        tic += [
            f"{PAYER},{recipient_of(i)},01,2024-07,2024-07-01,2024-07-31,{CLINIC},●●医療機関,02,01,高血圧症,{70_000_000 + i}"
            for i in ids
        ]
        import_csv(db, office, "recipients", "\n".join(rec).encode())
        import_csv(db, office, "tickets", "\n".join(tic).encode())
    return str(issue_credential(db, clinic["id"], label="bench")["token"])


def native_rows(doc: dict) -> list[tuple[str, str]]:
    return [
        (res["InsuredIdentificationNumber"], info["IssueNumber"])
        for res in doc["ResultList"]
        for info in res["PublicExpenseResultList"]["MedicalTicketInfo"]
    ]


def fhir_rows(entries: list[dict]) -> list[tuple[str, str]]:
    out = []
    for e in entries:
        cov = e["resource"]
        ticket = next(x for x in cov["extension"] if x["url"].endswith("/medical-ticket"))
        issue = next(p["valueString"] for p in ticket["extension"] if p["url"] == "IssueNumber")
        out.append((cov["identifier"][0]["value"], issue))
    return out


def walk(client: httpx.Client, count: int) -> dict:
    t0 = time.perf_counter()
    url: str | None = f"/fhir/Coverage?month=2024-07&_count={count}"
    entries: list[dict] = []
    pages, size, lat = 0, 0, []
    while url:
        p0 = time.perf_counter()
        res = client.get(url)
        lat.append(time.perf_counter() - p0)
        res.raise_for_status()
        size += len(res.content)
        bundle = res.json()
        entries += bundle.get("entry") or []
        pages += 1
        url = next((x["url"] for x in bundle.get("link", []) if x["relation"] == "next"), None)
    return {
        "seconds": time.perf_counter() - t0,
        "pages": pages,
        "bytes": size,
        "page_p50_ms": statistics.median(lat) * 1000,
        "page_max_ms": max(lat) * 1000,
        "rows": fhir_rows(entries),
        "keys": [e["resource"]["id"] for e in entries],
    }


def native(client: httpx.Client) -> dict:
    t0 = time.perf_counter()
    res = client.get("/api/v1/facility/tickets?month=2024-07")
    res.raise_for_status()
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "bytes": len(res.content), "rows": native_rows(res.json())}


def in_process(db: Database, counts: list[int], repeat: int) -> dict:
    p = principal_for(db, kind=FACILITY, code=CLINIC)
    out: dict[str, list[float]] = {"native": []}
    for _ in range(repeat):
        t0 = time.perf_counter()
        tickets_for_month(db, p, "2024-07")
        out["native"].append(time.perf_counter() - t0)
        for c in counts:
            t0 = time.perf_counter()
            page = fhir_service.coverage_page(db, p, "2024-07", count=c)
            while page.next is not None:
                page = fhir_service.coverage_page(db, p, "2024-07", count=c, position=page.next)
            out.setdefault(f"fhir_{c}", []).append(time.perf_counter() - t0)
    return {k: round(statistics.median(v), 3) for k, v in out.items()}


def serve(url: str, datadir: Path) -> tuple[subprocess.Popen, int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # the bulk class is limited to 120 requests a credential a minute (fujo/api/ratelimit.py): every page
    # of a walk is a request, and the bench walks the month several times in a row — lifted here
    env = dict(os.environ, FUJO_DATABASE_URL=url, FUJO_DATA_DIR=str(datadir), FUJO_RATE_LIMITS="bulk=1000000")
    log = (datadir / "serve.log").open("wb")  # its JSON access lines stay out of the report
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "fujo"), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    for _ in range(150):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1).status_code == 200:
                return server, port
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    server.terminate()
    raise SystemExit("fujo serve did not start")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tickets", type=int, default=10_000)
    ap.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    ap.add_argument("--counts", default=f"{fhir_service.COUNT_DEFAULT},{fhir_service.COUNT_MAX}")
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    counts = [int(x) for x in a.counts.split(",")]
    workdir = Path(tempfile.mkdtemp(prefix="fujo-fhir-bench-"))
    url = fresh_database(a.backend, workdir)
    db = Database(url)
    upgrade(db)
    t0 = time.perf_counter()
    token = seed(db, a.tickets)
    result: dict = {
        "backend": a.backend,
        "tickets": a.tickets,
        "seed_seconds": round(time.perf_counter() - t0, 1),
        "in_process_s": in_process(db, counts, a.repeat),
    }
    db.dispose()
    server, port = serve(url, workdir)
    try:
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=600) as client:
            runs: dict[str, list[dict]] = {"native": []}
            for _ in range(a.repeat):
                n = native(client)
                runs["native"].append(n)
                assert len(n["rows"]) == a.tickets
                for c in counts:
                    w = walk(client, c)
                    # the walk is the download: the same tickets in the same order, none twice
                    assert w["rows"] == n["rows"] and len(set(w["keys"])) == len(w["keys"]) == a.tickets, c
                    runs.setdefault(f"fhir_{c}", []).append(w)
    finally:
        server.terminate()
        server.wait(timeout=20)
    http = {}
    for k, rs in runs.items():
        best = sorted(rs, key=lambda x: x["seconds"])[len(rs) // 2]  # the median run
        http[k] = {
            "seconds": round(best["seconds"], 3),
            "tickets_per_s": round(a.tickets / best["seconds"]),
            "mb": round(best["bytes"] / 1e6, 1),
            **(
                {
                    "pages": best["pages"],
                    "page_p50_ms": round(best["page_p50_ms"]),
                    "page_max_ms": round(best["page_max_ms"]),
                }
                if "pages" in best
                else {}
            ),
        }
    result["http"] = http
    (ROOT / "bench" / "results").mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (ROOT / "bench" / "results" / f"fhir-{a.backend}-{a.tickets}-{stamp}.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    print("| backend | tickets | what | pages | seconds (HTTP) | tickets/s | MB | page p50 / max | in-process s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for k, h in http.items():
        what = "native download" if k == "native" else f"FHIR search, _count={k.split('_')[1]}"
        pages = h.get("pages", 1)
        per_page = f"{h['page_p50_ms']} / {h['page_max_ms']} ms" if "pages" in h else "-"
        print(
            f"| {a.backend} | {a.tickets:,} | {what} | {pages} | {h['seconds']} | {h['tickets_per_s']:,} | {h['mb']} | "
            f"{per_page} | {result['in_process_s'][k]} |"
        )
    drop_database(a.backend)
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
