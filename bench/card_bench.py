"""Checks by My Number card (issue 12: "in-process checks/s by card (signature verification
included)" and "checks/s by card over HTTP at 32 connections"), on a `fujo synth` set with real cards.

    .venv/bin/python bench/card_bench.py --recipients 20000 --backend sqlite

1. `fujo synth --real-cards C` into a fresh database (its card files, PINs and facility tokens);
2. in-process, ``--in-process`` times on one core: a challenge (`create_challenge`, one write), the
   reader's signature over it (the card's key: the desk's work, timed apart), and `check_by_card`
   (certificate chain and revocation, signature, one-time challenge, the person's qualifications, the
   audit record); every answer must carry the card holder's 医療扶助 (validity 1);
3. over HTTP: ``--prepared`` challenges made and signed beforehand (a challenge is good once, for five
   minutes), then wrk at 32 connections sends each body once to `POST /api/v1/checks/card` against
   `fujo serve --workers W`; a 2xx count below the requests sent means bodies ran out (say so).
Prints a Markdown table and writes bench/results/card-*.json.
"""

from __future__ import annotations

import argparse
import atexit
import base64
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from check_bench import drop_database, fresh_database, latencies, run_wrk, start_server  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from soak import synth  # noqa: E402

from fujo.auth.principal import FACILITY  # noqa: E402
from fujo.cards.ca import CardAuthority, proof_message, sign  # noqa: E402
from fujo.cards.reader import open_card  # noqa: E402
from fujo.cards.service import create_challenge  # noqa: E402
from fujo.db.database import Database  # noqa: E402
from fujo.eligibility.service import check_by_card  # noqa: E402
from fujo.orgs.service import principal_for  # noqa: E402

PG_NAME = "fujo_card_bench"
CONSENT = "0000"

WRK_LUA = """
local bodies = %(bodies)s
local tokens = %(tokens)s
local made = 0
function setup(thread)
  thread:set("id", made)
  made = made + 1
end
function init(args)
  i = id
end
function request()
  i = i + %(threads)d
  local b = bodies[((i - 1) %% #bodies) + 1]
  return wrk.format("POST", "/api/v1/checks/card", {["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. tokens[b[1]]}, b[2])
end
"""


def prepared(db: Database, data: dict) -> list[tuple[dict, object, str, object]]:
    """(card, key, certificate in base64 DER, principal of its facility) for every card of the set."""
    out = []
    for card in data["cards"]:
        key, cert = open_card(Path(card["file"]).read_bytes(), card["pin"])
        der = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
        out.append((card, key, der, principal_for(db, kind=FACILITY, code=card["designated_facility_code"])))
    return out


def body(db: Database, card: dict, key: object, der: str, principal: object) -> tuple[dict, float, float]:
    t0 = time.perf_counter()
    challenge = create_challenge(db, principal)["challenge"]  # type: ignore[arg-type]
    t1 = time.perf_counter()
    signature = sign(key, proof_message(challenge, card["designated_facility_code"], CONSENT))  # type: ignore[arg-type]
    t2 = time.perf_counter()
    b = {
        "challenge": challenge,
        "certificate": der,
        "signature": base64.b64encode(signature).decode(),
        "consent": CONSENT,
        "confirmation_date": card["confirmation_date"],
    }
    return b, t1 - t0, t2 - t1


