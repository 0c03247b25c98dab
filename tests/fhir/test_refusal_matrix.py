"""Every refusal of who is calling, on every FHIR endpoint (issue 14), on SQLite and PostgreSQL: no token,
a wrong or revoked token → 401; a token of an organisation that is not a facility (福祉事務所, 保険者,
運用管理者) → 403. Each answer is an OperationOutcome (parsed with the R4B model), ``application/fhir+json``,
with the native API's error code; and, as the native counterpart of the endpoint does for the same caller
(checked alongside), a refused call records nothing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from fhir.resources.R4B.operationoutcome import OperationOutcome
from sqlalchemy import func, select

from fujo.db import schema
from fujo.fhir import mapping
from fujo.orgs.service import issue_credential, revoke_credential
from tests.factories import PAYER
from tests.fhir.conftest import SUBMIT, eligibility_request

FHIR_JSON = "application/fhir+json"


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    params: dict[str, str] | None = None
    body: dict[str, Any] | None = None


def endpoints(world) -> dict[str, tuple[Call, Call]]:
    """Every FHIR endpoint that needs a token (all but /fhir/metadata), each with its native counterpart —
    about a recipient and a ticket that exist, so nothing but the caller is wrong."""
    r = world.recipient()
    t = world.ticket(r)
    rn = r["recipient_number"]
    who = {"payer-number": PAYER, "recipient-number": rn}
    native_who = {"payer_number": PAYER, "recipient_number": rn}
    month = {"month": "2024-07"}
    native_check = {"insurer_number": PAYER, "identification_number": rn, "birthdate": r["birthdate"]}
    return {
        "$submit": (
            Call("POST", SUBMIT, body=eligibility_request(PAYER, rn)),
            Call("POST", "/api/v1/checks/numbers", body=native_check),
        ),
        "$submit batch": (
            Call(
                "POST",
                SUBMIT,
                body={
                    "resourceType": "Bundle",
                    "type": "batch",
                    "entry": [{"resource": eligibility_request(PAYER, rn)}],
                },
            ),
            Call("POST", "/api/v1/checks/numbers/batch", body={"items": [native_check]}),
        ),
        "Coverage search": (
            Call("GET", "/fhir/Coverage", month),
            Call("GET", "/api/v1/facility/tickets", month),
        ),
        "Coverage read": (
            Call("GET", f"/fhir/Coverage/{t['ticket_key']}"),
            Call("GET", "/api/v1/facility/tickets/changes", {"cursor": "0", **month}),
        ),
        "Consent search": (
            Call("GET", "/fhir/Consent", who),
            Call("GET", "/api/v1/medinfo/medication", native_who),
        ),
        "MedicationDispense search": (
            Call("GET", "/fhir/MedicationDispense", who),
            Call("GET", "/api/v1/medinfo/medication", native_who),
        ),
    }


def callers(world) -> dict[str, tuple[dict[str, str], int, str]]:
    """Who calls: (headers, the status, the native error code)."""
    revoked = issue_credential(world.db, world.orgs["clinic"]["id"], label="revoked", role="manager")
    revoke_credential(world.db, world.orgs["clinic"]["id"], revoked["id"])
    unauthorised = (401, "unauthorized")
    forbidden = (403, "forbidden")
    return {
        "no token": ({}, *unauthorised),
        "wrong token": ({"Authorization": "Bearer fujo_not-a-token-of-anyone"}, *unauthorised),
        "not a bearer token": ({"Authorization": f"Basic {world.tokens['clinic']}"}, *unauthorised),
        "revoked facility token": ({"Authorization": f"Bearer {revoked['token']}"}, *unauthorised),
        "welfare office": (world.auth("office"), *forbidden),
        "insurer": (world.auth("insurer"), *forbidden),
        "administrator": (world.auth("admin"), *forbidden),
    }


ENDPOINTS = [
    "$submit",
    "$submit batch",
    "Coverage search",
    "Coverage read",
    "Consent search",
    "MedicationDispense search",
]
CALLERS = [
    "no token",
    "wrong token",
    "not a bearer token",
    "revoked facility token",
    "welfare office",
    "insurer",
    "administrator",
]


def recorded(db) -> int:
    """Entries of the audit trail: the access log and what waits to join its chain."""
    with db.read() as conn:
        return sum(
            conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (schema.check_log, schema.audit_pending)
        )


def send(client, call: Call, headers: dict[str, str]):
    if call.path == SUBMIT:
        headers = {**headers, "Content-Type": FHIR_JSON}
    return client.request(call.method, call.path, params=call.params, json=call.body, headers=headers)


def test_the_matrix_is_every_served_endpoint(client, world):
    """Every /fhir route but the capability statement is in the matrix (a route added later must join it)."""
    spec = client.get("/openapi.json").json()
    served = {(m.upper(), p) for p, ms in spec["paths"].items() if p.startswith("/fhir/") for m in ms}
    calls = {
        (f.method, "/fhir/Coverage/{coverage_id}" if f.path.startswith("/fhir/Coverage/") else f.path)
        for f, _ in endpoints(world).values()
    }
    assert served - {("GET", "/fhir/metadata")} == calls


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("caller", CALLERS)
def test_a_refused_caller_gets_an_operation_outcome_and_nothing_is_recorded(client, world, db, endpoint, caller):
    fhir_call, native_call = endpoints(world)[endpoint]
    headers, status, code = callers(world)[caller]
    before = recorded(db)
    res = send(client, fhir_call, headers)
    assert res.status_code == status, res.text
    assert res.headers["content-type"].startswith(FHIR_JSON)
    outcome = OperationOutcome.model_validate(res.json())
    [issue] = outcome.issue
    assert issue.severity == "error" and issue.code == ("login" if status == 401 else "forbidden")
    assert [(c.system, c.code) for c in issue.details.coding] == [(mapping.CS_PROBLEM, code)]
    assert issue.details.text and issue.diagnostics  # Japanese for the desk, English for the log
    if status == 401:
        assert res.headers["www-authenticate"] == "Bearer"
    assert recorded(db) == before
    # the native counterpart refuses the same caller the same way, recording nothing either
    native = send(client, native_call, headers)
    assert native.status_code == status, native.text
    assert native.json()["error"]["code"] == code
    assert recorded(db) == before


def test_a_refused_view_of_medication_is_recorded_as_the_native_refusal_is(client, world, db):
    """The other 403 of a facility's own token: 薬剤情報 for a role that is not clinician. Natively that
    refusal is recorded (the recipient's access log shows who tried): so it is through FHIR, once each."""
    fhir_call, native_call = endpoints(world)["MedicationDispense search"]
    reception = world.role_auth("clinic", "reception")
    before = recorded(db)
    res = send(client, fhir_call, reception)
    assert res.status_code == 403 and res.headers["content-type"].startswith(FHIR_JSON)
    [issue] = OperationOutcome.model_validate(res.json()).issue
    assert [c.code for c in issue.details.coding] == ["medinfo_refused", "role"]
    assert recorded(db) == before + 1
    native = send(client, native_call, reception)
    assert native.status_code == 403 and native.json()["error"]["code"] == "medinfo_refused"
    assert recorded(db) == before + 2
