"""A real FHIR client (fhirpy's SyncFHIRClient) against a real server (uvicorn on a free port):
capability statement, Coverage search and read, and $submit as an operation."""

from __future__ import annotations

import pytest
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.coverage import Coverage
from fhir.resources.R4B.coverageeligibilityresponse import CoverageEligibilityResponse
from fhirpy import SyncFHIRClient
from fhirpy.base.exceptions import OperationOutcome, ResourceNotFound

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
