"""The check path on a national-scale data set (issue 12): checks by numbers against `fujo synth` data.

    .venv/bin/fujo synth --database-url sqlite:////tmp/fujo-national/national.db
    .venv/bin/python bench/national_bench.py --database-url sqlite:////tmp/fujo-national/national.db
    .venv/bin/python bench/national_bench.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/fujo_national

Without --database-url, a SQLite file under /tmp is used, created first with
`fujo synth --recipients R` when it does not exist yet (minutes, and ~6 GiB a million recipients).

1. samples N real people with a ticket in force this month from the database in ONE query — the
   payer and recipient numbers, the birth date, the designated facility and the ticket's first day
   (the confirmation date of the check) — spread over the whole population by a fixed hash of
   the recipient id (the same sample every run); one in ``--not-designated`` of them is asked by
   another facility of the sample (the 未委託 answer: validity 6, masked);
2. gives every facility of the sample an API token through the service functions, as
   bench/check_bench.py does (an organisation with 「医療扶助」 利用する; synth's own facility
   organisations are reused);
3. calls `check_by_numbers` in-process over the sample (p50/p99, every answer compared with the
   expected validity), then drives `POST /api/v1/checks/numbers` with wrk against
   `fujo serve --workers W` for each W, ``--repeat`` times interleaved — the request bodies and
   tokens come from the sample, written into the Lua script as a table.
Prints a Markdown table row per HTTP run and writes bench/results/national-*.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from check_bench import latencies, over_http  # noqa: E402

from fujo.auth.principal import FACILITY, Principal  # noqa: E402
from fujo.core.dates import now_jst  # noqa: E402
from fujo.core.errors import NotFound  # noqa: E402
from fujo.db.database import Database  # noqa: E402
from fujo.eligibility.service import check_by_numbers  # noqa: E402
from fujo.facility.service import set_medical_assistance  # noqa: E402
from fujo.orgs.service import create_organisation, issue_credential, principal_for  # noqa: E402

DEFAULT_SQLITE = Path("/tmp/fujo-national-bench/synth.db")  # a benchmark's scratch file
HASH_MUL, HASH_MOD = 7919, 1_000_003  # a fixed spread of recipient ids: the same sample every run

# ONE query: people with a ticket in force this month, spread over all offices by a hash of the id.
SAMPLE_SQL = f"""
SELECT r.id AS rid, r.payer_number, r.recipient_number, r.birthdate,
       t.designated_facility_code AS facility, t.designated_facility_name AS facility_name, t.valid_from
FROM recipients r JOIN tickets t ON t.recipient_id = r.id
WHERE (r.id * {HASH_MUL}) % {HASH_MOD} < :threshold
  AND t.treatment_month = :month AND t.superseded_by IS NULL AND t.status = 'active'
