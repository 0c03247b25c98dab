"""Two `fujo serve` instances on different ports behind nginx, on one PostgreSQL (issue 12: "N server
processes behave as one"), against one instance alone — checks by numbers, wrk, 32 connections.

    .venv/bin/python bench/two_instances.py --recipients 100000 --rounds 2

Seeds the database as bench/check_bench.py does (PostgreSQL, its own throw-away database), starts two
instances (`--workers 1` each, the same data folder: one card CA, as every host of a database must
have, cards/host_secrets.py) and nginx (Debian's; installed when missing) with both as upstreams
(least_conn, keep-alive to the upstreams), and measures, interleaved round by round, wrk against
nginx (both instances) and against one instance directly. Also shows the two instances act as one:
a token revoked through instance A is refused by instance B at once (orgs/auth_listener.py).
Writes bench/results/two-instances-*.json and prints a Markdown table."""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from check_bench import CLINIC, PER_PAYER, WRK_LUA, fresh_database, run_wrk, seed, start_server  # noqa: E402

from fujo import outbound  # noqa: E402
from fujo.auth.principal import ADMIN, FACILITY  # noqa: E402
from fujo.db.database import Database  # noqa: E402
from fujo.db.migrate import upgrade  # noqa: E402
from fujo.orgs.service import create_organisation, issue_credential, principal_for  # noqa: E402

NGINX_CONF = """
worker_processes 1;
pid %(dir)s/nginx.pid;
error_log %(dir)s/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path %(dir)s/body;
    proxy_temp_path %(dir)s/proxy;
    fastcgi_temp_path %(dir)s/fastcgi;
    uwsgi_temp_path %(dir)s/uwsgi;
    scgi_temp_path %(dir)s/scgi;
    upstream fujo {
        least_conn;
        server 127.0.0.1:%(a)d;
        server 127.0.0.1:%(b)d;
        keepalive 64;
    }
    server {
        listen 127.0.0.1:%(port)d;
        location / {
            proxy_pass http://fujo;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
        }
    }
}
"""


def nginx() -> str:
    found = shutil.which("nginx") or (Path("/usr/sbin/nginx").exists() and "/usr/sbin/nginx")
    if not found:
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        env = {"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
        subprocess.run(["apt-get", "install", "-y", "-qq", "nginx"], check=True, env=env)
        found = shutil.which("nginx") or "/usr/sbin/nginx"
    return str(found)


def revocation_across(base_a: str, base_b: str, db: Database) -> float:
    """Seconds from revoking a token through A until B refuses it (B had authenticated it first)."""
    operator = create_organisation(db, kind=ADMIN, code="operator", name="運用管理者")
    admin = issue_credential(db, operator["id"], label="bench admin")
    org_id = principal_for(db, kind=FACILITY, code=CLINIC).organisation_id
    cred = issue_credential(db, org_id, label="revoked", role="reception")
    headers = {"Authorization": f"Bearer {cred['token']}"}
    for base in (base_a, base_b):
        assert outbound.get(f"{base}/api/v1/facility/settings", headers=headers).status_code == 200
    t0 = time.perf_counter()
    res = outbound.delete(
        f"{base_a}/api/v1/organisations/{org_id}/credentials/{cred['id']}",
        headers={"Authorization": f"Bearer {admin['token']}"},
    )
    assert res.status_code == 204, res.text
    while outbound.get(f"{base_b}/api/v1/facility/settings", headers=headers).status_code != 401:
        if time.perf_counter() - t0 > 30:
            raise SystemExit("instance B still honours the revoked token after 30 s")
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--recipients", type=int, default=100_000)
    ap.add_argument("--seconds", type=int, default=15)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=2)
    a = ap.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="fujo-two-"))
    url = fresh_database("postgresql", workdir)
    db = Database(url)
    upgrade(db)
    seeded = seed(db, a.recipients)
    lua = workdir / "check.lua"
    lua.write_text(WRK_LUA % {"n": a.recipients, "per": PER_PAYER, "token": seeded["token"]})
    port_a, port_b, port_n = 18600, 18601, 18602
    servers = [start_server(url, workdir, port_a)]  # the first creates the card CA; the second finds it
    servers.append(start_server(url, workdir, port_b))
    conf = workdir / "nginx.conf"
    conf.write_text(NGINX_CONF % {"dir": workdir, "a": port_a, "b": port_b, "port": port_n})
    proxy = subprocess.Popen([nginx(), "-c", str(conf), "-p", str(workdir), "-g", "daemon off;"])
    runs: dict[str, list[dict]] = {"one instance": [], "two behind nginx": []}
    try:
        time.sleep(1)
        revoked_in = revocation_across(f"http://127.0.0.1:{port_a}", f"http://127.0.0.1:{port_b}", db)
        for _ in range(a.rounds):
            runs["one instance"].append(run_wrk(f"http://127.0.0.1:{port_a}", lua, a.seconds, a.connections))
            runs["two behind nginx"].append(run_wrk(f"http://127.0.0.1:{port_n}", lua, a.seconds, a.connections))
    finally:
        proxy.terminate()
        for srv in servers:
            srv.terminate()
        for p in [proxy, *servers]:
            p.wait(timeout=30)
    result = {
        "recipients": a.recipients,
        "connections": a.connections,
        "seconds": a.seconds,
        "revoked_everywhere_s": round(revoked_in, 3),
        "runs": {k: [{x: r[x] for x in ("requests_per_s", "latency", "non_2xx")} for r in v] for k, v in runs.items()},
    }
    (ROOT / "bench" / "results").mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (ROOT / "bench" / "results" / f"two-instances-{stamp}.json").write_text(json.dumps(result, indent=2))
    print(f"revoked through A, refused by B after {revoked_in * 1000:.0f} ms")
    print("| setup | checks/s (median of rounds) | rounds | p50 | p99 | non-2xx |")
    print("|---|---|---|---|---|---|")
    for k, v in runs.items():
        med = statistics.median(r["requests_per_s"] for r in v)
        print(
            f"| {k} | {med:,.0f} | {', '.join(str(r['requests_per_s']) for r in v)} | "
            f"{v[-1]['latency'].get('50')} | {v[-1]['latency'].get('99')} | {sum(r['non_2xx'] for r in v)} |"
        )
    db.dispose()
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
