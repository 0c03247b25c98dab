"""Requests of the FHIR interface, built with the R4B models (as a client would)."""

from __future__ import annotations

import pytest
from fhir.resources.R4B.coverage import Coverage
from fhir.resources.R4B.coverageeligibilityrequest import (
    CoverageEligibilityRequest,
    CoverageEligibilityRequestInsurance,
)
from fhir.resources.R4B.identifier import Identifier
from fhir.resources.R4B.organization import Organization
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.reference import Reference

from fujo.fhir.mapping import INSURED_NUMBER, INSURER_SYSTEM, PAYER_SYSTEM, RECIPIENT_SYSTEM
from fujo.terminal.localserver import LocalServer

SUBMIT = "/fhir/CoverageEligibilityRequest/$submit"


def eligibility_request(
    payer: str,
    recipient: str | None,
    birthdate: str | None = "1990-01-15",
    on: str = "2024-07-10",
    system: str = PAYER_SYSTEM,
    ident: str = "req-1",
) -> dict:
    """A CoverageEligibilityRequest by numbers: 公費負担者番号 (or 保険者番号 with ``system``) on the
    contained payor, 受給者番号 on the contained Coverage, birth date on the contained Patient."""
    cov = Coverage(
        id="cov",
        status="active",
        beneficiary=Reference(reference="#pat"),
        payor=[Reference(reference="#org")],
    )
    if recipient is not None:
        if system == PAYER_SYSTEM:
            cov.identifier = [Identifier(system=RECIPIENT_SYSTEM, value=recipient)]
        else:
            cov.extension = [{"url": INSURED_NUMBER, "valueString": recipient}]
    req = CoverageEligibilityRequest(
        identifier=[Identifier(system="urn:example:client-request", value=ident)],
        status="active",
        purpose=["validation"],
        created="2024-07-10",
        servicedDate=on,
        patient=Reference(reference="#pat"),
        insurer=Reference(reference="#org"),
        contained=[
            Patient(id="pat", birthDate=birthdate) if birthdate else Patient(id="pat"),
            Organization(id="org", identifier=[Identifier(system=system, value=payer)]),
            cov,
        ],
        insurance=[CoverageEligibilityRequestInsurance(coverage=Reference(reference="#cov"))],
    )
    return req.model_dump(mode="json")


__all__ = ["INSURER_SYSTEM", "SUBMIT", "eligibility_request"]


@pytest.fixture
def server(app):
    with LocalServer(app) as s:
        yield s
