"""Field-by-field parity of the FHIR answers with the native API's answer for the same case (issue 14),
on SQLite and PostgreSQL: every leaf field of the native answer is read back from the FHIR resource it
maps to — parsed with the R4B models of ``fhir.resources`` — and must have the same value.

The tables below say, for each native field (its path, list positions as ``[]``), how to read it from
the FHIR answer, with dates and times converted explicitly. A native field in neither the table nor the
documented list of fields FHIR does not carry fails the test, so a field the service starts answering is
mapped (or documented as not carried) before this passes. The cases: normal (the designated facility),
未委託 (another facility), invalid (a lost qualification; an unknown person, which is a 422), and 併用
(医療扶助 with a ticket SingleOrCombinedUse 02, and the same person's health insurance, two results).
For the month search and a Coverage read, the reference is the native month download (normal, 停止
(masked), 併用). The 未委託 and 停止 answers are scanned for the values the full answer has and the masked
one lacks (:func:`withheld`), in raw and FHIR form."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote, quote_plus, urlsplit

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.coverage import Coverage
from fhir.resources.R4B.coverageeligibilityresponse import (
    CoverageEligibilityResponse,
    CoverageEligibilityResponseInsurance,
    CoverageEligibilityResponseInsuranceItem,
)
from fhir.resources.R4B.extension import Extension
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.organization import Organization
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.period import Period
from sqlalchemy import select

from fujo.core.dates import JST
from fujo.core.fields import ELDERLY_BLOCK, INSURANCE_FIELDS, LIMIT_BLOCK, SPECIFIC_DISEASE_BLOCK
from fujo.core.monthly import STATUS_JA
from fujo.core.numbers import with_check_digit
from fujo.core.screen import HEADLINES
from fujo.db import schema
from fujo.db.database import Database
from fujo.fhir import mapping
from fujo.registry.service import update_recipient
from tests.factories import CLINIC, INSURER_NO, PAYER
from tests.fhir.conftest import SUBMIT, eligibility_request

FHIR_JSON = "application/fhir+json"
ON = "2024-07-10"  # the day of every check (the seed's month)


# --- reading the FHIR answer ----------------------------------------------------------------------
@dataclass(frozen=True)
class InText:
    """A reader's answer for a value FHIR carries within a text (the office to call, in a message): the
    native value must be in it."""

    text: str


def wire(d: Any) -> str | None:
    """A FHIR date (``date`` or text ``YYYY-MM-DD`` / ``YYYY-MM``) as the native wire date ``yyyyMMdd`` /
    ``yyyyMM``."""
    if d is None:
        return None
    text = d.isoformat() if isinstance(d, dt.date) else str(d)
    assert re.fullmatch(r"\d{4}-\d{2}(-\d{2})?", text), text
    return text.replace("-", "")


def day_after(d: Any) -> str:
    """The native 停止・廃止日/喪失日 (the first day not covered) from FHIR's last covered day."""
    return (dt.date.fromisoformat(str(d)) + dt.timedelta(days=1)).strftime("%Y%m%d")


def ext(resource: Any, url: str) -> Extension | None:
    return next((e for e in resource.extension or [] if e.url == url), None)


def part(extension: Extension, name: str) -> Extension | None:
    return next((e for e in extension.extension or [] if e.url == name), None)


def ident(resource: Any, system: str) -> str | None:
    return next((i.value for i in resource.identifier or [] if i.system == system), None)


def name_of(patient: Patient, representation: str) -> str | None:
    for n in patient.name or []:
        if ext(n, mapping.NAME_REPRESENTATION).valueCode == representation:
            return n.text
    return None


def same(*values: Any) -> Any:
    """The value of an element the mapping writes in several places: all must agree."""
    assert len(set(map(str, values))) == 1, f"the places disagree: {values}"
    return values[0]


def value_of(x: Extension) -> Any:
    """A sub-extension's value in the native form: dates as yyyyMMdd / yyyyMM, a dateTime as ISO 8601 (the
    native RegisteredAt) or yyyyMMddHHmmss (JST, the native ConsTime), an identifier as its value."""
    if x.valueDate is not None:
        return wire(x.valueDate)
    if x.valueDateTime is not None:
        return x.valueDateTime.isoformat() if x.url == "RegisteredAt" else time_of(x.valueDateTime)
    if x.valueIdentifier is not None:
        assert x.valueIdentifier.system == mapping.FACILITY_SYSTEM
        return x.valueIdentifier.value
    return x.valueCode if x.valueCode is not None else x.valueString


