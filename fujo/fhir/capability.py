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
from .service import COUNT_DEFAULT, COUNT_MAX

SUBMIT = f"{BASE}/OperationDefinition/CoverageEligibilityRequest-submit"
MONTH_PARAM = f"{BASE}/SearchParameter/Coverage-month"
# What the native API serves and this interface does not (yet): said in the statement itself, so a
# client learns it from /fhir/metadata, not by a 404 (docs/FHIR.md, Not (yet) done).
NOT_YET_SERVED = {
    "MedicationStatement": "薬剤情報 is served as MedicationDispense only (one per record of the native view)",
    "診療情報 (diagnosis)": "/api/v1/medinfo/diagnosis has no FHIR form yet",
    "特定健診情報 (checkups)": "/api/v1/medinfo/checkups has no FHIR form yet",
    "手術情報 (surgery)": "/api/v1/medinfo/surgery has no FHIR form yet",
}
WHO_PARAMS = {  # search parameters of Consent and MedicationDispense: whose information
    "check-id": "CheckId of this facility's own check of the patient (a card check for a consent).",
    "payer-number": "公費負担者番号 (with recipient-number), instead of check-id.",
    "recipient-number": "受給者番号 (with payer-number), instead of check-id.",
}


def _who_params(resource: str) -> list[CapabilityStatementRestResourceSearchParam]:
    return [
        CapabilityStatementRestResourceSearchParam(
            name=name, definition=f"{BASE}/SearchParameter/{resource}-{name}", type="token", documentation=doc
        )
        for name, doc in WHO_PARAMS.items()
    ]


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
                    documentation=(
                        "診療年月 YYYY-MM (required): the facility's tickets of that month, paged: _count per page "
                        f"(default {COUNT_DEFAULT}, at most {COUNT_MAX}); follow the next link (it carries _cursor, "
                        "the walk's snapshot and position)."
                    ),
                )
            ],
        ),
        CapabilityStatementRestResource(
            type="CoverageEligibilityRequest",
            documentation=(
                "Check by numbers: POST one CoverageEligibilityRequest (or a batch Bundle of them) to $submit; "
                "the answer is a CoverageEligibilityResponse (a batch-response Bundle). Numbers and a birth date "
                "that match nobody (該当資格なし) are a 422 OperationOutcome (not-found; the check is recorded)."
            ),
            operation=[CapabilityStatementRestResourceOperation(name="submit", definition=SUBMIT)],
        ),
        CapabilityStatementRestResource(
            type="CoverageEligibilityResponse",
            documentation="Returned by CoverageEligibilityRequest/$submit; not stored, not readable.",
        ),
    ]
    resources += [
        CapabilityStatementRestResource(
            type="Consent",
            documentation=(
                "The patient's consent to 薬剤情報・診療情報・特定健診情報・手術情報 given at this facility's card "
                "reader (the newest card check here decides; 24 hours): active while it opens the data, inactive "
                "once expired. Any facility role. Of the data it opens, only 薬剤情報 is served (MedicationDispense); "
                "診療情報・特定健診情報・手術情報 are not yet served."
            ),
            interaction=[CapabilityStatementRestResourceInteraction(code="search-type")],
            searchParam=_who_params("Consent"),
        ),
        CapabilityStatementRestResource(
            type="MedicationDispense",
            documentation=(
                "薬剤情報 under the rules of /api/v1/medinfo/medication: role clinician, a consent given at this "
                "facility's card reader within 24 hours, the viewing restriction, the retention (3 years); "
                "refused with 403 and the reason. Duplicates (重複投薬) as a contained DetectedIssue. "
                "MedicationStatement is not yet served."
            ),
            interaction=[CapabilityStatementRestResourceInteraction(code="search-type")],
            searchParam=_who_params("MedicationDispense"),
        ),
    ]
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
                    "JP Core identifiers (docs/FHIR.md). Every check, every ticket read and every view of "
                    "薬剤情報 is recorded in the recipient's access log (channel fhir). Not yet served: "
                    + "; ".join(f"{what} — {why}" for what, why in NOT_YET_SERVED.items())
                    + "."
                ),
                security=CapabilityStatementRestSecurity(
                    cors=False,
                    description="Authorization: Bearer <per-organisation API token (fujo_…)>, as the native API.",
                ),
                resource=resources,
            )
        ],
    )