def in_process(db: Database, ca: CardAuthority, cards: list, n: int) -> dict:
    challenge_s, sign_s, check_s, wrong = [], [], [], 0
    for i in range(n):
        card, key, der, principal = cards[i % len(cards)]
        b, c_s, s_s = body(db, card, key, der, principal)
        t0 = time.perf_counter()
        out = check_by_card(db, ca, principal, **b)  # type: ignore[arg-type]
        check_s.append(time.perf_counter() - t0)
        challenge_s.append(c_s)
        sign_s.append(s_s)
        mine = [r for r in out["ResultList"] if r.get("InsuredCardClassification") == "A1"]
        wrong += not mine or mine[0]["QualificationValidity"] != "1"
    return {
        "check": latencies(check_s),
        "challenge_p50_ms": round(statistics.median(challenge_s) * 1000, 3),
        "reader_sign_p50_ms": round(statistics.median(sign_s) * 1000, 3),
        "not_as_expected": wrong,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--recipients", type=int, default=20_000)
    ap.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    ap.add_argument("--cards", type=int, default=50, help="real card files made by synth")
    ap.add_argument("--in-process", type=int, default=1000)
    ap.add_argument("--prepared", type=int, default=8000, help="challenges made and signed for the HTTP run")
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--profile", type=int, default=0, help="also: cProfile of N in-process checks (top 15 by own time)")
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fujo-card-bench-"))
    atexit.register(shutil.rmtree, work, True)  # the data set and the server's folder: not kept
    url = fresh_database(a.backend, work, PG_NAME)
    try:
        data = synth(url, work / "data", a.recipients, real_cards=a.cards, history_months=1)
        db = Database(url)
        ca = CardAuthority.load_or_create(work / "data" / "ca")
        cards = prepared(db, data)
        result: dict = {"backend": a.backend, "recipients": a.recipients, "cards": len(cards)}
        result["in_process"] = in_process(db, ca, cards, a.in_process)
        print(json.dumps(result["in_process"], indent=1), flush=True)
        if a.profile:
            import cProfile
            import pstats

            ready = [(c[3], body(db, *c)[0]) for c in (cards[i % len(cards)] for i in range(a.profile))]
            prof = cProfile.Profile()
            prof.enable()
            for principal, b in ready:
                check_by_card(db, ca, principal, **b)  # type: ignore[arg-type]
            prof.disable()
            pstats.Stats(prof).sort_stats("tottime").print_stats(15)
        tokens = {f["code"]: f["token"] for f in data["facilities"]}
        lua_tokens = "{" + ",".join(f"[{json.dumps(k)}]={json.dumps(v)}" for k, v in tokens.items()) + "}"
        result["http"] = []
        for w in (int(x) for x in a.workers.split(",")):
            # fresh challenges for each run: a challenge is good once
            made = [body(db, *cards[i % len(cards)])[0] for i in range(a.prepared)]
            facility_of = [cards[i % len(cards)][0]["designated_facility_code"] for i in range(len(made))]
            pairs = (f"{{{json.dumps(c)},{json.dumps(json.dumps(b))}}}" for c, b in zip(facility_of, made, strict=True))
            lua = work / f"card-{w}.lua"
            lua.write_text(WRK_LUA % {"bodies": "{" + ",".join(pairs) + "}", "tokens": lua_tokens, "threads": 2})
            port = 20000 + os.getpid() % 1000 + w
            server = start_server(url, work / "data", port, w)
            try:
                run = run_wrk(f"http://127.0.0.1:{port}", lua, a.seconds, a.connections)
            finally:
                server.terminate()
                server.wait(timeout=20)
            # each of wrk's two threads takes every other body: past half of them a thread replays (403)
            run["ran_out"] = run["non_2xx"] > 0
            result["http"].append({"workers": w, **run})
            print(json.dumps({k: v for k, v in result["http"][-1].items() if k != "wrk"}), flush=True)
        db.dispose()
    finally:
        drop_database(a.backend, PG_NAME)
    ip = result["in_process"]
    print(
        "| backend | recipients | in-process check by card p50 / p99 (ms) | challenge p50 | the reader's signature p50 |"
    )
    print("|---|---|---|---|---|")
    print(
        f"| {a.backend} | {a.recipients:,} | {ip['check']['p50_ms']} / {ip['check']['p99_ms']} | "
        f"{ip['challenge_p50_ms']} ms | {ip['reader_sign_p50_ms']} ms |"
    )
    print("| workers | connections | checks by card/s over HTTP | p50 | p99 | non-2xx (bodies ran out) |")
    print("|---|---|---|---|---|---|")
    for h in result["http"]:
        lat = h["latency"]
        print(
            f"| {h['workers']} | {h['connections']} | {h['requests_per_s']} | {lat.get('50')} | {lat.get('99')} | {h['non_2xx']} |"
        )
    out = ROOT / "bench" / "results" / f"card-{a.backend}-{int(time.time())}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=1, default=str))


if __name__ == "__main__":
    main()
