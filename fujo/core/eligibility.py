"""The eligibility decision (資格確認) and the 未委託 masking rule. Pure: rows in, dicts out.

Rows are any objects with the attribute names of :mod:`fujo.core.fields` (SQLAlchemy Core rows,
dataclasses in tests). Result dicts use the element names of the terminal interface
(ResultOfQualificationConfirmation …) so that the HTTP JSON, the XML files and the screens all
speak one vocabulary.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from . import codes
from .dates import month_of, wire_date, wire_time
from .fields import ELDERLY_BLOCK, INSURANCE_FIELDS, LIMIT_BLOCK, SPECIFIC_DISEASE_BLOCK, TICKET_FIELDS
from .numbers import pad_insurer_number
from .rows import InsuranceRow, Period, Person, RecipientRow, TicketRow, WireDict

Q = TypeVar("Q", bound=Period)

# Which result wins the body-level QualificationValidity when one check returns several
# qualifications (医療保険 + 医療扶助): any valid one makes the person checkable.
_PRECEDENCE = (
    codes.VALID,
    codes.VALID_UNREGISTERED,
    codes.MULTIPLE,
    codes.INVALID_NEWER,
    codes.INVALID,
    codes.NO_QUALIFICATION,
)

NOT_DESIGNATED = "not_designated"  # tickets exist this month but for another facility
NOT_REGISTERED = "not_registered"  # no ticket registered yet for this month
DESIGNATED = "designated"


def active_on(qualification_date: dt.date, disqualification_date: dt.date | None, on: dt.date) -> bool:
    """A qualification runs from its start day up to, not including, its 停止・廃止日/喪失日."""
    return qualification_date <= on and (disqualification_date is None or on < disqualification_date)


@dataclass
class AssistanceDecision:
    validity: str
    reason: str | None = None  # designated / not_designated / not_registered / lost
    tickets: Sequence[TicketRow] = field(default_factory=list)  # the tickets the facility may see

    @property
    def shows_numbers(self) -> bool:
        """未委託 rule: 公費負担者番号, 受給者番号 and ticket data go only to the designated facility,
        so that no claim can be made while not designated."""
        return self.validity == codes.VALID


def decide_assistance(
    recipient: RecipientRow | None,
    tickets: Iterable[TicketRow],
    facility_code: str,
    on: dt.date,
    newer_exists: bool = False,
) -> AssistanceDecision:
    """Decide a 医療扶助 check for ``facility_code`` on day ``on``.

    ``tickets`` are the recipient's current (not cancelled, not superseded) tickets; only those of
    the month of ``on`` whose validity covers ``on`` and that designate this facility count.
    """
    if recipient is None:
        return AssistanceDecision(codes.NO_QUALIFICATION)
    if not active_on(recipient.qualification_date, recipient.disqualification_date, on):
        return AssistanceDecision(codes.INVALID_NEWER if newer_exists else codes.INVALID, "lost")
    month = month_of(on)
    this_month = [t for t in tickets if t.treatment_month == month]
    mine = [t for t in this_month if t.designated_facility_code == facility_code and t.valid_from <= on <= t.valid_to]
    if mine:
        return AssistanceDecision(codes.VALID, DESIGNATED, mine)
    return AssistanceDecision(codes.VALID_UNREGISTERED, NOT_DESIGNATED if this_month else NOT_REGISTERED)


def decide_insurance(quals: Sequence[Q], on: dt.date) -> list[tuple[Q, str]]:
    """Validity of each health-insurance qualification of a person on ``on``."""
    out = []
    any_active = any(active_on(q.qualification_date, q.disqualification_date, on) for q in quals)
    for q in quals:
        if active_on(q.qualification_date, q.disqualification_date, on):
            out.append((q, codes.VALID))
        else:
            out.append((q, codes.INVALID_NEWER if any_active else codes.INVALID))
    return out


def overall_validity(validities: Iterable[str]) -> str:
    vs = set(validities)
    for v in _PRECEDENCE:
        if v in vs:
            return v
    return codes.NO_QUALIFICATION


# (column, wire name) of every ticket field on the wire (all of them), in the wire's order: looked up
# once, not per ticket (a month's download builds tens of thousands)
_TICKET_WIRE = tuple((f.name, f.wire) for f in TICKET_FIELDS if f.wire is not None)


def ticket_info(t: TicketRow, facility_code: str) -> WireDict:
    """MedicalTicketInfo for one ticket, with DesignatedMedicalInstitutionFlag for the asker."""
    d: WireDict = {}
    for name, wire in _TICKET_WIRE:
        v = getattr(t, name)
        if v is None:
            continue
        if isinstance(v, dt.date):
            v = wire_date(v)
        elif isinstance(v, int):
            v = str(v)
        d[wire] = v
    d["DesignatedMedicalInstitutionFlag"] = (
        codes.DESIGNATED_MATCH if t.designated_facility_code == facility_code else codes.DESIGNATED_MISMATCH
    )
    return d


def _person(d: WireDict, r: Person, with_address: bool = True, with_identity: bool = True) -> None:
    if with_identity:
        d["Name"] = r.name
        d["NameKana"] = r.name_kana
    d["Sex1"] = r.sex
    if with_identity:
        d["Birthdate"] = wire_date(r.birthdate)
    if with_address and r.address:
        d["Address"] = r.address
    if with_address and r.post_number:
        d["PostNumber"] = r.post_number


def assistance_result(
    recipient: RecipientRow,
    office_name: str,
    decision: AssistanceDecision,
    facility_code: str,
    reference_number: str | None = None,
) -> WireDict:
    """ResultOfQualificationConfirmation for 医療扶助 (InsuredCardClassification A1), masked
    unless the asker is the designated facility (validity 1)."""
    d: WireDict = {
        "InsuredCardClassification": codes.CARD_CLASS_MEDICAL_ASSISTANCE,
        "QualificationValidity": decision.validity,
        "InsurerName": office_name,
    }
    if decision.shows_numbers:
        d["InsurerNumber"] = recipient.payer_number
        d["InsuredIdentificationNumber"] = recipient.recipient_number
    # Masked answers carry what the seed's 未委託 screen shows (name, sex, birth date, office) and,
    # for a lost qualification, when and why it ended — never the address. A restricted recipient
    # (閲覧制限, see restricted_view) shows no address at all, and name and birth date only to the
    # designated facility.
    hide = restricted_view(recipient, decision.shows_numbers)
    _person(d, recipient, with_address=decision.shows_numbers and not hide.address, with_identity=not hide.identity)
    if decision.validity != codes.VALID_UNREGISTERED:
        d["QualificationDate"] = wire_date(recipient.qualification_date)
        if recipient.disqualification_date:
            d["DisqualificationDate"] = wire_date(recipient.disqualification_date)
        # 保護停止・廃止 has its own table (停止 / 廃止), not the insurance ReasonOfLoss: a fujo extra, not in
        # the XML. The office's reason text stays with the office (it may be sensitive).
        kind = getattr(recipient, "disqualification_kind", None)
        if kind:
            d["DisqualificationKind"] = kind
    if reference_number:
        d["ReferenceNumber"] = reference_number
    if decision.shows_numbers:
        d["PublicExpenseResultList"] = {"MedicalTicketInfo": [ticket_info(t, facility_code) for t in decision.tickets]}
    return d


@dataclass(frozen=True)
class Hidden:
    address: bool = False  # Address, PostNumber
    identity: bool = False  # Name, NameKana, Birthdate


RESTRICTED_IDENTITY = ("Name", "NameKana", "Birthdate")
RESTRICTED_ADDRESS = ("Address", "PostNumber")


def restricted_view(recipient: object, designated: bool) -> Hidden:
    """閲覧制限 (DV・虐待の被害者; ``recipients.restricted``), the one rule for every answer to a
    facility: the address is never shown; name, kana and birth date only to the designated facility
    (``designated``: validity 1). 薬剤情報等 are never served (fujo.core.consent). The recipient's own
    portal does not go through here and shows everything."""
    if not getattr(recipient, "restricted", False):
        return Hidden()
    return Hidden(address=True, identity=not designated)


def apply_hidden(d: WireDict, hide: Hidden) -> WireDict:
    """Remove from a result (e.g. the 医療保険 result of a restricted person's card check) what
    :func:`restricted_view` hides."""
    for k in (RESTRICTED_ADDRESS if hide.address else ()) + (RESTRICTED_IDENTITY if hide.identity else ()):
        d.pop(k, None)
    return d


_WIRE = {f.name: f.wire for f in INSURANCE_FIELDS if f.wire}  # all of them are on the wire
# Flat elements of an insurance result beyond the person (InsuredCardValidDate is handled apart).
_INSURANCE_DETAILS = (
    "insured_name",
    "name_of_other",
    "name_of_other_kana",
    "card_issuance_date",
    "card_valid_to",
    "contribution_ratio",
    "preschool",
)


def _wire_value(v: object) -> object:
    if isinstance(v, dt.date):
        return wire_date(v)
    return str(v) if isinstance(v, int) else v


def _block(q: object, names: Iterable[str]) -> WireDict:
    """The wire elements of one certificate block; empty when nothing of it is registered."""
    out: WireDict = {}
    for n in names:
        v = getattr(q, n, None)
        if v not in (None, ""):
            out[_WIRE[n]] = _wire_value(v)
    return out


def _consented_block(
    d: WireDict, prefix: str, consent_at: dt.datetime | None, q: object, names: Iterable[str]
) -> WireDict:
    """Writes ``<prefix>ConsFlg`` (1 with the patient's consent, else 0) and, with consent, its
    ``<prefix>ConsTime``; returns the certificate's fields, only when consent was given."""
    d[f"{prefix}ConsFlg"] = "1" if consent_at else "0"
    if not consent_at:
        return {}
    d[f"{prefix}ConsTime"] = wire_time(consent_at)
    return _block(q, names)


def insurance_result(
    q: InsuranceRow,
    validity: str,
    reference_number: str | None = None,
    limit_consent_at: dt.datetime | None = None,
    specific_consent_at: dt.datetime | None = None,
) -> WireDict:
    """ResultOfQualificationConfirmation for a health-insurance qualification, as complete as the
    real ones: card dates, 一部負担金割合, 未就学区分 and the 高齢受給者証 block always; the
    限度額適用認定証 and 特定疾病療養受療証 blocks only with the patient's consent (``*_consent_at``:
    when it was given). Both consent flags are always written, 0 without consent, because real
    clients expect them in every insurance result."""
    d: WireDict = {
        "InsuredCardClassification": q.insured_card_classification,
        "QualificationValidity": validity,
        "InsurerNumber": pad_insurer_number(q.insurer_number),
        "InsurerName": q.insurer_name,
    }
    if q.card_symbol:
        d["InsuredCardSymbol"] = q.card_symbol
    d["InsuredIdentificationNumber"] = q.card_number
    if q.branch_number:
        d["InsuredBranchNumber"] = q.branch_number
    if q.personal_family:
        d["PersonalFamilyClassification"] = q.personal_family
    _person(d, q)
    d["QualificationDate"] = wire_date(q.qualification_date)
    if q.disqualification_date:
        d["DisqualificationDate"] = wire_date(q.disqualification_date)
    if reference_number:
        d["ReferenceNumber"] = reference_number
    d.update(_block(q, _INSURANCE_DETAILS))
    # Clinic software refuses an insurance result without InsuredCardValidDate: when the insurer
    # registered none, the card is taken as valid from the 資格取得日 (never before it).
    d["InsuredCardValidDate"] = wire_date(getattr(q, "card_valid_from", None) or q.qualification_date)
    elderly = _block(q, ELDERLY_BLOCK)
    if elderly:
        d["ElderlyRecipientCertificateInfo"] = elderly
    limit = _consented_block(d, "LimitApplicationCertificateRelated", limit_consent_at, q, LIMIT_BLOCK)
    if limit:
        d["LimitApplicationCertificateRelatedInfo"] = limit
    specific = _consented_block(d, "SpecificDiseasesCertificateRelated", specific_consent_at, q, SPECIFIC_DISEASE_BLOCK)
    if specific:
        d["SpecificDiseasesCertificateList"] = {"SpecificDiseasesCertificateInfo": [specific]}
    return d


CONSENT_KINDS = ("PharmacistsInfo", "DiagnosisInfo", "SpecificHealthCheckupsInfo", "OperationInfo")


def consent_fields(consent: Mapping[str, bool], at: dt.datetime) -> WireDict:
    """Consent given at the reader: flag 1 with ConsTime and AvailableTime (= +24 h, as in real
    samples) for each kind the patient agreed to; flag 0 otherwise."""
    d: WireDict = {}
    for kind in CONSENT_KINDS:
        if consent.get(kind):
            d[f"{kind}ConsFlg"] = "1"
            d[f"{kind}ConsTime"] = wire_time(at)
            d[f"{kind}AvailableTime"] = wire_time(at + dt.timedelta(hours=24))
        else:
            d[f"{kind}ConsFlg"] = "0"
    return d
