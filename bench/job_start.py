"""How long a small CSV import takes through a real server, upload to done: mostly the job's start
(the server runs each job in a child process, fujo/jobs/isolated.py).

    .venv/bin/python bench/job_start.py --backend sqlite --jobs 20 [--baseline /path/to/older/tree]

Starts `fujo serve` (this tree, or ``--baseline``'s, alternately when given: interleaved rounds) on
the demo data, uploads ``--jobs`` one-row recipient files as the demo welfare office and polls each
job until it ends; prints the median, min and max of each round (the first job of a server also
starts its fork server: it is reported apart)."""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import httpx  # noqa: E402
from check_bench import drop_database, fresh_database, start_server  # noqa: E402

from fujo.core.numbers import with_check_digit  # noqa: E402

PAYER = with_check_digit("1213001")  # the demo office's payer (fujo/demo/data.py)
COLUMNS = "payer_number,recipient_number,name,name_kana,sex,birthdate,address,post_number,qualification_date"


def one_job(client: httpx.Client, number: int) -> float:
    row = f"{PAYER},{with_check_digit(str(number))},生保一郎,ｾｲﾎ ｲﾁﾛｳ,1,1990-01-15,東京都,100-0001,2020-04-01"
    started = time.perf_counter()
    res = client.post("/api/v1/imports/recipients", files={"file": ("r.csv", f"{COLUMNS}\r\n{row}\r\n", "text/csv")})
    if res.status_code != 202:
        raise SystemExit(f"import refused: {res.status_code} {res.text}")
    while True:
        job = client.get(res.headers["Location"]).json()
        if job["state"] in ("done", "failed"):
            break
        time.sleep(0.005)
    if job["state"] != "done":
        raise SystemExit(f"job failed: {job['error']}")
    return (time.perf_counter() - started) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    ap.add_argument("--jobs", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--baseline", type=Path, help="an older source tree, measured in turn with this one")
    a = ap.parse_args()
    trees = [("this tree", ROOT)] + ([("baseline", a.baseline)] if a.baseline else [])
    number = 100_000
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        url = fresh_database(a.backend, workdir, "fujo_job_start")
        env = {"FUJO_DATABASE_URL": url, "FUJO_DATA_DIR": str(workdir / "data")}
        fujo = str(Path(sys.executable).parent / "fujo")
        subprocess.run([fujo, "demo"], env={**os.environ, **env}, check=True, capture_output=True)
        with socket.socket() as sock:  # a free port
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        try:
            for rnd in range(a.rounds):
                for name, tree in trees:
                    server = start_server(url, workdir / "data", port, limits="imports=1000000", tree=tree)
                    try:
                        headers = {"Authorization": "Bearer demo-office-token"}
                        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=60) as c:
                            times = []
                            for _ in range(a.jobs + 1):
                                number += 1
                                times.append(one_job(c, number))
                    finally:
                        server.terminate()
                        server.wait(30)
                    rest = times[1:]
                    print(
                        f"round {rnd + 1} {name}: first job {times[0]:.0f} ms; next {len(rest)}: "
                        f"median {statistics.median(rest):.0f} ms, min {min(rest):.0f}, max {max(rest):.0f}"
                    )
        finally:
            if a.backend == "postgresql":
                drop_database(a.backend, "fujo_job_start")


if __name__ == "__main__":
    main()
