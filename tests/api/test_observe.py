"""Request ids, JSON access lines and Prometheus metrics — and no personal data in any of them."""

from __future__ import annotations

import json
import logging
import re

from prometheus_client.parser import text_string_to_metric_families

from fujo.api.observe import JsonFormatter
from tests.factories import PAYER


def test_every_answer_carries_a_request_id_and_a_plain_given_one_is_echoed(client):
    a, b = client.get("/api/v1/health"), client.get("/api/v1/health")
    assert a.headers["X-Request-ID"] and a.headers["X-Request-ID"] != b.headers["X-Request-ID"]
    assert client.get("/api/v1/health", headers={"X-Request-ID": "lb-1234.5"}).headers["X-Request-ID"] == "lb-1234.5"
    odd = client.get("/api/v1/health", headers={"X-Request-ID": "<script>" + "x" * 100})
    assert odd.headers["X-Request-ID"] != "<script>" + "x" * 100
    assert client.get("/nowhere").headers["X-Request-ID"]  # a 404 too


def test_access_lines_are_json_with_the_route_template_not_the_numbers(client, world, caplog):
    r = world.recipient()
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    with caplog.at_level(logging.INFO, logger="fujo.access"):
        res = client.get(f"/api/v1/recipients/{PAYER}/{r['recipient_number']}", headers=world.auth("office"))
    assert res.status_code == 200
    (rec,) = [x for x in caplog.records if x.name == "fujo.access"]
    line = json.loads(handler.format(rec))
    assert line["route"] == "/api/v1/recipients/{payer_number}/{recipient_number}" and line["status"] == 200
    assert line["request_id"] == res.headers["X-Request-ID"]
    text = json.dumps(line, ensure_ascii=False)
    assert r["recipient_number"] not in text and PAYER not in text and r["name"] not in text


def test_an_exception_is_logged_by_its_class_only():
    try:
        raise ValueError("生保一郎 1234567")
    except ValueError:
        import sys

        rec = logging.LogRecord("fujo", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    line = json.loads(JsonFormatter().format(rec))
    assert line["error"] == "ValueError" and "生保一郎" not in json.dumps(line, ensure_ascii=False)


def test_metrics_count_requests_by_route_template(client, world):
    r = world.recipient()
    client.get(f"/api/v1/recipients/{PAYER}/{r['recipient_number']}", headers=world.auth("office"))
    res = client.get("/metrics")
    assert res.status_code == 200 and res.headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(res.text)}
    samples = families["fujo_http_request_seconds"].samples
    routes = {s.labels.get("route") for s in samples}
    assert "/api/v1/recipients/{payer_number}/{recipient_number}" in routes
    client.get("/api/v1/recipients-1234567-nowhere")
    routes = {
        s.labels.get("route") for f in text_string_to_metric_families(client.get("/metrics").text) for s in f.samples
    }
    assert "(unmatched)" in routes and not any(x and "1234567" in x for x in routes)
    # the numbers are in no label (a sample's value may hold the same digits: 0.0848748610001166…)
    labels = {v for f in text_string_to_metric_families(res.text) for s in f.samples for v in s.labels.values()}
    assert not any(r["recipient_number"] in v or PAYER in v for v in labels)


def test_the_servers_log_lines_are_written_off_the_loop_and_none_is_lost_at_exit():
    """``fujo serve``'s logging (observe.log_config): records go through a queue to a writer thread,
    keep the request id of the request that logged them and the class of an exception, and every
    line is on stderr when the process ends."""
    import subprocess
    import sys

    prog = """
import logging, logging.config
from fujo.api.observe import REQUEST_ID, log_config
logging.config.dictConfig(log_config())
REQUEST_ID.set("req-42")
for i in range(500):
    logging.getLogger("fujo.access").info("request", extra={"fields": {"route": "/api/v1/x", "n": i}})
try:
    raise KeyError("1234567 secret")
except KeyError:
    logging.getLogger("fujo.web").exception("failed")
import httpx  # the server calls webhooks (their test ping): the URL and its token stay out of the log
httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(200))).post("http://hook.example/in?token=abc")
"""
    res = subprocess.run([sys.executable, "-c", prog], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    lines = [json.loads(x) for x in res.stderr.splitlines()]
    access = [x for x in lines if x["logger"] == "fujo.access"]
    assert [x["n"] for x in access] == list(range(500))  # all of them, in order
    assert {x["request_id"] for x in access} == {"req-42"}
    (failed,) = [x for x in lines if x["logger"] == "fujo.web"]
    assert failed["error"] == "KeyError" and failed["request_id"] == "req-42"
    assert "secret" not in res.stderr and "1234567" not in res.stderr
    assert "token=abc" not in res.stderr and "hook.example" not in res.stderr


def test_request_ids_are_distinct_and_plain(client):
    ids = {client.get("/api/v1/health").headers["X-Request-ID"] for _ in range(50)}
    assert len(ids) == 50
    assert all(re.fullmatch(r"[0-9a-f]+-[0-9a-f]+", i) and len(i) <= 64 for i in ids)
