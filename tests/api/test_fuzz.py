"""Property-based API fuzzing with schemathesis, on both databases: whatever a client sends, the
answer is never a server error, and a refusal always has the documented error shape."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings


def test_no_input_makes_the_server_fail(app, world):
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures = []
    operations = [r.ok() for r in schema.get_all_operations()]
    assert len(operations) > 20
    for op in operations:
        if not op.path.startswith("/api/v1/"):
            continue

        @given(case=op.as_strategy())
        @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def run(case):
            for who in ("office", "clinic", "admin"):
                case.headers = {**(case.headers or {}), "Authorization": f"Bearer {world.tokens[who]}"}
                response = case.call()
                if response.status_code >= 500:
                    failures.append((case.method, case.path, response.status_code, response.text[:200]))
                elif response.status_code >= 400 and "json" in response.headers.get("content-type", ""):
                    err = response.json()["error"]
                    assert err["code"] and err["message_ja"] and err["message_en"]

        run()
    assert failures == []
