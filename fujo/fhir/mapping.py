"""The FHIR R4 (R4B models of ``fhir.resources``) form of fujo's answers, and what a
CoverageEligibilityRequest asks. Pure: wire dicts in, resources out — so the masking done by the
services (未委託: no numbers, no ticket data) carries over unchanged: an element is written only
when its value is in the service's answer. docs/FHIR.md has the mapping table.

Identifiers follow JP Core: 公費負担者番号 ``urn:oid:1.2.392.100495.20.3.71``, 公費受給者番号
``…3.72``, 保険者番号 ``…3.61``, 医療機関コード ``http://jpfhir.jp/fhir/core/IdSystem/insurance-medical-institution-no``,
the facility's patient number (照会番号) ``urn:oid:1.2.392.100495.20.3.51.1<医療機関コード>``;
Coverage.type from the 保険種別 code system ``urn:oid:1.2.392.100495.20.2.61`` (8 公費)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from functools import lru_cache
from typing import Any

from fhir.resources.R4B.annotation import Annotation
from fhir.resources.R4B.bundle import Bundle, BundleEntry, BundleEntryResponse, BundleEntrySearch, BundleLink
from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.coding import Coding
from fhir.resources.R4B.consent import Consent, ConsentProvision, ConsentProvisionActor
from fhir.resources.R4B.coverage import Coverage
from fhir.resources.R4B.coverageeligibilityrequest import CoverageEligibilityRequest
from fhir.resources.R4B.coverageeligibilityresponse import (
    CoverageEligibilityResponse,
    CoverageEligibilityResponseInsurance,
    CoverageEligibilityResponseInsuranceItem,
)
from fhir.resources.R4B.detectedissue import DetectedIssue
from fhir.resources.R4B.dosage import Dosage
from fhir.resources.R4B.extension import Extension
from fhir.resources.R4B.identifier import Identifier
from fhir.resources.R4B.medicationdispense import MedicationDispense, MedicationDispensePerformer
from fhir.resources.R4B.operationoutcome import OperationOutcome, OperationOutcomeIssue
from fhir.resources.R4B.organization import Organization
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.period import Period
from fhir.resources.R4B.quantity import Quantity
from fhir.resources.R4B.reference import Reference
from fhir.resources.R4B.resource import Resource

from ..core import codes, numbers
from ..core.dates import JST
from ..core.errors import FieldProblem, FujoError, Problems, ValidationFailed
from ..core.fields import INSURANCE_FIELDS, TICKET_FIELDS
from ..core.medinfo import RECEIPT_DRUG_CODE
from ..core.screen import HEADLINES

# --- systems -------------------------------------------------------------------------------------
PAYER_SYSTEM = "urn:oid:1.2.392.100495.20.3.71"  # 公費負担者番号
RECIPIENT_SYSTEM = "urn:oid:1.2.392.100495.20.3.72"  # 公費受給者番号
INSURER_SYSTEM = "urn:oid:1.2.392.100495.20.3.61"  # 保険者番号
FACILITY_SYSTEM = "http://jpfhir.jp/fhir/core/IdSystem/insurance-medical-institution-no"  # 医療機関コード
PATIENT_ID_PREFIX = "urn:oid:1.2.392.100495.20.3.51.1"  # + 医療機関コード: that facility's patient number
INSURANCE_TYPE_SYSTEM = "urn:oid:1.2.392.100495.20.2.61"  # 保険種別 (1 医保 2 国保 7 後期高齢者 8 公費)
JP_CORE_EXT = "http://jpfhir.jp/fhir/core/Extension/StructureDefinition/"
INSURED_SYMBOL = JP_CORE_EXT + "JP_Coverage_InsuredPersonSymbol"
INSURED_NUMBER = JP_CORE_EXT + "JP_Coverage_InsuredPersonNumber"
INSURED_SUB_NUMBER = JP_CORE_EXT + "JP_Coverage_InsuredPersonSubNumber"
NAME_REPRESENTATION = "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation"

# fujo's own definitions (a deployment publishes them under its own canonical base)
BASE = "http://fujo.example/fhir"
EXT_VALIDITY = f"{BASE}/StructureDefinition/qualification-validity"
EXT_TICKET = f"{BASE}/StructureDefinition/medical-ticket"
EXT_CARD_CLASS = f"{BASE}/StructureDefinition/insured-card-classification"
EXT_DISQUALIFICATION_KIND = f"{BASE}/StructureDefinition/disqualification-kind"
EXT_MONTH_STATUS = f"{BASE}/StructureDefinition/qualification-status"
EXT_NOTICE = f"{BASE}/StructureDefinition/processing-result"
EXT_REASON = f"{BASE}/StructureDefinition/check-reason"
EXT_QUALIFICATION_PERIOD = f"{BASE}/StructureDefinition/qualification-period"  # a ticket Coverage's 保護期間
EXT_INSURANCE_CARD = f"{BASE}/StructureDefinition/insurance-card"  # 被保険者証 details (health insurance)
EXT_CHECK_ID = f"{BASE}/StructureDefinition/check-id"  # the recorded check behind a 422 of $submit
CS_VALIDITY = f"{BASE}/CodeSystem/qualification-validity"
CS_TICKET_TYPE = f"{BASE}/CodeSystem/ticket-type"
CS_PROBLEM = f"{BASE}/CodeSystem/problem"
CS_PROCESSING_RESULT = f"{BASE}/CodeSystem/processing-result"  # fujo's FJxxxx notices (fujo.core.notices)
CS_MEDINFO_REFUSAL = f"{BASE}/CodeSystem/medinfo-refusal"  # no_consent, expired, role … (native ``reason``)
CS_MEDINFO_CATEGORY = f"{BASE}/CodeSystem/medinfo-category"  # medication, diagnosis, checkups, surgery
EXT_GENERIC_NAME = f"{BASE}/StructureDefinition/generic-name"  # 一般名 (成分)
NS_CHECK_ID = f"{BASE}/NamingSystem/check-id"
NS_VIEW_ID = f"{BASE}/NamingSystem/medinfo-view-id"  # the audit entry of a view of 薬剤情報等
NS_TICKET_CURSOR = f"{BASE}/NamingSystem/ticket-cursor"  # the download's Cursor (the walk's snapshot)

# drug codes (JP Core): YJ コード, and the レセ電 医薬品コード of the 支払基金 医薬品マスター
YJ_SYSTEM = "urn:oid:1.2.392.100495.20.1.73"
RECEIPT_DRUG_SYSTEM = "urn:oid:1.2.392.100495.20.2.71"
V3_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"

_INSURANCE_TYPES = {  # numbers.insurer_kind(...).system → 保険種別
    numbers.EMPLOYEE_INSURANCE: ("1", "医保"),
    numbers.NATIONAL_HEALTH_INSURANCE: ("2", "国保"),
    numbers.LATE_ELDERLY: ("7", "後期高齢者"),
}
_GENDER = {"1": "male", "2": "female", "3": "unknown"}
IN_FORCE = (codes.VALID, codes.VALID_UNREGISTERED)  # 有効 and 有効（未登録）: the person is covered


def fhir_date(wire: str | None) -> Any:
    """yyyyMMdd → YYYY-MM-DD; yyyyMM → YYYY-MM (a FHIR partial date). Text, which the models take for
    every date type (their annotations say date/datetime only, though a partial date is neither)."""
    if not wire:
        return None
    if len(wire) == 6:
        return f"{wire[:4]}-{wire[4:6]}"
    return f"{wire[:4]}-{wire[4:6]}-{wire[6:8]}"


def _day_before(wire: str) -> Any:
    d = dt.date(int(wire[:4]), int(wire[4:6]), int(wire[6:8])) - dt.timedelta(days=1)
    return d.isoformat()


# The resources that a month search returns by the thousand (Coverage with its contained Patient and
# payor Organization) are written here as JSON dicts, exactly as the R4B models write them (a test
# validates each with its model and compares the model's own output with the dict): building and
# dumping the models costs about 4 ms a Coverage, the dicts some 50 µs. Everywhere else (one check,
# one ticket read) the model is made from the same dict, so there is one mapping.
JSONDict = dict[str, Any]


def _without_none(d: JSONDict) -> JSONDict:
    return {k: v for k, v in d.items() if v is not None and v != []}


def validity_coding_json(validity: str) -> JSONDict:
    return {"system": CS_VALIDITY, "code": validity, "display": codes.VALIDITY_TEXT.get(validity, validity)}


def validity_coding(validity: str) -> Coding:
    return Coding.model_validate(validity_coding_json(validity))


# --- the ticket (医療券/調剤券) ------------------------------------------------------------------
_TICKET_KIND = {f.wire: f.kind for f in TICKET_FIELDS if f.wire}


def _ticket_value(name: str, value: str) -> tuple[str, Any]:
    """The value[x] element of the ticket's sub-extension ``name``, and its value."""
    kind = _TICKET_KIND.get(name)
    if kind in ("date", "month"):
        return "valueDate", fhir_date(value)
    if name == "RegisteredAt":  # ISO 8601 with its offset (the service's)
        return "valueDateTime", value
    if kind == "facility":
        return "valueIdentifier", {"system": FACILITY_SYSTEM, "value": value}
    if kind == "code" or name == "DesignatedMedicalInstitutionFlag":
        return "valueCode", value
    return "valueString", value


