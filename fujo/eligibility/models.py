"""Read models of the check routes (schema only, see :mod:`fujo.api.models`): the check envelope in
the terminal's vocabulary, as :mod:`fujo.eligibility.service`, :mod:`fujo.core.eligibility`
(``assistance_result``, ``insurance_result``, ``ticket_info``, ``consent_fields``) and
:mod:`fujo.core.notices` build it. Keys are the element names of the terminal interface
(ResultOfQualificationConfirmation …), values in wire format (``yyyyMMdd``, ``yyyyMMddHHmmss``)."""

from __future__ import annotations

from typing import Any

from ..api.models import (
    WIRE_DATE,
    WIRE_TIME,
    ErrorDetail,
    ReadModel,
    by_name,
    described,
    wire,
)
from ..core import codes
from ..core.fields import INSURANCE_FIELDS, RECIPIENT_FIELDS, TICKET_FIELDS
from ..core.notices import NOTICE_CODES

_T, _I, _R = by_name(TICKET_FIELDS), by_name(INSURANCE_FIELDS), by_name(RECIPIENT_FIELDS)
_FLAG = {"0": "なし・未同意", "1": "あり・同意"}
_REASONS = {
    "designated": "this facility is designated on a ticket of the month (validity 1)",
    "unregistered": "no ticket of the month designates this facility — another's or none yet (validity 6)",
    "lost": "保護停止・廃止 (validity 2 or 3)",
}
# A nested element has the name of its type (PublicExpenseResultList: PublicExpenseResultList); inside the
# class the field would shadow the type, so annotations use the _aliases defined after each class.


class MedicalTicketInfo(ReadModel):
    """One 医療券/調剤券 (ticket_info); only the designated facility (validity 1) is given any."""

    TicketType: str = wire(_T["ticket_type"], required=True)
    MedicalTreatmentMonth: str = wire(_T["treatment_month"], required=True)
    MedicalTicketValidDate: str = wire(_T["valid_from"], required=True)
    MedicalTicketExpirationDate: str = wire(_T["valid_to"], required=True)
    IssueNumber: str = wire(_T["issue_number"])
    DesignatedMedicalInstitutionCode: str = wire(_T["designated_facility_code"], required=True)
    DesignatedMedicalInstitutionName: str = wire(_T["designated_facility_name"])
    PrescriptionIssuerMedicalInstitutionCode: str = wire(_T["prescription_issuer_code"])
    PrescriptionIssuerMedicalInstitutionName: str = wire(_T["prescription_issuer_name"])
    InjuryName1: str = wire(_T["injury_name1"])
    InjuryName2: str = wire(_T["injury_name2"])
    InjuryName3: str = wire(_T["injury_name3"])
    MedicalTreatmentType: str = wire(_T["treatment_type"], required=True)
    SelfPayAmount: str = wire(_T["self_pay_amount"], description="本人支払額 (self_pay_amount), yen as digits")
    DistrictContactName: str = wire(_T["district_contact_name"])
    HandlingContactName: str = wire(_T["handling_contact_name"])
    SingleOrCombinedUse: str = wire(_T["single_or_combined"], required=True)
    StatusOfSocialInsurance: str = wire(_T["social_insurance"])
    ConsistencyFlag: str = wire(_T["consistency_flag"])
    StatusOfInfecton: str = wire(_T["infection_status"])
    StatusOfElderlyMedicalCare: str = wire(_T["elderly_care_status"])
    StatusOfPrefecturalExpenses: str = wire(_T["prefectural_expense_status"])
    Remarks1: str = wire(_T["remarks1"])
    Remarks2: str = wire(_T["remarks2"])
    Remarks3: str = wire(_T["remarks3"])
    DesignatedMedicalInstitutionFlag: str = described(
        "指定医療機関フラグ: does the ticket designate the asking facility",
        required=True,
        table={codes.DESIGNATED_MATCH: "一致", codes.DESIGNATED_MISMATCH: "不一致"},
    )
    RegisteredAt: str = described(
        "bulk retrieval only (fujo extra): when this ticket was first registered, ISO 8601 with offset"
    )


_MedicalTicketInfo = MedicalTicketInfo


class PublicExpenseResultList(ReadModel):
    MedicalTicketInfo: list[_MedicalTicketInfo] = described("the tickets of the month for this facility", required=True)


_PublicExpense = PublicExpenseResultList


class ElderlyRecipientCertificateInfo(ReadModel):
    """高齢受給者証 (the parts registered)."""

    ElderlyRecipientCertificateDate: str = wire(_I["elderly_certificate_date"])
    ElderlyRecipientValidStartDate: str = wire(_I["elderly_valid_from"])
    ElderlyRecipientValidEndDate: str = wire(_I["elderly_valid_to"])
    ElderlyRecipientContributionRatio: str = wire(_I["elderly_contribution_ratio"])


_Elderly = ElderlyRecipientCertificateInfo


