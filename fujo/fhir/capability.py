"""GET /fhir/metadata: what the FHIR interface serves, as an R4 CapabilityStatement."""

from __future__ import annotations

import datetime as dt

from fhir.resources.R4B.capabilitystatement import (
    CapabilityStatement,
    CapabilityStatementImplementation,
    CapabilityStatementRest,
    CapabilityStatementRestResource,
    CapabilityStatementRestResourceInteraction,
    CapabilityStatementRestResourceOperation,
    CapabilityStatementRestResourceSearchParam,
    CapabilityStatementRestSecurity,
    CapabilityStatementSoftware,
)

from .. import __version__
from .mapping import BASE

SUBMIT = f"{BASE}/OperationDefinition/CoverageEligibilityRequest-submit"
MONTH_PARAM = f"{BASE}/SearchParameter/Coverage-month"
NOT_YET = {
    "Consent": "Not yet served: the recipient's consent to 薬剤情報・診療情報 (fujo.medinfo) is being built.",
    "MedicationDispense": "Not yet served: 薬剤情報 (fujo.medinfo) is being built; use /api/v1/medinfo meanwhile.",
}


def capability_statement(base_url: str, date: dt.datetime) -> CapabilityStatement:
    """``base_url``: where this server's /fhir is (e.g. ``https://host/fhir``); ``date``: of the statement."""
    resources = [
        CapabilityStatementRestResource(
            type="Coverage",
            documentation=(
                "One 医療券/調剤券 designated to the calling facility (id = the ticket key), with the recipient and "
                "the welfare office contained; masked as the 委託先一括取得 download is (docs/FHIR.md)."
            ),
            interaction=[
                CapabilityStatementRestResourceInteraction(code="read"),
                CapabilityStatementRestResourceInteraction(code="search-type"),
            ],
            searchParam=[
                CapabilityStatementRestResourceSearchParam(
                    name="month",
                    definition=MONTH_PARAM,
                    type="date",
                    documentation="診療年月 YYYY-MM (required): the facility's tickets of that month.",
                )
            ],
        ),
        CapabilityStatementRestResource(
            type="CoverageEligibilityRequest",
            documentation=(
                "Check by numbers: POST one CoverageEligibilityRequest (or a batch Bundle of them) to $submit; "
                "the answer is a CoverageEligibilityResponse (a batch-response Bundle)."
            ),
            operation=[CapabilityStatementRestResourceOperation(name="submit", definition=SUBMIT)],
        ),
        CapabilityStatementRestResource(
            type="CoverageEligibilityResponse",
            documentation="Returned by CoverageEligibilityRequest/$submit; not stored, not readable.",
        ),
    ]
    resources += [CapabilityStatementRestResource(type=k, documentation=v) for k, v in NOT_YET.items()]
    return CapabilityStatement(
        url=f"{base_url}/metadata",
        name="FujoEligibility",
        title="fujo — 医療扶助のオンライン資格確認 FHIR interface",
        status="active",
        date=date,
        publisher="fujo",
        kind="instance",
        software=CapabilityStatementSoftware(name="fujo", version=__version__),
        implementation=CapabilityStatementImplementation(description="fujo FHIR R4 interface", url=base_url),
        fhirVersion="4.0.1",
        format=["application/fhir+json", "json"],
        rest=[
            CapabilityStatementRest(
                mode="server",
                documentation=(
                    "JP Core identifiers (docs/FHIR.md). Consent and MedicationDispense are not yet served. "
                    "Every check and every read is recorded in the recipient's access log (channel fhir)."
                ),
                security=CapabilityStatementRestSecurity(
                    cors=False,
                    description="Authorization: Bearer <per-organisation API token (fujo_…)>, as the native API.",
                ),
                resource=resources,
            )
        ],
    )