def _ticket_part(name: str, value: str) -> JSONDict:
    element, v = _ticket_value(name, value)
    return {"url": name, element: v}


def ticket_extension_json(info: Mapping[str, Any]) -> JSONDict:
    """One MedicalTicketInfo as the complex extension ``medical-ticket``: one sub-extension per
    element of the terminal interface, named as the element (TicketType, IssueNumber …)."""
    return {
        "extension": [_ticket_part(k, str(v)) for k, v in info.items() if v not in (None, "")],
        "url": EXT_TICKET,
    }


def ticket_extension(info: Mapping[str, Any]) -> Extension:
    return Extension.model_validate(ticket_extension_json(info))


def ticket_item(info: Mapping[str, Any]) -> CoverageEligibilityResponseInsuranceItem:
    kind = str(info.get("TicketType") or "")
    return CoverageEligibilityResponseInsuranceItem(
        category=CodeableConcept(
            coding=[Coding(system=CS_TICKET_TYPE, code=kind, display=codes.TICKET_TYPES.get(kind, kind))]
        ),
        provider=Reference(
            identifier=Identifier(system=FACILITY_SYSTEM, value=info["DesignatedMedicalInstitutionCode"]),
            display=info.get("DesignatedMedicalInstitutionName"),
        ),
        name=codes.TICKET_TYPES.get(kind),
        extension=[ticket_extension(info)],
    )


