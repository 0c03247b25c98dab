"""The month download (委託先資格情報一括取得) of the busiest facilities of a `fujo synth` data set,
over HTTP, and the change feed (issue 12: "10,000 designated tickets returned in ≤ 0.3 s (JSON),
first byte ≤ 50 ms, memory flat").

    .venv/bin/python bench/bulk_bench.py --database-url sqlite:////tmp/fujo-national/national.db

1. finds, in one query, the facilities with the most tickets in force in the data set's month (the
   busiest hospitals of a synth set hold 10,000–19,000);
2. gives each an organisation with 「医療扶助」 利用する and a token (as bench/national_bench.py does);
3. starts `fujo serve --workers 1` (bulk rate limit lifted) and, ``--repeat`` times for each facility,
   GETs /api/v1/facility/tickets?month= — streamed: time to the first byte and to the last, bytes,
   tickets (the JSON parsed and counted against the query's count) — and the change feed's first
   1,000 changes of the facility (GET /api/v1/facility/tickets/changes?cursor=0&limit=1000);
4. reads the server's RSS before the downloads and its peak (VmHWM) after them.
Prints a Markdown table and writes bench/results/bulk-*.json.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from check_bench import start_server, status_kib  # noqa: E402
from national_bench import facility_tokens  # noqa: E402
from sqlalchemy import text  # noqa: E402

from fujo import outbound  # noqa: E402
from fujo.db.database import Database  # noqa: E402

BUSIEST = """
SELECT t.designated_facility_code AS facility, f.name AS facility_name, t.treatment_month AS month, count(*) AS n,
       count(DISTINCT t.recipient_id) AS people
FROM tickets t JOIN facilities f ON f.code = t.designated_facility_code
WHERE t.superseded_by IS NULL AND t.status = 'active'
  AND t.treatment_month = (SELECT max(treatment_month) FROM tickets)
GROUP BY t.designated_facility_code, f.name, t.treatment_month
ORDER BY n DESC LIMIT :k
"""


def download(base: str, token: str, month: str) -> dict[str, Any]:
    url = f"{base}/api/v1/facility/tickets?month={month[:4]}-{month[4:]}"
    headers = {"Authorization": f"Bearer {token}", "Accept-Encoding": "identity"}
    t0 = time.perf_counter()
    first = None
    chunks = []
    with outbound.client(timeout=120) as c, c.stream("GET", url, headers=headers) as res:
        if res.status_code != 200:
            raise SystemExit(f"download: {res.status_code} {res.read()[:200]!r}")
        for chunk in res.iter_bytes():
            if first is None:
                first = time.perf_counter() - t0
            chunks.append(chunk)
    total = time.perf_counter() - t0
    body = b"".join(chunks)
    doc = json.loads(body)
    if doc["Count"] != len(doc["ResultList"]):
        raise SystemExit(f"download: Count {doc['Count']} for {len(doc['ResultList'])} results")
    return {"ttfb": first or total, "total": total, "bytes": len(body), "people": doc["Count"]}


def feed(base: str, token: str) -> dict[str, Any]:
    url = f"{base}/api/v1/facility/tickets/changes?cursor=0&limit=1000"
    t0 = time.perf_counter()
    res = outbound.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=60)
    total = time.perf_counter() - t0
    if res.status_code != 200:
        raise SystemExit(f"changes: {res.status_code} {res.text[:200]}")
    return {"total": total, "changes": len(res.json()["Changes"])}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--database-url", required=True)
    ap.add_argument("--facilities", type=int, default=3, help="the busiest N facilities")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument(
        "--data-dir",
        type=Path,
        help="FUJO_DATA_DIR of the servers that use this database (their card CA; a server with another one "
        "refuses to start): the synth's, or the folder a benchmark's first server made; default: a new one",
    )
    a = ap.parse_args()
    db = Database(a.database_url)
    with db.read() as conn:
        busiest = [dict(r._mapping) for r in conn.execute(text(BUSIEST), {"k": a.facilities})]
    if not busiest:
        raise SystemExit("no tickets in this database")
    month = str(busiest[0]["month"])
    picked = [{"facility": b["facility"], "facility_name": b["facility_name"], "asker": b["facility"]} for b in busiest]
    _, tokens, _ = facility_tokens(db, picked)
    data_dir = a.data_dir
    if data_dir is None:  # the server's folder, not kept
        data_dir = Path(tempfile.mkdtemp(prefix="fujo-bulk-"))
        atexit.register(shutil.rmtree, data_dir, True)
    port = 19000 + os.getpid() % 1000
    server = start_server(a.database_url, data_dir, port, limits="bulk=100000000")
    base, pid = f"http://127.0.0.1:{port}", server.pid
    try:
        rss_before = status_kib(pid, "VmRSS")
        rows = []
        for b in busiest:
            token = tokens[b["facility"]]
            runs = [download(base, token, month) for _ in range(a.repeat)]
            for r in runs:  # every person with a ticket in force there, once
                if r["people"] != b["people"]:
                    raise SystemExit(f"{b['facility']}: {r['people']} people downloaded, {b['people']} with tickets")
            changes = [feed(base, token) for _ in range(a.repeat)]
            rows.append(
                {
                    "facility": b["facility"],
                    "tickets": b["n"],
                    "people": b["people"],
                    "bytes": runs[0]["bytes"],
                    "ttfb_ms": [round(r["ttfb"] * 1000, 1) for r in runs],
                    "total_s": [round(r["total"], 3) for r in runs],
                    "changes": changes[0]["changes"],
                    "changes_s": [round(c["total"], 3) for c in changes],
                }
            )
        rss_peak = status_kib(pid, "VmHWM")
        rss_after = status_kib(pid, "VmRSS")
    finally:
        server.terminate()
        server.wait(timeout=20)
    print(
        f"month {month}; server RSS before {rss_before / 1024:.1f} MiB, after {rss_after / 1024:.1f}, peak {rss_peak / 1024:.1f}"
    )
    print("| facility | tickets | JSON bytes | first byte ms (median) | total s (median) | 1,000 changes s (median) |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['facility']} | {r['tickets']:,} | {r['bytes']:,} | {statistics.median(r['ttfb_ms']):.1f} "
            f"({' · '.join(map(str, r['ttfb_ms']))}) | {statistics.median(r['total_s']):.3f} "
            f"({' · '.join(map(str, r['total_s']))}) | {statistics.median(r['changes_s']):.3f} ({r['changes']} changes) |"
        )
    out = ROOT / "bench" / "results" / f"bulk-{int(time.time())}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"month": month, "rss_kib": [rss_before, rss_after, rss_peak], "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
