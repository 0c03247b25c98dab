"""A real FHIR client (fhirpy's SyncFHIRClient) against a real server (uvicorn on a free port):
capability statement, Coverage search (every page, following next) and read, $submit as an
operation, and MedicationDispense / Consent with their refusals."""

from __future__ import annotations

import pytest
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.coverage import Coverage
from fhir.resources.R4B.coverageeligibilityresponse import CoverageEligibilityResponse
from fhir.resources.R4B.medicationdispense import MedicationDispense
from fhirpy import SyncFHIRClient
from fhirpy.base.exceptions import ForbiddenError, OperationOutcome, ResourceNotFound

from fujo.core.dates import today_jst
from fujo.fhir import mapping
from tests.factories import PAYER
from tests.fhir.conftest import eligibility_request


def _client(server, world, who: str) -> SyncFHIRClient:
    return SyncFHIRClient(f"{server.url}/fhir", authorization=f"Bearer {world.tokens[who]}")


def test_fhirpy_reads_metadata_searches_reads_and_submits(server, world):
    r = world.recipient()
    t = world.ticket(r)
    fhir = _client(server, world, "clinic")

    cs = CapabilityStatement.model_validate(fhir.execute("metadata", method="get"))
    assert cs.fhirVersion == "4.0.1"

    found = fhir.resources("Coverage").search(month="2024-07").fetch()
    assert [c.id for c in found] == [t["ticket_key"]]
    cov = Coverage.model_validate(found[0].serialize())
    assert cov.identifier[0].system == mapping.RECIPIENT_SYSTEM and cov.identifier[0].value == r["recipient_number"]

    read = fhir.reference("Coverage", t["ticket_key"]).to_resource()
    assert Coverage.model_validate(read.serialize()).model_dump() == cov.model_dump()

    answer = fhir.execute(
        "CoverageEligibilityRequest/$submit", method="post", data=eligibility_request(PAYER, r["recipient_number"])
    )
    resp = CoverageEligibilityResponse.model_validate(answer)
    assert resp.outcome == "complete" and resp.insurance[0].inforce is True
    assert resp.insurance[0].item[0].provider.identifier.value == t["designated_facility_code"]


def test_fhirpy_sees_refusals_as_operation_outcomes(server, world):
    r = world.recipient()
    t = world.ticket(r)
    other = _client(server, world, "other")
    with pytest.raises(ResourceNotFound):
        other.reference("Coverage", t["ticket_key"]).to_resource()
    masked = other.execute(
        "CoverageEligibilityRequest/$submit", method="post", data=eligibility_request(PAYER, r["recipient_number"])
    )
    assert r["recipient_number"] not in str(masked) and PAYER not in str(masked)
    with pytest.raises(OperationOutcome) as refused:
        other.execute("CoverageEligibilityRequest/$submit", method="post", data=eligibility_request(PAYER, "1000000"))
    assert "recipient_number" in str(refused.value)


def test_fhirpy_follows_the_next_links_through_every_page(server, world):
    rs = [world.recipient() for _ in range(5)]
    keys = [world.ticket(r)["ticket_key"] for r in rs]
    fhir = _client(server, world, "clinic")
    search = fhir.resources("Coverage").search(month="2024-07").limit(2)  # _count=2: three pages
    assert [c.id for c in search.fetch()] == keys[:2]
    walked = search.fetch_all()
    assert [c.id for c in walked] == keys  # the native download's order, each once
    assert search.fetch_raw()["total"] == 5


def test_fhirpy_reads_medication_dispenses_with_consent(server, world):
    from tests.medinfo.helpers import add, card_check, medication

    r = world.recipient()
    add(world, "medication", medication(r, today_jst()))
    check = card_check(world, world.card(r))
    fhir = SyncFHIRClient(f"{server.url}/fhir", authorization=world.role_auth("clinic", "clinician")["Authorization"])
    [dispense] = fhir.resources("MedicationDispense").search(**{"check-id": check["CheckId"]}).fetch_all()
    assert MedicationDispense.model_validate(dispense.serialize()).status == "completed"
    [consent] = fhir.resources("Consent").search(**{"check-id": check["CheckId"]}).fetch()
    assert consent["status"] == "active"
    reception = _client(server, world, "clinic")  # the test token is the facility's 管理者: not a clinician
    with pytest.raises(ForbiddenError) as refused:  # 403: the OperationOutcome names the reason
        reception.resources("MedicationDispense").search(**{"check-id": check["CheckId"]}).fetch()
    assert '"code":"role"' in str(refused.value)