def tickets_of(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    return list((result.get("PublicExpenseResultList") or {}).get("MedicalTicketInfo") or [])


# --- a qualification: Patient, payor Organization, Coverage ------------------------------------
def is_assistance(result: Mapping[str, Any]) -> bool:
    return result.get("InsuredCardClassification") == codes.CARD_CLASS_MEDICAL_ASSISTANCE


def _name(text: str, representation: str) -> JSONDict:
    return {"extension": [{"url": NAME_REPRESENTATION, "valueCode": representation}], "use": "official", "text": text}


def patient_json(result: Mapping[str, Any], rid: str, facility_code: str) -> JSONDict:
    """The person as far as the result shows them (masked results carry no address; a restricted
    recipient's may carry no name or birth date)."""
    names = []
    if result.get("Name"):
        names.append(_name(result["Name"], "IDE"))
    if result.get("NameKana"):
        names.append(_name(result["NameKana"], "SYL"))
    address = None
    if result.get("Address") or result.get("PostNumber"):
        address = [
            _without_none({"text": result.get("Address") or None, "postalCode": result.get("PostNumber") or None})
        ]
    ident = None
    if result.get("ReferenceNumber"):
        ident = [{"system": PATIENT_ID_PREFIX + facility_code, "value": result["ReferenceNumber"]}]
    return _without_none(
        {
            "resourceType": "Patient",
            "id": rid,
            "identifier": ident,
            "name": names,
            "gender": _GENDER.get(str(result.get("Sex1") or "")),
            "birthDate": fhir_date(result.get("Birthdate")),
            "address": address,
        }
    )


def patient(result: Mapping[str, Any], rid: str, facility_code: str) -> Patient:
    return Patient.model_validate(patient_json(result, rid, facility_code))


def payor_json(result: Mapping[str, Any], rid: str, contact: Mapping[str, Any] | None = None) -> JSONDict:
    """福祉事務所 (公費負担者番号 only when shown) or the health insurer (保険者番号)."""
    number = result.get("InsurerNumber")
    ident = None
    if number:
        system = PAYER_SYSTEM if is_assistance(result) else INSURER_SYSTEM
        ident = [{"system": system, "value": numbers.normalize_insurer_number(number)}]
    phone = (contact or {}).get("Phone")
    return _without_none(
        {
            "resourceType": "Organization",
            "id": rid,
            "identifier": ident,
            "name": result.get("InsurerName") or (contact or {}).get("OfficeName") or None,
            "telecom": [{"system": "phone", "value": phone}] if phone else None,
        }
    )


def payor(result: Mapping[str, Any], rid: str, contact: Mapping[str, Any] | None = None) -> Organization:
    return Organization.model_validate(payor_json(result, rid, contact))


def _type(result: Mapping[str, Any]) -> JSONDict:
    if is_assistance(result):
        return {"coding": [{"system": INSURANCE_TYPE_SYSTEM, "code": "8", "display": "公費"}], "text": "医療扶助"}
    kind = numbers.insurer_kind(str(result.get("InsurerNumber") or ""))
    code = _INSURANCE_TYPES.get(kind.system) if kind else None
    if code is None:
        return {"text": "医療保険"}
    return {"coding": [{"system": INSURANCE_TYPE_SYSTEM, "code": code[0], "display": code[1]}]}


def _status(result: Mapping[str, Any], validity: str) -> str:
    in_force = validity in IN_FORCE and result.get("QualificationStatus") in (None, "valid")
    return "active" if in_force else "cancelled"


def qualification_period_json(result: Mapping[str, Any]) -> JSONDict | None:
    """資格取得日 (保護開始日) to the day before 資格喪失日 (保護停止・廃止日): the days covered."""
    start, end = result.get("QualificationDate"), result.get("DisqualificationDate")
    if not start and not end:
        return None
    return _without_none({"start": fhir_date(start), "end": _day_before(end) if end else None})


def ticket_period_json(tickets: Iterable[Mapping[str, Any]]) -> JSONDict | None:
    ts = list(tickets)
    if not ts:
        return None
    return {
        "start": fhir_date(min(t["MedicalTicketValidDate"] for t in ts)),
        "end": fhir_date(max(t["MedicalTicketExpirationDate"] for t in ts)),
    }


def qualification_period(result: Mapping[str, Any]) -> Period | None:
    d = qualification_period_json(result)
    return Period.model_validate(d) if d else None


def ticket_period(tickets: Iterable[Mapping[str, Any]]) -> Period | None:
    d = ticket_period_json(tickets)
    return Period.model_validate(d) if d else None


def _notice_json(result: Mapping[str, Any]) -> JSONDict | None:
    if not result.get("ProcessingResultCode"):
        return None
    return {
        "url": EXT_NOTICE,
        "valueCoding": _without_none(
            {
                "system": CS_PROCESSING_RESULT,
                "code": result["ProcessingResultCode"],
                "display": result.get("ProcessingResultMessage") or None,
            }
        ),
    }


def _notice(result: Mapping[str, Any]) -> Extension | None:
    d = _notice_json(result)
    return Extension.model_validate(d) if d else None


# The flat elements of a health-insurance result that no R4 or JP Core element of Coverage holds (the
# card's dates and details clinics import, issue 7, and the consent flags of the 限度額適用認定証 and
# 特定疾病療養受療証 blocks): one complex extension, its sub-extensions named exactly as the wire
# elements (as ``medical-ticket`` is). The nested blocks themselves are not mapped (docs/FHIR.md).
INSURANCE_CARD_ELEMENTS = (
    "PersonalFamilyClassification",
    "InsuredName",
    "NameOfOther",
    "NameOfOtherKana",
    "InsuredCertificateIssuanceDate",
    "InsuredCardValidDate",
    "InsuredCardExpirationDate",
    "InsuredPartialContributionRatio",
    "PreschoolClassification",
    "LimitApplicationCertificateRelatedConsFlg",
    "LimitApplicationCertificateRelatedConsTime",
    "SpecificDiseasesCertificateRelatedConsFlg",
    "SpecificDiseasesCertificateRelatedConsTime",
)
_INSURANCE_KIND = {f.wire: f.kind for f in INSURANCE_FIELDS if f.wire}


def _wire_time_text(wire: str) -> str:
    """yyyyMMddHHmmss (JST, the service's) → the FHIR dateTime the models write of it."""
    return f"{wire[:4]}-{wire[4:6]}-{wire[6:8]}T{wire[8:10]}:{wire[10:12]}:{wire[12:14]}+09:00"


def _insurance_card_part(name: str, value: str) -> JSONDict:
    if name.endswith("ConsTime"):
        return {"url": name, "valueDateTime": _wire_time_text(value)}
    kind = _INSURANCE_KIND.get(name)
    if kind == "date":
        return {"url": name, "valueDate": fhir_date(value)}
    if kind == "code" or name.endswith("ConsFlg"):
        return {"url": name, "valueCode": value}
    return {"url": name, "valueString": value}


def insurance_card_json(result: Mapping[str, Any]) -> JSONDict | None:
    """The ``insurance-card`` extension of a health-insurance result (None for 医療扶助, or when the
    result has none of :data:`INSURANCE_CARD_ELEMENTS`)."""
    if is_assistance(result):
        return None
    parts = [
        _insurance_card_part(name, str(result[name]))
        for name in INSURANCE_CARD_ELEMENTS
        if result.get(name) not in (None, "")
    ]
    return {"extension": parts, "url": EXT_INSURANCE_CARD} if parts else None


def qualification_period_ext_json(result: Mapping[str, Any]) -> JSONDict | None:
    """A ticket's Coverage (search/read) has the ticket's validity as ``period``: the qualification's
    own period (保護開始日 to the day before 停止・廃止日) goes in the ``qualification-period`` extension."""
    qualified = qualification_period_json(result)
    return {"url": EXT_QUALIFICATION_PERIOD, "valuePeriod": qualified} if qualified else None


def coverage_json(
    result: Mapping[str, Any],
    *,
    rid: str | None,
    patient_ref: str,
    payor_ref: str,
    tickets: list[dict[str, Any]] | None = None,
) -> JSONDict:
    """One qualification (``tickets`` None: period = the qualification's) or one ticket of it
    (``tickets`` [info]: period = the ticket's validity, the ticket as the ``medical-ticket`` extension)."""
    validity = str(result.get("QualificationValidity") or "")
    ext: list[JSONDict] = [{"url": EXT_VALIDITY, "valueCoding": validity_coding_json(validity)}]
    if result.get("InsuredCardClassification"):
        ext.append({"url": EXT_CARD_CLASS, "valueCode": result["InsuredCardClassification"]})
    if result.get("DisqualificationKind"):
        ext.append({"url": EXT_DISQUALIFICATION_KIND, "valueCode": result["DisqualificationKind"]})
    if result.get("QualificationStatus"):
        parts: list[JSONDict] = [{"url": "status", "valueCode": result["QualificationStatus"]}]
        if result.get("QualificationStatusDate"):
            parts.append({"url": "date", "valueDate": fhir_date(result["QualificationStatusDate"])})
        ext.append({"extension": parts, "url": EXT_MONTH_STATUS})
    notice = _notice_json(result)
    if notice is not None:
        ext.append(notice)
    qualified = qualification_period_ext_json(result) if tickets else None
    if qualified is not None:
        ext.append(qualified)
    for info in tickets or ():
        ext.append(ticket_extension_json(info))
    if not is_assistance(result):
        for url, key in (
            (INSURED_SYMBOL, "InsuredCardSymbol"),
            (INSURED_NUMBER, "InsuredIdentificationNumber"),
            (INSURED_SUB_NUMBER, "InsuredBranchNumber"),
        ):
            if result.get(key):
                ext.append({"url": url, "valueString": result[key]})
        card = insurance_card_json(result)
        if card is not None:
            ext.append(card)
    number = result.get("InsuredIdentificationNumber") or None
    identifier = None
    if number and is_assistance(result):
        identifier = [{"system": RECIPIENT_SYSTEM, "value": number}]
    return _without_none(
        {
            "resourceType": "Coverage",
            "id": rid,
            "extension": ext,
            "identifier": identifier,
            "status": _status(result, validity),
            "type": _type(result),
            "subscriberId": number,
            "beneficiary": {"reference": patient_ref},
            "dependent": (result.get("InsuredBranchNumber") or None) if not is_assistance(result) else None,
            "period": ticket_period_json(tickets) if tickets else qualification_period_json(result),
            "payor": [{"reference": payor_ref}],
        }
    )


def coverage(
    result: Mapping[str, Any],
    *,
    rid: str | None,
    patient_ref: str,
    payor_ref: str,
    tickets: list[dict[str, Any]] | None = None,
) -> Coverage:
    return Coverage.model_validate(
        coverage_json(result, rid=rid, patient_ref=patient_ref, payor_ref=payor_ref, tickets=tickets)
    )


def ticket_coverage_json(result: Mapping[str, Any], key: str, facility_code: str) -> JSONDict:
    """A Coverage for one ticket designated to the facility (GET /fhir/Coverage): id = the ticket key;
    the person and the office are contained. A ticket that is not billable this month (保護停止・廃止)
    comes masked from the service: no numbers, no ticket data, status cancelled."""
    c = coverage_json(result, rid=key, patient_ref="#patient", payor_ref="#payor", tickets=tickets_of(result)[:1])
    return {
        "resourceType": "Coverage",
        "id": key,
        "contained": [patient_json(result, "patient", facility_code), payor_json(result, "payor")],
        **{k: v for k, v in c.items() if k not in ("resourceType", "id")},
    }


def ticket_coverage(result: Mapping[str, Any], key: str, facility_code: str) -> Coverage:
    return Coverage.model_validate(ticket_coverage_json(result, key, facility_code))


def coverage_bundle(
    tickets: Iterable[tuple[str, Mapping[str, Any]]],
    facility_code: str,
    base: str,
    *,
    total: int | None,
    links: list[tuple[str, str]],
    identifier: JSONDict | None = None,
) -> JSONDict:
    """A searchset Bundle of ticket Coverages (GET /fhir/Coverage) as JSON: (relation, url) links."""
    entries = [
        {
            "fullUrl": f"{base}/Coverage/{key}",
            "resource": ticket_coverage_json(result, key, facility_code),
            "search": {"mode": "match"},
        }
        for key, result in tickets
    ]
    return _without_none(
        {
            "resourceType": "Bundle",
            "identifier": identifier,
            "type": "searchset",
            "total": total,
            "link": [{"relation": rel, "url": url} for rel, url in links],
            "entry": entries,
        }
    )


# --- the month search written as JSON text ------------------------------------------------------
# A page of the month search holds up to 1,000 Coverages, most of whose text is the same from one to
# the next (the validity coding, the 保険種別, the payor, every url and system). The page is written
# straight as JSON text: the constant parts once, as pre-encoded fragments (cached), and each value
# through the json module's own string encoder — the encoder and options of the native download
# (fujo/bulk/views.py: ``ensure_ascii=False``, no whitespace). The text is exactly
# ``json.dumps(coverage_bundle(...))``, byte for byte (tests/fhir/test_paging.py checks it on every
# shape of result), so :func:`ticket_coverage_json` stays the one mapping and the reference. Only
# codes, systems and the offices' own names and numbers go to the process-wide fragment caches; what
# is about a person (names, numbers, a ticket's elements) is cached for one page at most.
# a JSON string as json.dumps(..., ensure_ascii=False) writes it (the C encoder's own function)
_q: Callable[[Any], str] = json.encoder.encode_basestring
_dump = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_fragment = lru_cache(maxsize=4096)


def _value(v: Any) -> str:
    return _q(v) if isinstance(v, str) else _dump(v)


@_fragment
def _payor_text(card_class: Any, number: Any, name: Any) -> str:
    return _dump(
        payor_json({"InsuredCardClassification": card_class, "InsurerNumber": number, "InsurerName": name}, "payor")
    )


@_fragment
def _type_text(card_class: Any, number: Any) -> str:
    return _dump(_type({"InsuredCardClassification": card_class, "InsurerNumber": number}))


@_fragment
def _validity_text(validity: str) -> str:
    return _dump({"url": EXT_VALIDITY, "valueCoding": validity_coding_json(validity)})


@_fragment
def _code_ext_text(url: str, code: str) -> str:
    return _dump({"url": url, "valueCode": code})


@_fragment
def _month_status_text(status: str, date: Any) -> str:
    parts: list[JSONDict] = [{"url": "status", "valueCode": status}]
    if date:
        parts.append({"url": "date", "valueDate": fhir_date(date)})
    return _dump({"extension": parts, "url": EXT_MONTH_STATUS})


@_fragment
def _notice_text(code: str, message: Any) -> str:
    return _dump(_notice_json({"ProcessingResultCode": code, "ProcessingResultMessage": message}))


@_fragment
def _ticket_part_head(name: str, element: str) -> str:
    return '{"url":' + _q(name) + ',"' + element + '":'


def _ticket_text(info: Mapping[str, Any], memo: dict[Any, str]) -> str:
    parts = []
    for k, v in info.items():
        if v in (None, ""):
            continue
        part = memo.get((k, v))
        if part is None:
            element, value = _ticket_value(k, str(v))
            part = memo[k, v] = _ticket_part_head(k, element) + _value(value) + "}"
        parts.append(part)
    return '{"extension":[' + ",".join(parts) + '],"url":' + _TICKET_URL


def _name_text(text: Any, representation: str) -> str:
    return (
        '{"extension":[{"url":'
        + _q(NAME_REPRESENTATION)
        + ',"valueCode":'
        + _q(representation)
        + '}],"use":"official","text":'
        + _q(text)
        + "}"
    )


def _patient_text(result: Mapping[str, Any], facility_code: str) -> str:
    """:func:`patient_json` (id ``patient``) as JSON text."""
    get = result.get
    out = ['{"resourceType":"Patient","id":"patient"']
    if get("ReferenceNumber"):
        out += [
            ',"identifier":[{"system":',
            _q(PATIENT_ID_PREFIX + facility_code),
            ',"value":',
            _q(get("ReferenceNumber")),
            "}]",
        ]
    names = []
    if get("Name"):
        names.append(_name_text(get("Name"), "IDE"))
    if get("NameKana"):
        names.append(_name_text(get("NameKana"), "SYL"))
    if names:
        out += [',"name":[', ",".join(names), "]"]
    gender = _GENDER.get(str(get("Sex1") or ""))
    if gender:
        out += [',"gender":', _q(gender)]
    if get("Birthdate"):
        out += [',"birthDate":', _q(fhir_date(get("Birthdate")))]
    if get("Address") or get("PostNumber"):
        addr = []
        if get("Address"):
            addr.append('"text":' + _q(get("Address")))
        if get("PostNumber"):
            addr.append('"postalCode":' + _q(get("PostNumber")))
        out += [',"address":[{', ",".join(addr), "}]"]
    out.append("}")
    return "".join(out)


_QUALIFIED_HEAD = '{"url":' + _q(EXT_QUALIFICATION_PERIOD) + ',"valuePeriod":{'


def _qualified_text(start: Any, end: Any) -> str:
    """:func:`qualification_period_ext_json` as JSON text, written directly (a dict and a dump of it cost a
    quarter of a Coverage's text)."""
    parts = []
    if start:
        parts.append('"start":' + _q(fhir_date(start)))
    if end:
        parts.append('"end":' + _q(_day_before(end)))
    return _QUALIFIED_HEAD + ",".join(parts) + "}}"


_TICKET_URL = _q(EXT_TICKET) + "}"
_INSURED_EXT = [
    (_q(url), key)
    for url, key in (
        (INSURED_SYMBOL, "InsuredCardSymbol"),
        (INSURED_NUMBER, "InsuredIdentificationNumber"),
        (INSURED_SUB_NUMBER, "InsuredBranchNumber"),
    )
]
_AFTER_CONTAINED = '],"extension":['
_RECIPIENT_ID = '"identifier":[{"system":' + _q(RECIPIENT_SYSTEM) + ',"value":'
_REFS = ',"beneficiary":{"reference":"#patient"}'
_PAYOR_REF = '"payor":[{"reference":"#payor"}]}'


def ticket_coverage_text(
    result: Mapping[str, Any], key: str, facility_code: str, memo: dict[Any, str] | None = None
) -> str:
    """:func:`ticket_coverage_json` as JSON text (what ``_dump`` writes of it), from fragments;
    ``memo`` keeps the text of ticket elements met before on the same page."""
    memo = {} if memo is None else memo
    get = result.get
    assistance = is_assistance(result)
    card_class = get("InsuredCardClassification")
    validity = str(get("QualificationValidity") or "")
    out = [
        '{"resourceType":"Coverage","id":',
        _q(key),
        ',"contained":[',
        _patient_text(result, facility_code),
        ",",
        _payor_text(card_class, get("InsurerNumber"), get("InsurerName")),
        _AFTER_CONTAINED,
        _validity_text(validity),
    ]
    if card_class:
        out += [",", _code_ext_text(EXT_CARD_CLASS, card_class)]
    if get("DisqualificationKind"):
        out += [",", _code_ext_text(EXT_DISQUALIFICATION_KIND, get("DisqualificationKind"))]
    if get("QualificationStatus"):
        out += [",", _month_status_text(get("QualificationStatus"), get("QualificationStatusDate") or None)]
    if get("ProcessingResultCode"):
        out += [",", _notice_text(get("ProcessingResultCode"), get("ProcessingResultMessage") or None)]
    tickets = tickets_of(result)[:1]
    if tickets and (get("QualificationDate") or get("DisqualificationDate")):
        out += [",", _qualified_text(get("QualificationDate"), get("DisqualificationDate"))]
    for info in tickets:
        out += [",", _ticket_text(info, memo)]
    if not assistance:
        for url, k in _INSURED_EXT:
            if get(k):
                out += [',{"url":', url, ',"valueString":', _q(get(k)), "}"]
        card = insurance_card_json(result)
        if card is not None:
            out += [",", _dump(card)]
    out.append("],")
    number = get("InsuredIdentificationNumber") or None
    if number and assistance:
        out += [_RECIPIENT_ID, _q(number), "}],"]
    out += ['"status":"', _status(result, validity), '","type":', _type_text(card_class, get("InsurerNumber"))]
    if number:
        out += [',"subscriberId":', _q(number)]
    out.append(_REFS)
    dependent = (get("InsuredBranchNumber") or None) if not assistance else None
    if dependent:
        out += [',"dependent":', _q(dependent)]
    if tickets:
        valid, expires = tickets[0]["MedicalTicketValidDate"], tickets[0]["MedicalTicketExpirationDate"]
        period = memo.get(("period", valid, expires))
        if period is None:
            period = memo["period", valid, expires] = _dump(ticket_period_json(tickets))
        out += [',"period":', period]
    else:
        qualified = qualification_period_json(result)
        if qualified:
            out += [',"period":', _dump(qualified)]
    out += [",", _PAYOR_REF]
    return "".join(out)


CHUNK = 64 * 1024  # characters gathered before a chunk is handed on (as the native download's CHUNK)


def coverage_bundle_text(
    tickets: Iterable[tuple[str, Mapping[str, Any]]],
    facility_code: str,
    base: str,
    *,
    total: int | None,
    links: list[tuple[str, str]],
    identifier: JSONDict | None = None,
) -> Iterator[bytes]:
    """:func:`coverage_bundle` as JSON text (UTF-8), in chunks of about :data:`CHUNK`, written as the
    entries are made: the same text ``json.dumps(coverage_bundle(...), ensure_ascii=False,
    separators=(",", ":"))`` gives, without building the dicts."""
    buf = ['{"resourceType":"Bundle"']
    if identifier is not None:
        buf += [',"identifier":', _dump(identifier)]
    buf.append(',"type":"searchset"')
    if total is not None:
        buf.append(f',"total":{int(total)}')
    if links:
        buf += [',"link":', _dump([{"relation": rel, "url": url} for rel, url in links])]
    head = ',"entry":[{"fullUrl":'
    full = _q(f"{base}/Coverage/")[:-1]  # the opening quote and the base, without the closing quote
    memo: dict[Any, str] = {}  # the page's repeated ticket elements' text (never kept past the page)
    size, first = 0, True
    for key, result in tickets:
        part = (
            (head if first else ',{"fullUrl":')
            + full
            + _q(key)[1:]
            + ',"resource":'
            + ticket_coverage_text(result, key, facility_code, memo)
            + ',"search":{"mode":"match"}}'
        )
        first = False
        buf.append(part)
        size += len(part)
        if size >= CHUNK:
            yield "".join(buf).encode()
            buf, size = [], 0
    buf.append("}" if first else "]}")
    yield "".join(buf).encode()


# --- the check's answer --------------------------------------------------------------------------
def _disposition(check: Mapping[str, Any]) -> str:
    validity = str(check.get("QualificationValidity") or codes.NO_QUALIFICATION)
    head = HEADLINES.get(validity, HEADLINES[codes.NO_QUALIFICATION])
    msg = check.get("ProcessingResultMessage")
    return f"{head}{msg}" if msg else head


def eligibility_response(
    check: Mapping[str, Any], facility_code: str, request_ident: list[Identifier] | None
) -> CoverageEligibilityResponse:
    """CoverageEligibilityResponse for one check by numbers (the service's answer, already masked)."""
    results: list[dict[str, Any]] = list(check.get("ResultList") or [])
    contact = check.get("Contact")
    contained: list[Resource] = []
    insurance = []
    patient_ref = None
    if results:
        contained.append(patient(results[-1], "patient", facility_code))
        patient_ref = "#patient"
    for i, res in enumerate(results, 1):
        org = payor(res, f"payor{i}", contact if is_assistance(res) else None)
        cov = coverage(res, rid=f"coverage{i}", patient_ref="#patient", payor_ref=f"#payor{i}")
        contained += [org, cov]
        tickets = tickets_of(res)
        validity = str(res.get("QualificationValidity") or "")
        insurance.append(
            CoverageEligibilityResponseInsurance(
                extension=[Extension(url=EXT_VALIDITY, valueCoding=validity_coding(validity))],
                coverage=Reference(reference=f"#coverage{i}"),
                inforce=validity in IN_FORCE,
                benefitPeriod=ticket_period(tickets) if tickets else qualification_period(res),
                item=[ticket_item(t) for t in tickets] or None,
            )
        )
    insurer_ref: Reference
    if results:
        insurer_ref = Reference(reference=f"#payor{len(results)}")
    elif contact:  # nobody found, yet the 公費負担者番号 is an office's: whom to call
        contained.append(payor({}, "office", contact))
        insurer_ref = Reference(reference="#office")
    else:
        insurer_ref = Reference(display="該当なし")
    ext = [Extension(url=EXT_VALIDITY, valueCoding=validity_coding(str(check.get("QualificationValidity"))))]
    if check.get("Reason"):
        ext.append(Extension(url=EXT_REASON, valueCode=check["Reason"]))
    notice = _notice(check)
    if notice is not None:
        ext.append(notice)
    created = check.get("ProcessExecutionTime") or ""
    return CoverageEligibilityResponse(
        contained=contained or None,
        extension=ext,
        identifier=[Identifier(system=NS_CHECK_ID, value=str(check["CheckId"]))] if check.get("CheckId") else None,
        status="active",
        purpose=["validation"],
        patient=Reference(reference=patient_ref) if patient_ref else Reference(display="該当資格なし"),
        servicedDate=fhir_date(check.get("QualificationConfirmationDate")),
        created=_wire_time(created),
        requestor=Reference(identifier=Identifier(system=FACILITY_SYSTEM, value=facility_code)),
        # the request is not stored: its client identifier is echoed (never its numbers)
        request=Reference(identifier=request_ident[0]) if request_ident else Reference(display="$submit"),
        outcome="complete",
        disposition=_disposition(check),
        insurer=insurer_ref,
        insurance=insurance or None,
    )


NO_MATCH = "no_match"  # CS_PROBLEM code of a check that matched nobody (422)


def no_match_outcome(check: Mapping[str, Any]) -> OperationOutcome:
    """A check whose numbers and birth date match no recipient or insured person (QualificationValidity
    4 該当資格なし) as the 422 of $submit: the issue says only that nothing matches — and, when the
    公費負担者番号 is an office's, whom to call (the service's own FJ0401 message) — never who. The
    check was made and recorded as any other: ``check-id`` names its entry."""
    validity = str(check.get("QualificationValidity") or codes.NO_QUALIFICATION)
    coding = [Coding(system=CS_PROBLEM, code=NO_MATCH), validity_coding(validity)]
    if check.get("ProcessingResultCode"):
        coding.append(
            Coding(
                system=CS_PROCESSING_RESULT,
                code=check["ProcessingResultCode"],
                display=check.get("ProcessingResultMessage") or None,
            )
        )
    check_id = check.get("CheckId")
    return OperationOutcome(
        extension=[Extension(url=EXT_CHECK_ID, valueIdentifier=Identifier(system=NS_CHECK_ID, value=str(check_id)))]
        if check_id
        else None,
        issue=[
            OperationOutcomeIssue(
                severity="error",
                code="not-found",
                details=CodeableConcept(coding=coding, text=_disposition(check)),
                diagnostics=(
                    "No recipient or insured person matches these numbers and this birth date "
                    "(QualificationValidity 4, 該当資格なし: no qualification, no ticket). The check is recorded."
                ),
            )
        ],
    )


def check_answer(
    check: Mapping[str, Any], facility_code: str, request_ident: list[Identifier] | None
) -> tuple[int, Resource]:
    """The HTTP status and resource of one check by numbers, as the service decided it: 422 with
    :func:`no_match_outcome` when nothing matches (validity 4), else 200 with the
    CoverageEligibilityResponse (valid, 未委託, lost, 複数該当 are answers about a qualification found)."""
    if str(check.get("QualificationValidity")) == codes.NO_QUALIFICATION:
        return 422, no_match_outcome(check)
    return 200, eligibility_response(check, facility_code, request_ident)


def _wire_time(wire: str) -> dt.datetime:
    if len(wire) != 14:
        return dt.datetime.now(JST).replace(microsecond=0)
    return dt.datetime(
        int(wire[:4]), int(wire[4:6]), int(wire[6:8]), int(wire[8:10]), int(wire[10:12]), int(wire[12:14]), tzinfo=JST
    )


# --- 薬剤情報等: Consent and MedicationDispense ---------------------------------------------------
def _summary_patient(summary: Mapping[str, Any], facility_code: str) -> Patient:
    """The patient of a view (name, kana, sex, birth date: what the native view answers)."""
    birth = str(summary.get("birthdate") or "").replace("-", "")
    return patient(
        {
            "Name": summary.get("name"),
            "NameKana": summary.get("name_kana"),
            "Sex1": summary.get("sex"),
            "Birthdate": birth,
        },
        "patient",
        facility_code,
    )


def _facility_ref(code: str, name: str | None = None) -> Reference:
    return Reference(type="Organization", identifier=Identifier(system=FACILITY_SYSTEM, value=code), display=name)


def consent(
    given: Sequence[Mapping[str, Any]],
    facility_code: str,
    *,
    patient_ref: Reference | None = None,
    contained: list[Resource] | None = None,
) -> Consent:
    """The consent to 薬剤情報等 given at this facility's card reader (one card check): the categories
    ``given`` (each ``category``, ``category_ja``, ``consent_flag``, ``consent_time``, ``available_time``
    as the medinfo service answers), for 24 hours from ConsTime. ``active`` while it opens the data,
    ``inactive`` once expired (flag 2)."""
    first = given[0]
    start, end = _wire_time(str(first["consent_time"])), _wire_time(str(first["available_time"]))
    facility = _facility_ref(facility_code)
    return Consent(
        contained=contained or None,
        status="active" if first["consent_flag"] == "1" else "inactive",
        scope=CodeableConcept(
            coding=[
                Coding(
                    system="http://terminology.hl7.org/CodeSystem/consentscope",
                    code="patient-privacy",
                    display="Privacy Consent",
                )
            ]
        ),
        category=[
            CodeableConcept(
                coding=[Coding(system="http://loinc.org", code="59284-0", display="Patient Consent")],
                text="薬剤情報等の閲覧の同意",
            )
        ],
        patient=patient_ref,
        dateTime=start,
        organization=[facility],
        policyRule=CodeableConcept(
            coding=[Coding(system=V3_ACT_CODE, code="OPTIN", display="opt-in")],
            text="マイナンバーカードによる資格確認の際、カードリーダーで同意（同意から24時間）",
        ),
        provision=ConsentProvision(
            type="permit",
            period=Period(start=start, end=end),
            actor=[
                ConsentProvisionActor(
                    role=CodeableConcept(
                        coding=[
                            Coding(
                                system="http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                                code="IRCP",
                                display="information recipient",
                            )
                        ]
                    ),
                    reference=facility,
                )
            ],
            action=[
                CodeableConcept(
                    coding=[
                        Coding(
                            system="http://terminology.hl7.org/CodeSystem/consentaction",
                            code="access",
                            display="Access",
                        )
                    ]
                )
            ],
            code=[
                CodeableConcept(
                    coding=[Coding(system=CS_MEDINFO_CATEGORY, code=str(g["category"]), display=g.get("category_ja"))]
                )
                for g in given
            ],
        ),
    )


def consents(given: Sequence[Mapping[str, Any]], facility_code: str, patient_ref: Reference | None) -> list[Consent]:
    """One Consent per card check (the categories of the same ConsTime together)."""
    by_time: dict[tuple[str, str, str], list[Mapping[str, Any]]] = {}
    for g in given:
        by_time.setdefault((g["consent_time"], g["available_time"], g["consent_flag"]), []).append(g)
    return [consent(gs, facility_code, patient_ref=patient_ref) for gs in by_time.values()]


def _quantity(text: Any) -> Quantity | None:
    try:
        return Quantity(value=Decimal(str(text))) if text not in (None, "") else None
    except ArithmeticError:
        return None


def medication_dispense(rec: Mapping[str, Any], summary: Mapping[str, Any], facility_code: str) -> MedicationDispense:
    """One medication record (薬剤情報) of a view: the drug (YJ or レセ電 code), 一般名, the facility that
    dispensed or prescribed it, the day and 日数, 用法・用量, and — when it duplicates another facility's
    medication of the same ingredient in an overlapping period — a contained DetectedIssue (DUPTHPY)
    implicating the others (MedicationDispense/<id> of the same Bundle)."""
    code = str(rec["drug_code"])
    system = RECEIPT_DRUG_SYSTEM if RECEIPT_DRUG_CODE.match(code) else YJ_SYSTEM
    contained: list[Resource] = [_summary_patient(summary, facility_code)]
    detected = None
    others = rec.get("duplicate_with") or []
    if others:
        contained.append(
            DetectedIssue(
                id="duplicate",
                status="final",
                code=CodeableConcept(
                    coding=[Coding(system=V3_ACT_CODE, code="DUPTHPY", display="Duplicate Therapy Alert")],
                    text="重複投薬の可能性（同一成分・他の医療機関等・期間の重なり）",
                ),
                patient=Reference(reference="#patient"),
                implicated=[
                    Reference(
                        reference=f"MedicationDispense/{o['id']}",
                        display=f"{o.get('date')} {o.get('facility_name') or ''} {o.get('drug_name')}".strip(),
                    )
                    for o in others
                ],
            )
        )
        detected = [Reference(reference="#duplicate")]
    quantity = _quantity(rec.get("quantity"))
    note = None
    if quantity is None and rec.get("quantity"):
        note = [Annotation(text=f"数量: {rec['quantity']}")]
    return MedicationDispense(
        id=str(rec["id"]),
        contained=contained,
        extension=[Extension(url=EXT_GENERIC_NAME, valueString=rec["ingredient"])] if rec.get("ingredient") else None,
        status="completed",
        medicationCodeableConcept=CodeableConcept(
            coding=[Coding(system=system, code=code, display=rec.get("drug_name"))], text=rec.get("drug_name")
        ),
        subject=Reference(reference="#patient"),
        performer=[
            MedicationDispensePerformer(actor=_facility_ref(str(rec["facility_code"]), rec.get("facility_name")))
        ],
        quantity=quantity,
        daysSupply=Quantity(value=rec["days"], unit="日", system="http://unitsofmeasure.org", code="d")
        if rec.get("days")
        else None,
        whenHandedOver=rec["date"],
        dosageInstruction=[Dosage(text=rec["dose"])] if rec.get("dose") else None,
        detectedIssue=detected,
        note=note,
    )


def medication_bundle(view: Mapping[str, Any], facility_code: str, base: str, self_url: str) -> Bundle:
    """The answer of a view of 薬剤情報 (``medinfo.service.view``) as a searchset: one MedicationDispense
    per record (newest first), the Consent it was served under (``include``), and the retention as an
    information OperationOutcome (``outcome``). ``identifier`` = the audit entry of the view."""
    summary = view.get("patient") or {}
    entries = [
        BundleEntry(
            fullUrl=f"{base}/MedicationDispense/{rec['id']}",
            resource=medication_dispense(rec, summary, facility_code),
            search=BundleEntrySearch(mode="match"),
        )
        for rec in view.get("records") or []
    ]
    if view.get("consent_time") and view.get("available_time"):
        given = {
            "category": view["category"],
            "category_ja": view.get("category_ja"),
            "consent_flag": view["consent_flag"],
            "consent_time": view["consent_time"],
            "available_time": view["available_time"],
        }
        entries.append(
            BundleEntry(
                resource=consent(
                    [given],
                    facility_code,
                    patient_ref=Reference(reference="#patient"),
                    contained=[_summary_patient(summary, facility_code)],
                ),
                search=BundleEntrySearch(mode="include"),
            )
        )
    years, since = view.get("retention_years"), view.get("retained_from")
    entries.append(
        BundleEntry(
            resource=OperationOutcome(
                issue=[
                    OperationOutcomeIssue(
                        severity="information",
                        code="informational",
                        details=CodeableConcept(
                            coding=[Coding(system=CS_PROBLEM, code="retention")],
                            text=f"{view.get('category_ja')}は{since}以降（{years}年）を提供しています。",
                        ),
                        diagnostics=f"Records on or after {since} are served (retention {years} years).",
                    )
                ]
            ),
            search=BundleEntrySearch(mode="outcome"),
        )
    )
    return Bundle(
        type="searchset",
        identifier=Identifier(system=NS_VIEW_ID, value=str(view["view_id"])) if view.get("view_id") else None,
        total=len(view.get("records") or []),
        link=[BundleLink(relation="self", url=self_url)],
        entry=entries,
    )


# --- the request ---------------------------------------------------------------------------------
EXPRESSIONS = {  # the service's field names → where that value is in the request
    "payer_number": f"Coverage.payor.identifier.where(system='{PAYER_SYSTEM}').value",
    "recipient_number": f"Coverage.identifier.where(system='{RECIPIENT_SYSTEM}').value",
    "insurer_number": f"Coverage.payor.identifier.where(system='{INSURER_SYSTEM}').value",
    "identification_number": f"Coverage.extension('{INSURED_NUMBER}').value",
    "card_symbol": f"Coverage.extension('{INSURED_SYMBOL}').value",
    "branch_number": f"Coverage.extension('{INSURED_SUB_NUMBER}').value",
    "birthdate": "Patient.birthDate",
    "confirmation_date": "CoverageEligibilityRequest.servicedDate",
    "insurance": "CoverageEligibilityRequest.insurance",
    "coverage": "CoverageEligibilityRequest.insurance.coverage",
    "provider": "CoverageEligibilityRequest.provider",
    "month": "Coverage?month",
    "_count": "Coverage?_count",
    "_cursor": "Coverage?_cursor",
    "items": "Bundle.entry",
}


def _problem(field: str, code: str, ja: str, en: str) -> FieldProblem:
    return FieldProblem(field, code, ja, en)


def _contained(req: CoverageEligibilityRequest, ref: Reference | None) -> Resource | None:
    if ref is None or not ref.reference or not ref.reference.startswith("#"):
        return None
    for r in req.contained or []:
        if getattr(r, "id", None) == ref.reference[1:]:
            return r
    return None


def _identifiers(req: CoverageEligibilityRequest, ref: Reference | None) -> list[Identifier]:
    """Identifiers of an Organization given by logical reference (Reference.identifier) or contained."""
    if ref is None:
        return []
    out = [ref.identifier] if ref.identifier else []
    org = _contained(req, ref)
    if isinstance(org, Organization):
        out += list(org.identifier or [])
    return out


def _ext(resource: Any, url: str) -> str | None:
    for e in getattr(resource, "extension", None) or []:
        if e.url == url:
            return e.valueString
    return None


def numbers_query(req: CoverageEligibilityRequest, facility_code: str) -> dict[str, Any]:
    """The keyword arguments of ``check_by_numbers`` that the request asks, or ValidationFailed
    naming the element (the numbers' own rules — length, 法別, 検証番号 — are the service's)."""
    problems = Problems()
    insurance = list(req.insurance or [])
    if len(insurance) != 1:
        problems.add(
            _problem(
                "insurance",
                "one_coverage",
                "insurance には照会する保険・公費を1件指定してください。",
                "insurance must hold exactly one coverage to check.",
            )
        )
        problems.raise_if_any()
    cov = _contained(req, insurance[0].coverage)
    if not isinstance(cov, Coverage):
        problems.add(
            _problem(
                "coverage",
                "not_contained",
                "insurance.coverage は contained の Coverage（#id）を参照してください。",
                "insurance.coverage must reference a contained Coverage (#id).",
            )
        )
        problems.raise_if_any()
    assert isinstance(cov, Coverage)
    idents = [i for ref in cov.payor or [] for i in _identifiers(req, ref)] + _identifiers(req, req.insurer)
    payer = next((i.value for i in idents if i.system == PAYER_SYSTEM and i.value), None)
    insurer = next((i.value for i in idents if i.system == INSURER_SYSTEM and i.value), None)
    query: dict[str, Any] = {}
    if payer is not None:
        v = numbers.normalize_insurer_number(payer)
        if not numbers.is_payer_number(v):  # a 公費負担者番号 of another 法別, or of the wrong length
            problems.add(numbers.check_payer_number(v, field="payer_number"))
        recipient = next(
            (i.value for i in cov.identifier or [] if i.system == RECIPIENT_SYSTEM and i.value), cov.subscriberId
        )
        query.update(insurer_number=v, identification_number=recipient)
    elif insurer is not None:
        v = numbers.normalize_insurer_number(insurer)
        if numbers.is_payer_number(v):
            problems.add(
                _problem(
                    "insurer_number",
                    "law_code",
                    f"法別番号12は公費負担者番号です。{PAYER_SYSTEM} で指定してください。",
                    f"Law code 12 is a payer number (公費負担者番号): give it with system {PAYER_SYSTEM}.",
                )
            )
        query.update(
            insurer_number=v,
            identification_number=_ext(cov, INSURED_NUMBER) or cov.subscriberId,
            card_symbol=_ext(cov, INSURED_SYMBOL),
            branch_number=_ext(cov, INSURED_SUB_NUMBER) or cov.dependent,
        )
    else:
        problems.add(
            _problem(
                "payer_number",
                "required",
                f"公費負担者番号（{PAYER_SYSTEM}）または保険者番号（{INSURER_SYSTEM}）を Coverage.payor に指定してください。",
                f"Coverage.payor needs an identifier: 公費負担者番号 ({PAYER_SYSTEM}) or 保険者番号 ({INSURER_SYSTEM}).",
            )
        )
    pat = _contained(req, req.patient) or _contained(req, cov.beneficiary)
    birth = getattr(pat, "birthDate", None) if isinstance(pat, Patient) else None
    query["birthdate"] = birth if birth is not None else None
    if req.servicedPeriod is not None:
        problems.add(
            _problem(
                "confirmation_date",
                "period",
                "資格確認日は servicedDate（1日）で指定してください。",
                "Give the day of the check as servicedDate, not servicedPeriod.",
            )
        )
    query["confirmation_date"] = req.servicedDate
    prov = req.provider.identifier if req.provider is not None and req.provider.identifier else None
    if prov is not None and prov.system == FACILITY_SYSTEM and prov.value != facility_code:
        problems.add(
            _problem(
                "provider",
                "not_caller",
                "provider の医療機関コードが、認証された医療機関・薬局と異なります。",
                "provider names another facility than the one the token belongs to.",
            )
        )
    problems.raise_if_any()
    return query


# --- errors --------------------------------------------------------------------------------------
_ISSUE_CODE = {400: "invalid", 401: "login", 403: "forbidden", 404: "not-found", 405: "not-supported", 409: "conflict"}
_ISSUE_CODE.update({413: "too-costly", 422: "processing", 503: "transient", 507: "transient", 500: "exception"})


def issue(
    status: int,
    code: str,
    ja: str,
    en: str,
    expression: str | None = None,
    field: str | None = None,
    reason: str | None = None,
) -> OperationOutcomeIssue:
    """One issue: ``details.coding`` the native error or problem code (and, for a refused view of
    薬剤情報等, the native ``reason`` as a second coding), ``details.text`` the Japanese message."""
    coding = [Coding(system=CS_PROBLEM, code=code)]
    if reason:
        coding.append(Coding(system=CS_MEDINFO_REFUSAL, code=reason))
    return OperationOutcomeIssue(
        severity="error" if status < 500 else "fatal",
        code="invalid" if field and status in (400, 422) else _ISSUE_CODE.get(status, "processing"),
        details=CodeableConcept(coding=coding, text=ja),
        diagnostics=f"{field}: {en}" if field else en,
        expression=[expression] if expression else None,
    )


def problem_issue(
    p: FieldProblem, status: int = 422, expressions: Mapping[str, str] | None = None
) -> OperationOutcomeIssue:
    where = (expressions or EXPRESSIONS).get(p.field, p.field)
    return issue(status, p.code, p.message_ja, p.message_en, where, p.field)


def outcome_of(exc: FujoError, expressions: Mapping[str, str] | None = None) -> OperationOutcome:
    """The service's refusal as an OperationOutcome: one issue per field problem, naming the field
    as the native API does (diagnostics ``field: message``) and where it is in the request (expression:
    :data:`EXPRESSIONS`, or ``expressions`` for a search's own parameters)."""
    if isinstance(exc, ValidationFailed) and exc.problems:
        return OperationOutcome(issue=[problem_issue(p, exc.status, expressions) for p in exc.problems])
    reason = getattr(exc, "reason", None)
    return OperationOutcome(
        issue=[issue(exc.status, exc.code, exc.message_ja, exc.message_en, reason=reason if reason else None)]
    )


def outcome_of_dict(error: Mapping[str, Any], status: int) -> OperationOutcome:
    """A batch item's ``Error`` (the service's ``as_dict``) as an OperationOutcome."""
    fields = error.get("fields") or []
    if fields:
        return OperationOutcome(
            issue=[
                problem_issue(FieldProblem(f["field"], f["code"], f["message_ja"], f["message_en"]), status)
                for f in fields
            ]
        )
    return OperationOutcome(issue=[issue(status, error["code"], error["message_ja"], error["message_en"])])


def structure_outcome(errors: Iterable[Mapping[str, Any]], root: str) -> OperationOutcome:
    """A resource that does not parse as R4: one issue per element (pydantic's location), 400."""
    issues = []
    for e in errors:
        path = root
        for part in e.get("loc", ()):
            path += f"[{part}]" if isinstance(part, int) else f".{part}"
        issues.append(
            issue(400, "structure", "FHIR R4 のリソースとして読めません。", str(e.get("msg", "invalid")), path, path)
        )
    return OperationOutcome(issue=issues or [issue(400, "structure", "読めません。", "Not a FHIR resource.")])


def batch_response(entries: list[tuple[int, Resource]]) -> Bundle:
    """(HTTP status, resource) per request entry, in order."""
    return Bundle(
        type="batch-response",
        entry=[
            BundleEntry(
                resource=res if status == 200 else None,
                response=BundleEntryResponse(
                    status=f"{status} {_REASON.get(status, '')}".strip(),
                    outcome=res if status != 200 else None,
                ),
            )
            for status, res in entries
        ],
    )


_REASON = {200: "OK", 400: "Bad Request", 403: "Forbidden", 422: "Unprocessable Entity"}
