"""Benchmark of the month retrieval (委託先資格情報一括取得): the FHIR Coverage search, walked page by
page through its ``next`` links, against the native download of the same month.

    .venv/bin/python bench/fhir_bench.py --tickets 10000 --backend sqlite
    .venv/bin/python bench/fhir_bench.py --tickets 10000 --backend postgresql

Seeds N synthetic recipients, each with a 医療券 of July 2024 designating one clinic (through the CSV
importer, as bench/check_bench.py does), then measures, against `fujo serve` on a free port:
  1. the native download, GET /api/v1/facility/tickets?month=2024-07 (streamed JSON, one request);
  2. the FHIR search, GET /fhir/Coverage?month=2024-07&_count=C, following ``next`` to the last page,
     for each C of --counts (the server's default page and its maximum);
each --repeat times (the median is reported; the server's bulk rate limit is lifted, see serve()),
checking every time that the walk holds exactly the download's tickets (same 受給者番号 and 交付番号, in
the same order, none twice). The walk's time includes the client reading each page's JSON (it needs
the next link); the native download is timed both without and with the client's json parse. Also the
server's own work in-process (reads, audit entries, the answer's text; no HTTP), the FHIR walk's CPU
against the download's: what "as fast as the native bulk retrieval" asks of the server.

With --baseline DIR (a copy of the source tree before a change, e.g. ``git stash``-free: ``rsync``
it aside), both trees' servers run on the same seeded database and are measured alternately, round
by round (an interleaved A/B: a shared, loaded machine drifts less between the two than between two
runs). Prints a Markdown table and the load average, and writes bench/results/fhir-*.json.
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import check_bench  # noqa: E402
from check_bench import start_server  # noqa: E402

from fujo import outbound  # noqa: E402
from fujo.auth.principal import FACILITY, WELFARE_OFFICE  # noqa: E402
from fujo.bulk.service import open_month  # noqa: E402
from fujo.bulk.views import month_json  # noqa: E402
from fujo.core.numbers import with_check_digit  # noqa: E402
from fujo.db.database import Database  # noqa: E402
from fujo.db.migrate import upgrade  # noqa: E402
from fujo.facility.service import set_medical_assistance  # noqa: E402
from fujo.fhir import mapping  # noqa: E402
from fujo.fhir import service as fhir_service  # noqa: E402
from fujo.orgs.service import create_organisation, issue_credential, principal_for  # noqa: E402
from fujo.registry.csv_import import import_csv  # noqa: E402

PAYER = with_check_digit("1213001")
CLINIC = with_check_digit("131123456")
FILE_ROWS = 100_000
PG_NAME = "fujo_fhir_bench"


def recipient_of(i: int) -> str:
    return with_check_digit(f"{100000 + i:06d}")


def fresh_database(backend: str, workdir: Path) -> str:
    return check_bench.fresh_database(backend, workdir, PG_NAME)


def drop_database(backend: str) -> None:
    check_bench.drop_database(backend, PG_NAME)


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
    pages, size, lat, parse = 0, 0, [], 0.0
    while url:
        p0 = time.perf_counter()
        res = client.get(url)
        lat.append(time.perf_counter() - p0)
        res.raise_for_status()
        size += len(res.content)
        p1 = time.perf_counter()
        bundle = res.json()
        parse += time.perf_counter() - p1
        entries += bundle.get("entry") or []
        pages += 1
        url = next((x["url"] for x in bundle.get("link", []) if x["relation"] == "next"), None)
    return {
        "seconds": time.perf_counter() - t0,
        "parse_seconds": parse,  # of which the client's json parse of the pages
        "pages": pages,
        "bytes": size,
        "page_p50_ms": statistics.median(lat) * 1000,
        "page_max_ms": max(lat) * 1000,
        "rows": fhir_rows(entries),
        "keys": [e["resource"]["id"] for e in entries],
    }


def native(client: httpx.Client) -> dict:
    """The month in one request; ``seconds`` until the body is in, ``parsed_seconds`` once the client
    has also read the JSON (as the FHIR walk's ``seconds`` include the client reading every page)."""
    t0 = time.perf_counter()
    res = client.get("/api/v1/facility/tickets?month=2024-07")
    res.raise_for_status()
    seconds = time.perf_counter() - t0
    doc = res.json()
    parsed = time.perf_counter() - t0
    return {"seconds": seconds, "parsed_seconds": parsed, "bytes": len(res.content), "rows": native_rows(doc)}


def in_process(db: Database, counts: list[int], repeat: int) -> tuple[dict, dict]:
    """The server's own work for the month, without HTTP: the reads, the audit entries (committed) and
    the answer's text — the native download's JSON chunks, and each FHIR page's Bundle text, with the
    walk's order kept as the server keeps it (fujo.fhir.service.WalkOrders). Interleaved round by
    round; answers the median seconds of each and the median per round of its CPU time ÷ the native
    download's (one thread: the CPU a request costs the server)."""
    p = principal_for(db, kind=FACILITY, code=CLINIC)
    base = "http://127.0.0.1/fhir"

    def download() -> int:
        return sum(len(c) for c in month_json(open_month(db, p, "2024-07")))

    def fhir_walk(count: int) -> int:
        orders, position, size = fhir_service.WalkOrders(), None, 0
        while True:
            page = fhir_service.read_page(db, p, "2024-07", count=count, position=position, orders=orders)
            fhir_service.record_page(db, p, page)
            size += sum(
                len(c)
                for c in mapping.coverage_bundle_text(
                    page.tickets,
                    CLINIC,
                    base,
                    total=page.total,
                    links=[("self", base), ("next", base)],
                    identifier={"system": mapping.NS_TICKET_CURSOR, "value": str(page.snapshot)},
                )
            )
            if page.next is None:
                return size
            position = page.next

    seconds: dict[str, list[float]] = {"native": []}
    cpu: dict[str, list[float]] = {"native": []}
    for _ in range(repeat):
        for k, read in [("native", download), *((f"fhir_{c}", lambda c=c: fhir_walk(c)) for c in counts)]:
            t0, c0 = time.perf_counter(), time.thread_time()
            read()
            seconds.setdefault(k, []).append(time.perf_counter() - t0)
            cpu.setdefault(k, []).append(time.thread_time() - c0)
    x_native = {
        k: round(statistics.median(x / n for x, n in zip(v, cpu["native"], strict=True)), 2) for k, v in cpu.items()
    }
    return {k: round(statistics.median(v), 3) for k, v in seconds.items()}, x_native


def serve(url: str, datadir: Path, tree: Path = ROOT) -> tuple[subprocess.Popen, int]:
    """`fujo serve` of the source tree ``tree`` (this one, or --baseline's copy) on a free port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # the bulk class is limited to 120 requests a credential a minute (fujo/api/ratelimit.py): every page
    # of a walk is a request, and the bench walks the month several times in a row — lifted here
    return start_server(url, datadir, port, limits="bulk=1000000", tree=tree), port


def summary(runs: dict[str, list[dict]], tickets: int) -> dict:
    http = {}
    for k, rs in runs.items():
        best = sorted(rs, key=lambda x: x["seconds"])[len(rs) // 2]  # the median run (use an odd --repeat)
        http[k] = {
            "seconds": round(best["seconds"], 3),
            "tickets_per_s": round(tickets / best["seconds"]),
            "mb": round(best["bytes"] / 1e6, 1),
            "all_seconds": [round(x["seconds"], 3) for x in rs],
            **(
                {
                    "parsed_seconds": round(best["parsed_seconds"], 3),
                    "all_parsed_seconds": [round(x["parsed_seconds"], 3) for x in rs],
                }
                if "parsed_seconds" in best
                else {}
            ),
            **(
                {
                    "parse_seconds": round(best["parse_seconds"], 3),
                    "all_parse_seconds": [round(x["parse_seconds"], 3) for x in rs],
                    "pages": best["pages"],
                    "page_p50_ms": round(best["page_p50_ms"]),
                    "page_max_ms": round(best["page_max_ms"]),
                }
                if "pages" in best
                else {}
            ),
        }
    return http


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tickets", type=int, default=10_000)
    ap.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    ap.add_argument("--counts", default=f"{fhir_service.COUNT_DEFAULT},{fhir_service.COUNT_MAX}")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument(
        "--baseline",
        type=Path,
        help="another source tree (a copy of the project before a change): its server is measured too, "
        "round by round alternately with this tree's, on the same database (an interleaved A/B)",
    )
    ap.add_argument(
        "--accept-encoding",
        default="identity",
        help="the client's Accept-Encoding (httpx's own default: gzip, deflate)",
    )
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
        "accept_encoding": a.accept_encoding,
        "seed_seconds": round(time.perf_counter() - t0, 1),
    }
    result["in_process_s"], result["in_process_x_native"] = in_process(db, counts, a.repeat)
    db.dispose()
    trees = {"this": ROOT} if a.baseline is None else {"baseline": a.baseline.resolve(), "this": ROOT}
    servers = {name: serve(url, workdir, tree) for name, tree in trees.items()}
    load = [os.getloadavg()]
    runs: dict[str, dict[str, list[dict]]] = {name: {"native": []} for name in trees}
    try:
        headers = {"Authorization": f"Bearer {token}", "Accept-Encoding": a.accept_encoding}
        for _ in range(a.repeat):
            for name, (_, port) in servers.items():  # one round of each tree in turn
                with outbound.client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=600) as client:
                    n = native(client)
                    runs[name]["native"].append(n)
                    assert len(n["rows"]) == a.tickets
                    for c in counts:
                        w = walk(client, c)
                        # the walk is the download: the same tickets in the same order, none twice
                        assert w["rows"] == n["rows"] and len(set(w["keys"])) == len(w["keys"]) == a.tickets, c
                        runs[name].setdefault(f"fhir_{c}", []).append(w)
            load.append(os.getloadavg())
    finally:
        for server, _ in servers.values():
            server.terminate()
            server.wait(timeout=20)
    result["load_1min"] = [round(x[0], 1) for x in load]
    result["http"] = {name: summary(r, a.tickets) for name, r in runs.items()}
    print(f"load average (1 min) during the rounds: {result['load_1min']}")
    # × native: the median over the rounds of (this walk / the native download of the same round and
    # tree, parsed as the walk's pages are): each ratio is of two runs a few seconds apart, which a
    # loaded machine's drift disturbs less than it does the medians of the seconds themselves
    print(
        "| tree | backend | what | pages | seconds (HTTP) | + client parse | × native (per round) "
        "| × native without the client's parse | tickets/s | MB | page p50 / max | in-process s "
        "| server's CPU × native |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, http in result["http"].items():
        native_parsed = http["native"]["all_parsed_seconds"]
        for k, h in http.items():
            what = "native download" if k == "native" else f"FHIR search, _count={k.split('_')[1]}"
            pages = h.get("pages", 1)
            per_page = f"{h['page_p50_ms']} / {h['page_max_ms']} ms" if "pages" in h else "-"
            parsed = h.get("parsed_seconds", h["seconds"])  # the walk's seconds include the parse
            each = h.get("all_parsed_seconds", h["all_seconds"])
            h["x_native"] = round(statistics.median(x / n for x, n in zip(each, native_parsed, strict=True)), 2)
            # the server's and the wire's part: the walk less its parse, against the download unparsed
            bare = [x - p for x, p in zip(h["all_seconds"], h.get("all_parse_seconds", [0.0] * len(each)), strict=True)]
            h["x_native_unparsed"] = round(
                statistics.median(x / n for x, n in zip(bare, http["native"]["all_seconds"], strict=True)), 2
            )
            print(
                f"| {name} | {a.backend} | {what} | {pages} | {h['seconds']} | {parsed} | "
                f"{h['x_native']:.2f} | {h['x_native_unparsed']:.2f} | {h['tickets_per_s']:,} | {h['mb']} | {per_page} | "
                f"{result['in_process_s'][k]} | {result['in_process_x_native'][k]:.2f} |"
            )
    (ROOT / "bench" / "results").mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (ROOT / "bench" / "results" / f"fhir-{a.backend}-{a.tickets}-{stamp}.json").write_text(json.dumps(result, indent=2))
    drop_database(a.backend)
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
