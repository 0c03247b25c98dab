"""`fujo serve --workers 2`: ``/metrics`` counts the requests of the whole server, whichever worker a
scrape reaches (prometheus_client's multiprocess mode, fujo.api.server.metrics_folder) — before, each
scrape showed the one worker that answered it, so counters seemed to jump up and down."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from fujo import outbound
from tests.db.throwaway_pg import free_port, poll
from tests.jobs.test_isolated_jobs import _csv

REQUESTS = 60


def health_count(text: str) -> float:
    return sum(
        s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
        if s.name == "fujo_http_request_seconds_count" and s.labels.get("route") == "/api/v1/health"
    )


def _an_office_token(url: str) -> str:
    from fujo.auth.principal import WELFARE_OFFICE
    from fujo.db.database import Database
    from fujo.db.migrate import upgrade
    from fujo.orgs.service import create_organisation, issue_credential
    from tests.factories import PAYER

    db = Database(url)
    upgrade(db)
    office = create_organisation(
        db, kind=WELFARE_OFFICE, code="13001", name="○○市福祉事務所", phone="03-0000-0000", payer_numbers=[PAYER]
    )
    token = issue_credential(db, office["id"], label="test", role="manager")["token"]
    db.dispose()
    return token


def test_metrics_sum_every_worker(tmp_path):
    """…and a worker stopped with the server ends normally: the folder of the fork server its import
    job started (``pymp-…`` under TMPDIR) is removed (uvicorn's workers died of the signal, leaving it)."""
    port = free_port()
    url = f"sqlite:///{tmp_path / 'fujo.db'}"
    token = _an_office_token(url)
    tmp = Path(tempfile.mkdtemp(prefix="fj-", dir="/tmp"))  # short: the fork server's socket path fits AF_UNIX
    env = {**os.environ, "FUJO_DATA_DIR": str(tmp_path), "FUJO_DATABASE_URL": url, "TMPDIR": str(tmp)}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    fujo = os.path.join(os.path.dirname(sys.executable), "fujo")
    proc = subprocess.Popen(
        [fujo, "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    folder = tmp_path / "metrics" / str(port)
    try:

        def up() -> bool:
            try:
                return outbound.get(f"{base}/metrics", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        assert poll(up, 90), "the server did not start"
        # both workers answer (a new connection each time: the kernel hands them to either)
        for _ in range(REQUESTS):
            assert outbound.get(f"{base}/api/v1/health", timeout=10).status_code == 200
        assert len({name.rsplit("_", 1)[-1] for name in os.listdir(folder)}) == 2  # each worker's own files
        for _ in range(6):  # every scrape, whichever worker answers it, counts them all
            assert health_count(outbound.get(f"{base}/metrics", timeout=10).text) == REQUESTS
        res = outbound.post(
            f"{base}/api/v1/imports/recipients",
            headers={"Authorization": f"Bearer {token}"},
            files={"file": ("r.csv", _csv(1))},
            timeout=30,
        )
        assert res.status_code == 202, res.text
        job = res.json()["id"]
        auth = {"Authorization": f"Bearer {token}"}
        assert poll(lambda: outbound.get(f"{base}/api/v1/jobs/{job}", headers=auth).json()["state"] == "done", 60)
        running = [p.name for p in tmp.iterdir() if p.name.startswith("pymp-")]
    finally:
        proc.terminate()
        proc.wait(30)
        left = [p.name for p in tmp.iterdir()]
        shutil.rmtree(tmp, ignore_errors=True)
    assert running and left == []