def time_of(t: dt.datetime) -> str:
    """A FHIR dateTime as the native yyyyMMddHHmmss in JST."""
    return t.astimezone(JST).strftime("%Y%m%d%H%M%S")


@dataclass
class Found:
    """What the FHIR answer says about one native result (ResultOfQualificationConfirmation)."""

    coverage: Coverage
    payor: Organization
    patient: Patient
    qualified: Period | None  # the qualification's period (保護期間 / 資格期間)
    tickets: list[Extension]  # the ``medical-ticket`` extensions, in the native order
    facility: str  # the asking facility's 医療機関コード
    insurance: CoverageEligibilityResponseInsurance | None = None  # $submit only
    items: list[CoverageEligibilityResponseInsuranceItem] | None = None  # $submit only

    @property
    def assistance(self) -> bool:
        return ext(self.coverage, mapping.EXT_CARD_CLASS).valueCode == "A1"


def _contained(resource: Any, ref: str) -> Any:
    assert ref.startswith("#"), ref
    [found] = [x for x in resource.contained or [] if x.id == ref[1:]]
    return found


def found_in_response(resp: CoverageEligibilityResponse) -> list[Found]:
    out = []
    for ins in resp.insurance or []:
        cov = _contained(resp, ins.coverage.reference)
        items = list(ins.item or [])
        out.append(
            Found(
                coverage=cov,
                payor=_contained(resp, cov.payor[0].reference),
                patient=_contained(resp, cov.beneficiary.reference),
                qualified=cov.period,  # a check's Coverage: the qualification
                tickets=[ext(item, mapping.EXT_TICKET) for item in items],
                facility=resp.requestor.identifier.value,
                insurance=ins,
                items=items,
            )
        )
    return out


def found_in_coverage(cov: Coverage, facility: str) -> Found:
    """A ticket's Coverage (search, read): ``period`` is the ticket's validity, the qualification's period is
    the ``qualification-period`` extension; a masked one has no ticket and ``period`` is the qualification's."""
    ticket = ext(cov, mapping.EXT_TICKET)
    qualified = ext(cov, mapping.EXT_QUALIFICATION_PERIOD)
    return Found(
        coverage=cov,
        payor=_contained(cov, cov.payor[0].reference),
        patient=_contained(cov, cov.beneficiary.reference),
        qualified=(qualified.valuePeriod if qualified is not None else None) if ticket is not None else cov.period,
        tickets=[ticket] if ticket is not None else [],
        facility=facility,
    )


# --- the tables: native field → how to read it from the FHIR answer ---------------------------------
Reader = Callable[[Any, tuple[int, ...]], Any]
_GENDER = {"male": "1", "female": "2", "unknown": "3"}


def _validity(f: Found) -> str:
    places = [ext(f.coverage, mapping.EXT_VALIDITY).valueCoding.code]
    if f.insurance is not None:
        places.append(ext(f.insurance, mapping.EXT_VALIDITY).valueCoding.code)
    return same(*places)


def _number(f: Found) -> str:
    if f.assistance:  # 受給者番号: JP Core's identifier, and subscriberId
        return same(ident(f.coverage, mapping.RECIPIENT_SYSTEM), f.coverage.subscriberId)
    return same(ext(f.coverage, mapping.INSURED_NUMBER).valueString, f.coverage.subscriberId)


def _month_status(f: Found, sub: str) -> Extension | None:
    return part(ext(f.coverage, mapping.EXT_MONTH_STATUS), sub)


