"""The server's Prometheus metrics, in one place so that any package may count without importing
the HTTP layer (served at ``/metrics`` by fujo.api.observe). Labels never carry personal data."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

HTTP_SECONDS = Histogram(
    "fujo_http_request_seconds",
    "Time from the request's arrival to the end of its answer",
    ["method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
CHECKS = Counter("fujo_checks_total", "Recorded checks and downloads, by method and outcome", ["method", "outcome"])
AUDIT_BATCH = Histogram(
    "fujo_audit_batch_rows", "Rows per group commit of the audit trail", buckets=(1, 2, 5, 10, 20, 50, 100, 500, 1000)
)
STORAGE_FAULTS = Counter("fujo_storage_faults_total", "Requests refused for a storage fault, by cause", ["cause"])