class LimitApplicationCertificateRelatedInfo(ReadModel):
    """限度額適用認定証 (only with the patient's consent)."""

    LimitApplicationCertificateClassification: str = wire(_I["limit_classification"])
    LimitApplicationCertificateClassificationFlag: str = wire(_I["limit_bracket"])
    LimitApplicationCertificateDate: str = wire(_I["limit_certificate_date"])
    LimitApplicationCertificateValidStartDate: str = wire(_I["limit_valid_from"])
    LimitApplicationCertificateValidEndDate: str = wire(_I["limit_valid_to"])
    LimitApplicationCertificateLongTermDate: str = wire(_I["limit_long_term_date"])


_Limit = LimitApplicationCertificateRelatedInfo


class SpecificDiseasesCertificateInfo(ReadModel):
    """特定疾病療養受療証 (only with the consent given at a card reader)."""

    SpecificDiseasesDiseaseCategory: str = wire(_I["specific_disease_category"])
    SpecificDiseasesCertificateDate: str = wire(_I["specific_disease_certificate_date"])
    SpecificDiseasesValidStartDate: str = wire(_I["specific_disease_valid_from"])
    SpecificDiseasesValidEndDate: str = wire(_I["specific_disease_valid_to"])
    SpecificDiseasesSelfPay: str = wire(
        _I["specific_disease_self_pay"], description="自己負担限度額 (specific_disease_self_pay), yen as digits"
    )


_SpecificInfo = SpecificDiseasesCertificateInfo


class SpecificDiseasesCertificateList(ReadModel):
    SpecificDiseasesCertificateInfo: list[_SpecificInfo] = described("one per qualification", required=True)


_SpecificList = SpecificDiseasesCertificateList


def _consent_flag(what: str) -> Any:
    return described(f"{what}: consent given at the card reader (card checks only)", table=_FLAG)


def _consent_time(what: str) -> Any:
    return described(f"{what}: when consent was given (with flag 1)", pattern=WIRE_TIME)


def _available(what: str) -> Any:
    return described(f"{what}: until when the information may be read (+24 h, with flag 1)", pattern=WIRE_TIME)


class ResultOfQualificationConfirmation(ReadModel):
    """One qualification: 医療保険 (InsuredCardClassification 01–07) or 医療扶助 (A1). An A1 result
    carries 公費負担者番号, 受給者番号, address and tickets only for validity 1 (the designated facility);
    otherwise name, kana, sex, birth date and 福祉事務所名 (the 未委託 rule)."""

    InsuredCardClassification: str = described(
        "被保険者証区分 (A1 = 医療扶助)", required=True, table=codes.INSURED_CARD_CLASSES
    )
    QualificationValidity: str = described("資格有効性", required=True, table=codes.VALIDITY_TEXT)
    InsurerNumber: str = described(
        "保険者番号 (6-digit 国保 numbers space-padded to 8), or 公費負担者番号 (A1, validity 1 only)"
    )
    InsurerName: str = described("保険者名, or 福祉事務所名 (A1)", required=True)
    InsuredCardSymbol: str = wire(_I["card_symbol"])
    InsuredIdentificationNumber: str = described("被保険者番号, or 受給者番号 (A1, validity 1 only)")
    InsuredBranchNumber: str = wire(_I["branch_number"])
    PersonalFamilyClassification: str = wire(_I["personal_family"])
    Name: str = wire(_R["name"], required=True)
    NameKana: str = wire(_R["name_kana"], required=True, description="氏名カナ (half-width)")
    Sex1: str = wire(_R["sex"], required=True)
    Birthdate: str = wire(_R["birthdate"], required=True)
    Address: str = described("住所 (not in a masked A1 result)")
    PostNumber: str = described("郵便番号 (not in a masked A1 result)")
    QualificationDate: str = described("資格取得日 / 保護開始・再開日 (not with A1 validity 6)", pattern=WIRE_DATE)
    DisqualificationDate: str = described("資格喪失日 / 保護停止・廃止日 (first day not covered)", pattern=WIRE_DATE)
    DisqualificationKind: str = described(
        "A1 (fujo extra, JSON only): 保護停止・廃止の別", table=codes.DISQUALIFICATION_KINDS
    )
    ReferenceNumber: str = described("照会番号 the asking facility registered for this person")
    InsuredName: str = wire(_I["insured_name"])
    NameOfOther: str = wire(_I["name_of_other"])
    NameOfOtherKana: str = wire(_I["name_of_other_kana"])
    InsuredCertificateIssuanceDate: str = wire(_I["card_issuance_date"])
    InsuredCardValidDate: str = wire(
        _I["card_valid_from"],
        description="被保険者証有効開始年月日 (insurance: always; the 資格取得日 when none is registered)",
    )
    InsuredCardExpirationDate: str = wire(_I["card_valid_to"])
    InsuredPartialContributionRatio: str = wire(_I["contribution_ratio"])
    PreschoolClassification: str = wire(_I["preschool"])
    ElderlyRecipientCertificateInfo: _Elderly = described("高齢受給者証 (insurance)")
    LimitApplicationCertificateRelatedConsFlg: str = described(
        "限度額適用認定証 information consent (insurance: always, 0 without consent)", table=_FLAG
    )
    LimitApplicationCertificateRelatedConsTime: str = described("when that consent was given", pattern=WIRE_TIME)
    LimitApplicationCertificateRelatedInfo: _Limit = described("限度額適用認定証 (with consent, when registered)")
    SpecificDiseasesCertificateRelatedConsFlg: str = described(
        "特定疾病療養受療証 information consent (insurance: always, 0 without consent)", table=_FLAG
    )
    SpecificDiseasesCertificateRelatedConsTime: str = described("when that consent was given", pattern=WIRE_TIME)
    SpecificDiseasesCertificateList: _SpecificList = described(
        "特定疾病療養受療証 (with consent given at a card reader, when registered)"
    )
    PublicExpenseResultList: _PublicExpense = described("A1, validity 1 only: the tickets")
    PharmacistsInfoConsFlg: str = _consent_flag("薬剤情報")
    PharmacistsInfoConsTime: str = _consent_time("薬剤情報")
    PharmacistsInfoAvailableTime: str = _available("薬剤情報")
    DiagnosisInfoConsFlg: str = _consent_flag("診療情報")
    DiagnosisInfoConsTime: str = _consent_time("診療情報")
    DiagnosisInfoAvailableTime: str = _available("診療情報")
    SpecificHealthCheckupsInfoConsFlg: str = _consent_flag("特定健診情報")
    SpecificHealthCheckupsInfoConsTime: str = _consent_time("特定健診情報")
    SpecificHealthCheckupsInfoAvailableTime: str = _available("特定健診情報")
    OperationInfoConsFlg: str = _consent_flag("手術情報")
    OperationInfoConsTime: str = _consent_time("手術情報")
    OperationInfoAvailableTime: str = _available("手術情報")
    ProcessingResultCode: str = described("fujo's notice for this result (A1 needing an action)", table=NOTICE_CODES)
    ProcessingResultMessage: str = described("the notice: what to do, naming the welfare office and its phone")