RESULT: dict[str, Callable[[Found], Any]] = {
    "InsuredCardClassification": lambda f: ext(f.coverage, mapping.EXT_CARD_CLASS).valueCode,
    "QualificationValidity": _validity,
    "InsurerName": lambda f: f.payor.name,
    "InsurerNumber": lambda f: ident(f.payor, mapping.PAYER_SYSTEM if f.assistance else mapping.INSURER_SYSTEM),
    "InsuredIdentificationNumber": _number,
    "InsuredCardSymbol": lambda f: ext(f.coverage, mapping.INSURED_SYMBOL).valueString,
    "InsuredBranchNumber": lambda f: same(
        ext(f.coverage, mapping.INSURED_SUB_NUMBER).valueString, f.coverage.dependent
    ),
    "Name": lambda f: name_of(f.patient, "IDE"),
    "NameKana": lambda f: name_of(f.patient, "SYL"),
    "Sex1": lambda f: _GENDER[f.patient.gender],
    "Birthdate": lambda f: wire(f.patient.birthDate),
    "Address": lambda f: f.patient.address[0].text,
    "PostNumber": lambda f: f.patient.address[0].postalCode,
    "QualificationDate": lambda f: wire(f.qualified.start),
    "DisqualificationDate": lambda f: day_after(f.qualified.end),  # FHIR: the last covered day
    "DisqualificationKind": lambda f: ext(f.coverage, mapping.EXT_DISQUALIFICATION_KIND).valueCode,
    "ReferenceNumber": lambda f: ident(f.patient, mapping.PATIENT_ID_PREFIX + f.facility),
    "ProcessingResultCode": lambda f: ext(f.coverage, mapping.EXT_NOTICE).valueCoding.code,
    "ProcessingResultMessage": lambda f: ext(f.coverage, mapping.EXT_NOTICE).valueCoding.display,
    # the month download's status of the month (search, read)
    "QualificationStatus": lambda f: _month_status(f, "status").valueCode,
    "QualificationStatusDate": lambda f: wire(_month_status(f, "date").valueDate),
    # the status's Japanese text is a function of its code (fujo.core.monthly.STATUS_JA): not written twice
    "QualificationStatusText": lambda f: STATUS_JA[_month_status(f, "status").valueCode],
}
# a health insurance's card details: the ``insurance-card`` extension, one sub-extension per wire element
# (the mapping's own list: an element it leaves out is a native field this table lacks, which fails)
INSURANCE_CARD = mapping.INSURANCE_CARD_ELEMENTS
for _name in INSURANCE_CARD:
    RESULT[_name] = lambda f, n=_name: value_of(part(ext(f.coverage, mapping.EXT_INSURANCE_CARD), n))

# a ticket (MedicalTicketInfo): the ``medical-ticket`` sub-extension of the same name; in a check's answer
# also the item's category (TicketType) and provider (the designated facility)
TICKET = (
    "TicketType",
    "MedicalTreatmentMonth",
    "MedicalTicketValidDate",
    "MedicalTicketExpirationDate",
    "IssueNumber",
    "DesignatedMedicalInstitutionCode",
    "DesignatedMedicalInstitutionName",
    "PrescriptionIssuerMedicalInstitutionCode",
    "PrescriptionIssuerMedicalInstitutionName",
    "InjuryName1",
    "InjuryName2",
    "InjuryName3",
    "MedicalTreatmentType",
    "SelfPayAmount",
    "DistrictContactName",
    "HandlingContactName",
    "SingleOrCombinedUse",
    "StatusOfSocialInsurance",
    "ConsistencyFlag",
    "StatusOfInfecton",
    "StatusOfElderlyMedicalCare",
    "StatusOfPrefecturalExpenses",
    "Remarks1",
    "Remarks2",
    "Remarks3",
    "DesignatedMedicalInstitutionFlag",
    "RegisteredAt",  # search, read
)
_ITEM: dict[str, Callable[[CoverageEligibilityResponseInsuranceItem], Any]] = {
    "TicketType": lambda item: item.category.coding[0].code,
    "DesignatedMedicalInstitutionCode": lambda item: item.provider.identifier.value,
    "DesignatedMedicalInstitutionName": lambda item: item.provider.display,
}


def _ticket(f: Found, j: int, name: str) -> Any:
    value = value_of(part(f.tickets[j], name))
    if f.items is not None and name in _ITEM:
        return same(value, _ITEM[name](f.items[j]))
    return value


def _results(results: Callable[[Any], list[Found]]) -> dict[str, Reader]:
    """The rows of the table under ``ResultList[]`` (results: the Found of each native result, in order)."""
    table: dict[str, Reader] = {}
    for name, read in RESULT.items():
        table[f"ResultList[].{name}"] = lambda a, ix, read=read: read(results(a)[ix[0]])
    for name in TICKET:
        table[f"ResultList[].PublicExpenseResultList.MedicalTicketInfo[].{name}"] = lambda a, ix, name=name: _ticket(
            results(a)[ix[0]], ix[1], name
        )
    return table


