"""`fujo serve --workers 2`: ``/metrics`` counts the requests of the whole server, whichever worker a
scrape reaches (prometheus_client's multiprocess mode, fujo.api.server.metrics_folder) — before, each
scrape showed the one worker that answered it, so counters seemed to jump up and down."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
from prometheus_client.parser import text_string_to_metric_families

from fujo import outbound
from tests.db.throwaway_pg import free_port, poll

REQUESTS = 60


def health_count(text: str) -> float:
    return sum(
        s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
        if s.name == "fujo_http_request_seconds_count" and s.labels.get("route") == "/api/v1/health"
    )


def test_metrics_sum_every_worker(tmp_path):
    port = free_port()
    env = {**os.environ, "FUJO_DATA_DIR": str(tmp_path), "FUJO_DATABASE_URL": f"sqlite:///{tmp_path / 'fujo.db'}"}
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
    finally:
        proc.terminate()
        proc.wait(30)