class Contact(ReadModel):
    """The welfare office to call when the answer is not a plain 有効."""

    OfficeName: str = described("福祉事務所名", required=True)
    Phone: str | None = described("電話番号 (null when not registered)", required=True)


_Contact = Contact


class CheckOut(ReadModel):
    """The answer of a check by card or by numbers (fujo's JSON form of the terminal's result file)."""

    ProcessExecutionTime: str = described("処理実行日時", required=True, pattern=WIRE_TIME)
    QualificationConfirmationDate: str = described("資格確認日", required=True, pattern=WIRE_DATE)
    ReferenceClassification: str = described(
        "照会区分",
        required=True,
        table={codes.REFERENCE_CARD: "マイナンバーカード", codes.REFERENCE_NUMBERS: "番号（医療券・被保険者証等）"},
    )
    MedicalInstitutionCode: str = described("医療機関コード of the asking facility", required=True)
    QualificationValidity: str = described(
        "the person's overall validity (any valid result wins)", required=True, table=codes.VALIDITY_TEXT
    )
    ResultList: list[ResultOfQualificationConfirmation] = described(
        "every qualification found: health insurance first, then 医療扶助 (A1); empty for 4 and 5", required=True
    )
    Contact: _Contact = described("whom to call (医療扶助, unless plainly valid)")
    Reason: str = described("医療扶助: why this validity", table=_REASONS)
    ProcessingResultCode: str = described("the first notice of the answer (fujo's codes)", table=NOTICE_CODES)
    ProcessingResultMessage: str = described("its message")
    MedicalAssistanceNotice: str = described(
        "card checks with 「医療扶助」 利用しない: the holder has medical assistance (nothing else of it)"
    )
    CheckId: int = described("the check's row in the check log", required=True)


class ChallengeOut(ReadModel):
    challenge: str = described("the one-time nonce the card signs (consumed by the first attempt)", required=True)
    expires_at: str = described("ISO 8601 with offset (120 s)", required=True)


class BatchResultOut(ReadModel):
    Index: int = described("position of the item in the request (0-based)", required=True)
    ArbitraryIdentifier: str = described("the item's arbitrary_identifier, echoed")
    Check: CheckOut = described("the answer POST /checks/numbers gives (with CheckId)")
    Error: ErrorDetail = described("why the item was not checked: code, message_ja, message_en, fields")


class NumbersBatchOut(ReadModel):
    ProcessExecutionTime: str = described("処理実行日時", required=True, pattern=WIRE_TIME)
    MedicalInstitutionCode: str = described("医療機関コード of the asking facility", required=True)
    NumberOfProcessingResult: int = described("items answered (= items sent)", required=True)
    NumberOfNormalProcessing: int = described("items checked (each recorded in the check log)", required=True)
    NumberOfError: int = described("items refused (Error)", required=True)
    Results: list[BatchResultOut] = described("one per item, in request order", required=True)