def _notice(resp: CoverageEligibilityResponse) -> Extension:
    return ext(resp, mapping.EXT_NOTICE)


def _body_message(resp: CoverageEligibilityResponse) -> str:
    """The notice's message: the processing-result extension, and the disposition after its headline."""
    headline = HEADLINES[ext(resp, mapping.EXT_VALIDITY).valueCoding.code]
    assert resp.disposition.startswith(headline), resp.disposition
    return same(_notice(resp).valueCoding.display, resp.disposition[len(headline) :])


def _insurer(resp: CoverageEligibilityResponse) -> Organization:
    return _contained(resp, resp.insurer.reference)


CHECK: dict[str, Reader] = {  # POST /api/v1/checks/numbers → CoverageEligibilityResponse
    "ProcessExecutionTime": lambda r, _: time_of(r.created),
    "QualificationConfirmationDate": lambda r, _: wire(r.servicedDate),
    "MedicalInstitutionCode": lambda r, _: r.requestor.identifier.value,
    "QualificationValidity": lambda r, _: ext(r, mapping.EXT_VALIDITY).valueCoding.code,
    "Reason": lambda r, _: ext(r, mapping.EXT_REASON).valueCode,
    "ProcessingResultCode": lambda r, _: _notice(r).valueCoding.code,
    "ProcessingResultMessage": lambda r, _: _body_message(r),
    "Contact.OfficeName": lambda r, _: _insurer(r).name,
    "Contact.Phone": lambda r, _: _insurer(r).telecom[0].value,
    "CheckId": lambda r, _: int(ident(r, mapping.NS_CHECK_ID)),
    **_results(found_in_response),
}
_WIRE = {f.name: f.wire for f in INSURANCE_FIELDS}
CHECK_NOT_CARRIED = {  # native fields of a check's answer that the CoverageEligibilityResponse does not carry
    # always 2 (by numbers): $submit is the check by numbers
    "ReferenceClassification",
    # the nested certificate blocks of a health insurance (docs/FHIR.md, Not (yet) done)
    *(f"ResultList[].ElderlyRecipientCertificateInfo.{_WIRE[n]}" for n in ELDERLY_BLOCK),
    *(f"ResultList[].LimitApplicationCertificateRelatedInfo.{_WIRE[n]}" for n in LIMIT_BLOCK),
    *(
        f"ResultList[].SpecificDiseasesCertificateList.SpecificDiseasesCertificateInfo[].{_WIRE[n]}"
        for n in SPECIFIC_DISEASE_BLOCK
    ),
}


def _no_match_issue(o: OperationOutcome):
    [issue] = o.issue
    return issue


def _coding(o: OperationOutcome, system: str):
    [found] = [c for c in _no_match_issue(o).details.coding if c.system == system]
    return found


NO_MATCH: dict[str, Reader] = {  # a check that matched nobody (validity 4) → 422 OperationOutcome
    "QualificationValidity": lambda o, _: _coding(o, mapping.CS_VALIDITY).code,
    "ProcessingResultCode": lambda o, _: _coding(o, mapping.CS_PROCESSING_RESULT).code,
    "ProcessingResultMessage": lambda o, _: same(
        _coding(o, mapping.CS_PROCESSING_RESULT).display,
        _no_match_issue(o).details.text[len(HEADLINES["4"]) :],
    ),
    # whom to call: the office named in the message (the 公費負担者番号 the client sent is that office's)
    "Contact.OfficeName": lambda o, _: InText(_no_match_issue(o).details.text),
    "Contact.Phone": lambda o, _: InText(_no_match_issue(o).details.text),
    "CheckId": lambda o, _: int(ext(o, mapping.EXT_CHECK_ID).valueIdentifier.value),
}


NO_MATCH_NOT_CARRIED = {
    # the request's own day and facility, and the time of the answer (the HTTP Date): an OperationOutcome
    # has no element for them, and a client that asked knows them
    "ProcessExecutionTime",
    "QualificationConfirmationDate",
    "MedicalInstitutionCode",
    "ReferenceClassification",
}


@dataclass
class Month:
    bundle: Bundle
    found: list[Found]


def _only(values: set[str]) -> str | set[str]:
    return next(iter(values)) if len(values) == 1 else values


