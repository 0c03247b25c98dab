"""Property-based API fuzzing with schemathesis: whatever a client sends, the answer is never a
server error, and a refusal always has the documented error shape.

Run on PostgreSQL (the production database; what is fuzzed is the validation in front of the
services, which is the same code on either), in four shards of the operations so that the test
workers share it instead of one worker running all of it."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

SHARDS = 4


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)
@pytest.mark.parametrize("shard", range(SHARDS))
def test_no_input_makes_the_server_fail(app, world, shard):
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures = []
    operations = sorted((r.ok() for r in schema.get_all_operations()), key=lambda op: (op.path, op.method))
    assert len(operations) > 20
    mine = [op for op in operations if op.path.startswith("/api/v1/")][shard::SHARDS]
    assert mine  # every shard fuzzes something
    for op in mine:

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
