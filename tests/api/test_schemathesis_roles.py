"""schemathesis over every /api/v1 operation as every role that holds an API token: whatever a
caller sends, the answer is never a server error, its status is one the operation documents in
/openapi.json, and its body conforms to the documented schema of that status.

The roles (tests/factories.py ``World.role_auth``): the operator's 運用管理者 and 監査担当, a welfare
office's 担当員 and 管理者, a clinic's 受付, 医師 and 管理者, a pharmacy's 受付, an insurer's 管理者,
and no token at all. (Recipients sign in to the portal with their card, in a web session: they hold
no API token.) Each generated case is sent as each of them, so a refusal (401, 403) is checked as
well as what the operation answers to the roles that may call it.

In the suite this is cheap — ``max_examples`` 2 per operation, derandomised so CI runs the same
cases every time, on PostgreSQL (the production database), in shards of the operations. The full
run (many examples, random): ``FUJO_SCHEMATHESIS_EXAMPLES=100 .venv/bin/pytest
tests/api/test_schemathesis_roles.py -s`` or ``.venv/bin/python bench/schemathesis_all.py``."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup, ServerError
from schemathesis.openapi.checks import UndefinedStatusCode
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from tests.factories import World

# (organisation key of the test world, role); None: no Authorization header
ROLES: list[tuple[str, str] | None] = [
    ("admin", "manager"),
    ("admin", "auditor"),
    ("office", "caseworker"),
    ("office", "manager"),
    ("clinic", "reception"),
    ("clinic", "clinician"),
    ("clinic", "manager"),
    ("pharmacy", "reception"),
    ("insurer", "manager"),
    None,
]
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
EXAMPLES = int(os.environ.get("FUJO_SCHEMATHESIS_EXAMPLES", "2"))
SHARDS = 3


@dataclass
class Report:
    """What a run found: the cases sent, the answers by status, and the failures by check."""

    cases: int = 0
    operations: int = 0
    statuses: Counter = field(default_factory=Counter)
    failures: list[tuple[str, str, str, int, str]] = field(default_factory=list)  # check, operation, role, status, text

    def count(self, check: str) -> int:
        return sum(1 for f in self.failures if f[0] == check)

    def distinct(self) -> list[tuple[str, str, str, int]]:
        """One line per (check, operation, role, status)."""
        return sorted({f[:4] for f in self.failures})

    def summary(self) -> str:
        server_errors = sum(v for k, v in self.statuses.items() if k >= 500)
        return (
            f"{self.cases:,} requests over {self.operations} operations × {len(ROLES)} callers; "
            f"statuses {dict(sorted(self.statuses.items()))}; 5xx: {server_errors}; "
            f"undocumented statuses: {self.count('status_code_conformance')}; "
            f"bodies not conforming to the schema: {self.count('response_schema_conformance')}"
        )


def role_name(who: tuple[str, str] | None) -> str:
    return "no token" if who is None else f"{who[0]}:{who[1]}"


def api_operations(app) -> list:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = sorted((r.ok() for r in schema.get_all_operations()), key=lambda op: (op.path, op.method))
    return [op for op in operations if op.path.startswith("/api/v1/")]


def run(app, world: World, operations: list, examples: int, derandomize: bool, report: Report) -> Report:
    """Every operation with ``examples`` generated cases, each sent as every caller of :data:`ROLES`."""
    headers = {role_name(w): (world.role_auth(*w) if w else {}) for w in ROLES}
    for op in operations:
        report.operations += 1

        @given(case=op.as_strategy())
        @settings(
            max_examples=examples,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
            derandomize=derandomize,
        )
        def call(case):
            base = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
            for who, auth in headers.items():
                case.headers = {**base, **auth}
                response = case.call()
                report.cases += 1
                report.statuses[response.status_code] += 1
                try:
                    case.validate_response(response, checks=CHECKS)
                except FailureGroup as group:
                    for failure in group.exceptions:
                        if isinstance(failure, ServerError):
                            check = "not_a_server_error"
                        elif isinstance(failure, UndefinedStatusCode):
                            check = "status_code_conformance"
                        else:  # JsonSchemaError, MalformedJson …
                            check = "response_schema_conformance"
                        text = f"{failure.title}: {failure.message}"[:400]
                        report.failures.append((check, case.operation.label, who, response.status_code, text))

        call()
    return report


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)
@pytest.mark.parametrize("shard", range(SHARDS))
def test_every_role_gets_documented_answers(app, world, shard):
    operations = api_operations(app)
    assert len(operations) > 40
    mine = operations[shard::SHARDS]
    report = run(app, world, mine, EXAMPLES, derandomize=EXAMPLES <= 2, report=Report())
    print(f"\nschemathesis, shard {shard}: {report.summary()}")
    for line in report.distinct():
        print("  ", *line)
    assert report.failures == [], "\n".join(f"{f[0]} {f[1]} as {f[2]}: {f[3]} {f[4]}" for f in report.failures[:20])