ORDER BY (r.id * {HASH_MUL}) % {HASH_MOD}, r.id, t.id
LIMIT :limit
"""  # constants only in the f-string

WRK_TABLE_LUA = r"""
local reqs = {
%(rows)s
}
math.randomseed(os.time())
request = function()
  local r = reqs[math.random(1, #reqs)]
  return wrk.format("POST", "/api/v1/checks/numbers", {["Content-Type"] = "application/json",
                    ["Authorization"] = "Bearer " .. r[1]}, r[2])
end
"""


def ensure_database(url: str | None, recipients: int) -> str:
    """The given URL, or the default SQLite file, made with `fujo synth` if it is not there yet."""
    if url:
        return url
    if not DEFAULT_SQLITE.exists():
        DEFAULT_SQLITE.parent.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, FUJO_DATA_DIR=str(DEFAULT_SQLITE.parent / "data"))
        subprocess.run(
            [
                str(Path(sys.executable).parent / "fujo"),
                "synth",
                "--recipients",
                str(recipients),
                "--database-url",
                f"sqlite:///{DEFAULT_SQLITE}",
            ],
            env=env,
            check=True,
        )
    return f"sqlite:///{DEFAULT_SQLITE}"


def data_size(db: Database, url: str, month: str) -> dict[str, Any]:
    with db.read() as conn:
        out: dict[str, Any] = {
            "recipients": conn.execute(text("SELECT count(*) FROM recipients")).scalar_one(),
            "facilities": conn.execute(text("SELECT count(*) FROM facilities")).scalar_one(),
            "month": month,
        }
        if db.engine.dialect.name == "postgresql":
            out["bytes"] = conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
    if url.startswith("sqlite:///"):
        out["bytes"] = os.path.getsize(url.removeprefix("sqlite:///"))
    out["gib"] = round(out["bytes"] / 2**30, 2)
    return out


def sample(db: Database, month: str, n: int, not_designated: int) -> tuple[list[dict[str, Any]], float]:
    """N people (one ticket each), every ``not_designated``-th asked by another facility of the sample."""
    with db.read() as conn:
        top = conn.execute(text("SELECT max(id) FROM recipients")).scalar_one()
        # about three times the wanted rows pass the hash filter (not everyone has a ticket this month)
        threshold = min(HASH_MOD, HASH_MOD * 3 * n // max(1, top))
        t0 = time.perf_counter()
        rows = conn.execute(text(SAMPLE_SQL), {"threshold": threshold, "month": month, "limit": 3 * n}).all()
        seconds = time.perf_counter() - t0
    seen: set[int] = set()
    picked: list[dict[str, Any]] = []
    for row in rows:  # one ticket a person (a person may hold a 医療券 and a 調剤券)
        if row.rid not in seen:
            seen.add(row.rid)
            picked.append(dict(row._mapping))
        if len(picked) == n:
            break
    if len(picked) < n:
        raise SystemExit(f"only {len(picked)} people with a ticket of {month} found (wanted {n})")
    for k, p in enumerate(picked):
        p["asker"] = p["facility"]
        p["expected"] = "1"
        if not_designated and k % not_designated == not_designated - 1:
            other = next(q for q in picked[k + 1 :] + picked[:k] if q["facility"] != p["facility"])
            p["asker"], p["expected"] = other["facility"], "6"
    return picked, seconds


def facility_tokens(db: Database, picked: list[dict[str, Any]]) -> tuple[dict[str, Principal], dict[str, str], int]:
    """An organisation (「医療扶助」 利用する) and a fresh API token for every asking facility."""
    names = {p["facility"]: p["facility_name"] for p in picked}
    principals: dict[str, Principal] = {}
    tokens: dict[str, str] = {}
    created = 0
    for code in sorted({p["asker"] for p in picked}):
        try:
            principal = principal_for(db, kind=FACILITY, code=code)
        except NotFound:
            create_organisation(db, kind=FACILITY, code=code, name=names[code])
            created += 1
            principal = principal_for(db, kind=FACILITY, code=code)
        if not principal.medical_assistance_enabled:
            set_medical_assistance(db, principal, True)
            principal = principal_for(db, kind=FACILITY, code=code)
        principals[code] = principal
        tokens[code] = issue_credential(db, principal.organisation_id, label="national-bench")["token"]
    return principals, tokens, created


def body(p: dict[str, Any]) -> dict[str, str]:
    return {
        "insurer_number": p["payer_number"],
        "identification_number": p["recipient_number"],
        "birthdate": str(p["birthdate"]),
        "confirmation_date": str(p["valid_from"]),
    }


def in_process(db: Database, picked: list[dict[str, Any]], principals: dict[str, Principal], count: int) -> dict:
    order = [picked[i % len(picked)] for i in range(count)]
    random.Random(1).shuffle(order)
    lat = []
    answers: dict[str, int] = {}
    wrong = []
    for p in order:
        t0 = time.perf_counter()
        out = check_by_numbers(db, principals[p["asker"]], **body(p))  # type: ignore[arg-type]
        lat.append(time.perf_counter() - t0)
        v = out["QualificationValidity"]
        key = f"{'designated' if p['expected'] == '1' else 'not designated'} -> {v}"
        answers[key] = answers.get(key, 0) + 1
        if v != p["expected"] and len(wrong) < 5:
            wrong.append({**body(p), "asker": p["asker"], "answer": v})
    return {
        **latencies(lat),
        "answers": answers,
        "unexpected": wrong,
    }


def lua_script(picked: list[dict[str, Any]], tokens: dict[str, str]) -> str:
    rows = ",\n".join(f'  {{"{tokens[p["asker"]]}", [[{json.dumps(body(p), separators=(",", ":"))}]]}}' for p in picked)
    return WRK_TABLE_LUA % {"rows": rows}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--database-url", dest="database_url", help="a `fujo synth` database (default: a SQLite file)")
    ap.add_argument("--recipients", type=int, default=2_000_000, help="for the default file's synth only")
    ap.add_argument("--month", help="YYYYMM of the tickets (default: this month in JST, as synth's default)")
    ap.add_argument("--sample", type=int, default=2000, help="people sampled (the requests' pool)")
    ap.add_argument("--not-designated", type=int, default=10, dest="not_designated", help="every k-th is 未委託")
    ap.add_argument("--in-process", type=int, default=3000, dest="in_process")
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--seconds", type=int, default=15)
    ap.add_argument("--connections", type=int, default=32)
    a = ap.parse_args()
    url = ensure_database(a.database_url, a.recipients)
    month = (a.month or now_jst().strftime("%Y%m")).replace("-", "")
    backend = "postgresql" if url.startswith("postgresql") else "sqlite"
    db = Database(url)
    size = data_size(db, url, month)
    picked, sample_s = sample(db, month, a.sample, a.not_designated)
    t0 = time.perf_counter()
    principals, tokens, created = facility_tokens(db, picked)
    result: dict[str, Any] = {
        "backend": backend,
        "database": url,
        "data": size,
        "sample": {
            "people": len(picked),
            "not_designated": sum(p["expected"] == "6" for p in picked),
            "facilities": len(tokens),
            "organisations_created": created,
            "query_seconds": round(sample_s, 2),
            "tokens_seconds": round(time.perf_counter() - t0, 1),
        },
        "load_before": os.getloadavg(),
    }
    print(json.dumps(result, indent=2, default=str), flush=True)
    result["in_process"] = in_process(db, picked, principals, a.in_process)
    result["load_after_in_process"] = os.getloadavg()
    print(json.dumps(result["in_process"], indent=2), flush=True)
    db.dispose()
    script = lua_script(picked, tokens)
    workdir = Path(tempfile.mkdtemp(prefix="fujo-national-"))
    result["http"] = []
    for _ in range(a.repeat):
        for w in (int(x) for x in a.workers.split(",")):
            load = os.getloadavg()
            run = over_http(url, workdir, len(picked), "", w, a.seconds, a.connections, script=script)
            run["load_before"] = load
            run["load_after"] = os.getloadavg()
            result["http"].append(run)
            print(run["wrk"], flush=True)
    (ROOT / "bench" / "results").mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = ROOT / "bench" / "results" / f"national-{backend}-{size['recipients']}-{stamp}.json"
    out.write_text(json.dumps(result, indent=2, default=str))
    ip = result["in_process"]
    print(f"written: {out}")
    print(
        "| backend | recipients | DB size | sample (未委託) / facilities | workers | connections | checks/s over HTTP "
        "| p50 | p99 | non-2xx | in-process p50 / p99 | load (1 min) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for h in result["http"]:
        print(
            f"| {backend} | {size['recipients']:,} | {size['gib']} GiB | {len(picked):,} ({result['sample']['not_designated']}) "
            f"/ {len(tokens):,} | {h['workers']} | {h['connections']} | {h['requests_per_s']:,} | "
            f"{h['latency'].get('50', '?')} | {h['latency'].get('99', '?')} | {h['non_2xx']} | "
            f"{ip['p50_ms']} / {ip['p99_ms']} ms | {h['load_before'][0]:.1f} → {h['load_after'][0]:.1f} |"
        )
    print(f"checked at {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; in-process answers: {ip['answers']}")
    shutil.rmtree(workdir, ignore_errors=True)  # the Lua script holds the tokens


if __name__ == "__main__":
    main()