MONTH: dict[str, Reader] = {  # GET /api/v1/facility/tickets → GET /fhir/Coverage?month= (every page)
    # the facility whose tickets these are: every ticket of the search designates it
    "MedicalInstitutionCode": lambda m, _: _only(
        {value_of(part(t, "DesignatedMedicalInstitutionCode")) for f in m.found for t in f.tickets}
    ),
    "MedicalTreatmentMonth": lambda m, _: wire(_self_query(m.bundle)["month"][0]),
    "Cursor": lambda m, _: (
        int(m.bundle.identifier.value) if m.bundle.identifier.system == mapping.NS_TICKET_CURSOR else None
    ),
    "Count": lambda m, _: m.bundle.total,
    **_results(lambda m: m.found),
}
MONTH_NOT_CARRIED: set[str] = set()


def _self_query(bundle: Bundle) -> dict[str, list[str]]:
    [url] = [x.url for x in bundle.link if x.relation == "self"]
    return parse_qs(urlsplit(url).query)


# --- comparing -------------------------------------------------------------------------------------
def leaves(value: Any, path: str = "", at: tuple[int, ...] = ()) -> Iterator[tuple[str, tuple[int, ...], Any]]:
    """Every leaf of a native answer: (path with list positions as ``[]``, the positions, value)."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from leaves(v, f"{path}.{k}" if path else k, at)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from leaves(v, f"{path}[]", (*at, i))
    else:
        yield path, at, value


def assert_parity(native: dict, answer: Any, table: dict[str, Reader], not_carried: set[str]) -> set[str]:
    """Every leaf of ``native`` read back from ``answer`` through ``table``; returns the paths met."""
    met = {path for path, _, _ in leaves(native)}
    assert met - set(table) - not_carried == set(), "native fields that FHIR neither maps nor documents as not carried"
    wrong = []
    for path, at, value in leaves(native):
        if path in not_carried:
            continue
        try:
            got = table[path](answer, at)
        except (AttributeError, IndexError, KeyError, TypeError, ValueError, AssertionError) as e:
            got = f"<not in the FHIR answer: {type(e).__name__}: {e}>"
        if got != value and not (isinstance(got, InText) and str(value) in got.text):
            wrong.append((path, at, value, got))
    assert wrong == [], "FHIR says otherwise than the native answer:\n" + "\n".join(map(repr, wrong))
    return met


# --- what a masked answer withholds ------------------------------------------------------------------
ANSWER_KEYS = {  # what any two answers differ in, whoever asks: the answer itself, not a withheld datum
    "CheckId",
    "ProcessExecutionTime",
    "MedicalInstitutionCode",
    "QualificationValidity",
    "Reason",
    "QualificationStatus",
    "QualificationStatusText",
}


def withheld(full: dict, masked: dict) -> set[str]:
    """The values the full answer (the designated facility's; before 停止) has and the masked one lacks."""

    def values(d: dict) -> set[str]:
        return {str(v) for path, _, v in leaves(d) if path.rsplit(".", 1)[-1] not in ANSWER_KEYS}

    return values(full) - values(masked)


def fhir_forms(value: str) -> set[str]:
    """``value`` as it could appear in a FHIR answer: as is, URL-encoded (in a link), \\u-escaped (JSON
    written ensure_ascii)."""
    return {value, quote(value, safe=""), quote_plus(value), json.dumps(value)[1:-1]}


def fhir_date_form(value: str) -> str | None:
    """A wire date or month (yyyyMMdd, yyyyMM) as FHIR writes it (YYYY-MM-DD, YYYY-MM); None otherwise."""
    if re.fullmatch(r"(19|20)\d{2}(0[1-9]|1[0-2])([0-3]\d)?", value):
        return "-".join(x for x in (value[:4], value[4:6], value[6:8]) if x)
    return None


def assert_nothing_leaks(text: str, hidden: set[str]) -> None:
    """None of ``hidden`` in ``text``, in any of its forms. A value of a few characters (a code such as 01)
    counts only as a whole JSON string — as a substring it is in any text —, and a date or month in FHIR
    form only as a whole date (2024-07 is not in 2024-07-10, the day the client asked about)."""
    assert hidden, "nothing to look for: the scan would prove nothing"
    leaked = []
    for value in hidden:
        for form in fhir_forms(value):
            seen = f'"{form}"' in text if len(value) < 4 else form in text
            if seen:
                leaked.append((value, form))
        date = fhir_date_form(value)
        if date and re.search(rf"(?<![\d-]){date}(?![\d-])", text):
            leaked.append((value, date))
    assert leaked == [], f"withheld values in the FHIR answer: {leaked}"


# --- the cases -------------------------------------------------------------------------------------
@pytest.fixture
def frozen(monkeypatch) -> dt.datetime:
    """One second for every check of the test, so the native ProcessExecutionTime of a check made just
    before or after the FHIR one is the same (no second boundary between them)."""
    now = dt.datetime.now(JST).replace(microsecond=0)
    monkeypatch.setattr(Database, "now", staticmethod(lambda: now))
    return now


@dataclass
class Scene:
    adult: dict  # 医療扶助, ticket designating the clinic, the clinic's 照会番号
    adult_ticket: dict
    lost: dict  # 保護廃止 before the day of the check
    child: dict  # 併用: 医療扶助 (ticket 02, 社保あり) and a family member's health insurance (two, one lost)
    child_ticket: dict
    suspended: dict  # its ticket designates the clinic; 停止 is recorded by the test (suspend)
    suspended_ticket: dict


@pytest.fixture
def scene(world, frozen) -> Scene:
    adult = world.recipient()
    world.card(adult)
    adult_ticket = world.ticket(adult)
    world.reference(adult, "K0001")
    lost = world.recipient(disqualification_date="2024-07-01", disqualification_kind="2")
    child = world.recipient(
        name="生保花子", name_kana="ｾｲﾎ ﾊﾅｺ", sex="2", birthdate="2020-05-01", qualification_date="2020-05-01"
    )
    card = world.card(child)
    child_ticket = world.ticket(  # every element of a ticket filled
        child,
        single_or_combined="02",
        social_insurance="01",
        prescription_issuer_code=CLINIC,
        self_pay_amount="1200",
        district_contact_name="地区担当一",
        handling_contact_name="取扱担当二",
        consistency_flag="0",
        infection_status="02",
        elderly_care_status="02",
        prefectural_expense_status="01",
        remarks1="併用",
        remarks2="備考二",
        remarks3="備考三",
    )
    insured = {  # the family member's card, every detail a clinic imports
        "name": child["name"],
        "name_kana": child["name_kana"],
        "sex": "2",
        "birthdate": "2020-05-01",
        "personal_family": "2",
        "insured_name": "社保太郎",
        "name_of_other": "生保はなこ",
        "name_of_other_kana": "ｾｲﾎ ﾊﾅｺ",
    }
    world.insurance(card, **insured, qualification_date="2020-05-01", disqualification_date="2023-04-01")
    world.insurance(
        card,
        **insured,
        qualification_date="2023-04-01",
        card_issuance_date="2023-03-20",
        card_valid_from="2023-04-01",
        card_valid_to="2027-03-31",
        contribution_ratio="020",
        preschool="1",
    )
    suspended = world.recipient(name="停止次郎", address="東京都○○市9-9-9", post_number="100-0009")
    suspended_ticket = world.ticket(suspended, issue_number="70000001")
    return Scene(adult, adult_ticket, lost, child, child_ticket, suspended, suspended_ticket)


def suspend(world, r: dict) -> None:
    """The office records 停止 from 6/15, after the July ticket was registered: the ticket is not billable."""
    update_recipient(
        world.db,
        world.principal("office"),
        payer=r["payer_number"],
        rn=r["recipient_number"],
        changes={"disqualification_date": "2024-06-15", "disqualification_kind": "1", "disqualification_reason": "x"},
    )


CHECK_CASES = ["normal", "mitaku", "lost", "unknown", "combined-assistance", "combined-insurance"]


def _request(scene: Scene, case: str) -> tuple[str, dict, dict]:
    """(who asks, the FHIR request, the native request) of a case: the same numbers."""
    r = {"mitaku": scene.adult, "lost": scene.lost}.get(case, scene.child if "combined" in case else scene.adult)
    who = "other" if case == "mitaku" else "clinic"
    payer, number, system = PAYER, r["recipient_number"], mapping.PAYER_SYSTEM
    if case == "unknown":
        number = with_check_digit("999999")
    if case == "combined-insurance":
        payer, number, system = INSURER_NO, "5678", mapping.INSURER_SYSTEM
    fhir = eligibility_request(payer, number, birthdate=r["birthdate"], on=ON, system=system)
    native = {"insurer_number": payer, "identification_number": number, "birthdate": r["birthdate"]}
    return who, fhir, {**native, "confirmation_date": ON}


def native_check(client, world, who: str, body: dict) -> dict:
    res = client.post("/api/v1/checks/numbers", headers=world.auth(who), json=body)
    assert res.status_code == 200, res.text
    return res.json()


def newest_fhir_check(db) -> int:
    cl = schema.check_log
    with db.read() as conn:
        return conn.execute(
            select(cl.c.id).where(cl.c.method == "numbers", cl.c.channel == "fhir").order_by(cl.c.id.desc()).limit(1)
        ).scalar_one()


def check_parity(client, world, db, scene: Scene, case: str) -> set[str]:
    """The case through $submit and through the native check; asserts the parity, returns the paths met."""
    who, fhir_body, native_body = _request(scene, case)
    res = client.post(SUBMIT, headers={**world.auth(who), "Content-Type": FHIR_JSON}, json=fhir_body)
    assert res.headers["content-type"].startswith(FHIR_JSON)
    native = native_check(client, world, who, native_body)
    # CheckId names each check's own entry: the FHIR answer's is that of the check it made
    native["CheckId"] = newest_fhir_check(db)
    if case == "unknown":  # matched nobody: 422 (issue 14), the same decision and record
        assert res.status_code == 422, res.text
        assert native["QualificationValidity"] == "4"
        return assert_parity(native, OperationOutcome.model_validate(res.json()), NO_MATCH, NO_MATCH_NOT_CARRIED)
    assert res.status_code == 200, res.text
    resp = CoverageEligibilityResponse.model_validate(res.json())
    assert len(resp.insurance or []) == len(native["ResultList"])  # one insurance per native result
    # what FHIR derives from the native fields (no native field of its own)
    for f in found_in_response(resp):
        in_force = _validity(f) in ("1", "6")
        assert f.insurance.inforce is in_force and f.coverage.status == ("active" if in_force else "cancelled")
    met = assert_parity(native, resp, CHECK, CHECK_NOT_CARRIED)
    if case == "mitaku":  # what the designated facility's answer has and this one lacks, nowhere in FHIR
        full = native_check(client, world, "clinic", native_body)
        hidden = withheld(full, native)
        assert {scene.adult["recipient_number"], PAYER, scene.adult_ticket["issue_number"], "K0001"} <= hidden
        assert_nothing_leaks(res.text, hidden)
    return met


@pytest.mark.parametrize("case", CHECK_CASES)
def test_submit_answers_every_native_field_with_the_same_value(client, world, db, scene, case):
    met = check_parity(client, world, db, scene, case)
    if case == "combined-assistance":
        assert "ResultList[].PublicExpenseResultList.MedicalTicketInfo[].SingleOrCombinedUse" in met
    if case == "combined-insurance":  # two results: the current card and the lost one before it
        assert {"ResultList[].InsuredCardValidDate", "ResultList[].DisqualificationDate"} <= met


def test_every_row_of_the_check_tables_is_met_by_some_case(client, world, db, scene):
    """The tables hold no row the cases never meet (a row that is never compared proves nothing)."""
    met = set()
    for case in CHECK_CASES:
        met |= {("422" if case == "unknown" else "200", p) for p in check_parity(client, world, db, scene, case)}
    unmet_check = set(CHECK) - {p for s, p in met if s == "200"}
    unmet_no_match = set(NO_MATCH) - {p for s, p in met if s == "422"}
    never_in_a_check = {  # the month download's own (RegisteredAt, the status of the month) …
        "ResultList[].PublicExpenseResultList.MedicalTicketInfo[].RegisteredAt",
        "ResultList[].QualificationStatus",
        "ResultList[].QualificationStatusDate",
        "ResultList[].QualificationStatusText",
        # … and the times of consents given at a card reader, which a check by numbers cannot carry
        "ResultList[].LimitApplicationCertificateRelatedConsTime",
        "ResultList[].SpecificDiseasesCertificateRelatedConsTime",
    }
    assert unmet_check == never_in_a_check and unmet_no_match == set()


# --- the month search and a Coverage read, against the native month download ------------------------
def native_month(client, world) -> dict:
    res = client.get("/api/v1/facility/tickets", params={"month": "2024-07"}, headers=world.auth("clinic"))
    assert res.status_code == 200, res.text
    return res.json()


def fhir_month(client, world, count: int) -> tuple[list[Bundle], list[str]]:
    """Every page of the month search (following next), each parsed; and the pages' text."""
    url: str | None = f"/fhir/Coverage?month=2024-07&_count={count}"
    pages, texts = [], []
    while url:
        res = client.get(url, headers=world.auth("clinic"))
        assert res.status_code == 200 and res.headers["content-type"].startswith(FHIR_JSON), res.text
        pages.append(Bundle.model_validate(res.json()))
        texts.append(res.text)
        url = next((x.url for x in pages[-1].link if x.relation == "next"), None)
    return pages, texts


def _result_of(doc: dict, rn: str | None, name: str) -> tuple[int, dict]:
    """The position and native result of a recipient in the month (a masked one has no number: its name)."""
    [(i, res)] = [
        (i, x)
        for i, x in enumerate(doc["ResultList"])
        if x.get("InsuredIdentificationNumber") == rn or (rn is None and x.get("Name") == name)
    ]
    return i, res


@pytest.mark.parametrize("count", [1000, 1], ids=["one page", "a page a ticket"])
def test_the_month_search_answers_every_field_of_the_native_download(client, world, db, scene, count):
    before = native_month(client, world)
    _, unmasked = _result_of(before, scene.suspended["recipient_number"], "")
    suspend(world, scene.suspended)
    native = native_month(client, world)
    pages, texts = fhir_month(client, world, count)
    entries = [e for p in pages for e in p.entry or []]
    first = pages[0]
    # one Coverage per ticket, in the download's order (each recipient here has one ticket)
    assert len(entries) == len(native["ResultList"]) == 3
    clinic = native["MedicalInstitutionCode"]
    month = Month(first, [found_in_coverage(e.resource, clinic) for e in entries])
    met = assert_parity(native, month, MONTH, MONTH_NOT_CARRIED)
    assert {"ResultList[].QualificationStatusDate", "ResultList[].ReferenceNumber"} <= met
    assert "ResultList[].PublicExpenseResultList.MedicalTicketInfo[].RegisteredAt" in met
    # the 停止 ticket: masked as the download masks it, and nothing it withholds is in its Coverage
    i, masked = _result_of(native, None, scene.suspended["name"])
    assert masked["QualificationValidity"] == "2" and "PublicExpenseResultList" not in masked
    assert entries[i].resource.id == scene.suspended_ticket["ticket_key"]
    hidden = withheld(unmasked, masked)
    assert {scene.suspended["recipient_number"], PAYER, "70000001", "東京都○○市9-9-9"} <= hidden
    # the Coverage as the server wrote it (the page's links carry the month the client itself asked for)
    [written] = [
        e for t in texts for e in json.loads(t).get("entry", []) if e["resource"]["id"] == entries[i].resource.id
    ]
    assert_nothing_leaks(json.dumps(written, ensure_ascii=False), hidden)


@pytest.mark.parametrize("case", ["normal", "suspended", "combined"])
def test_a_coverage_read_answers_every_field_of_the_ticket_in_the_native_download(client, world, db, scene, case):
    r, ticket = {
        "normal": (scene.adult, scene.adult_ticket),
        "suspended": (scene.suspended, scene.suspended_ticket),
        "combined": (scene.child, scene.child_ticket),
    }[case]
    unmasked = _result_of(native_month(client, world), r["recipient_number"], "")[1]
    if case == "suspended":
        suspend(world, r)
    native = native_month(client, world)
    _, result = _result_of(native, None if case == "suspended" else r["recipient_number"], r["name"])
    res = client.get(f"/fhir/Coverage/{ticket['ticket_key']}", headers=world.auth("clinic"))
    assert res.status_code == 200 and res.headers["content-type"].startswith(FHIR_JSON), res.text
    cov = Coverage.model_validate(res.json())
    assert cov.id == ticket["ticket_key"]
    found = found_in_coverage(cov, native["MedicalInstitutionCode"])
    assert_parity({"ResultList": [result]}, Month(Bundle(type="searchset"), [found]), MONTH, MONTH_NOT_CARRIED)
    if case == "combined":
        assert value_of(part(found.tickets[0], "SingleOrCombinedUse")) == "02"
    if case == "suspended":
        assert cov.status == "cancelled"
        assert_nothing_leaks(res.text, withheld(unmasked, result))
