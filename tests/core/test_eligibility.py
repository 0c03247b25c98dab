"""The eligibility decision and the 未委託 masking rule (DOMAIN.md "What the seeds require" 2–4, code values)."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET

import pytest

from fujo.core.eligibility import (
    NOT_DESIGNATED,
    NOT_REGISTERED,
    AssistanceDecision,
    active_on,
    assistance_result,
    consent_fields,
    decide_assistance,
    decide_insurance,
    insurance_result,
    overall_validity,
    ticket_info,
)

from .rows import CLINIC, JULY_10, OFFICE, OTHER_CLINIC, PAYER, PHARMACY, RECIPIENT, insured, recipient, ticket

D = dt.date

# QualificationValidity values as DOMAIN.md lists them
VALID, INVALID, INVALID_NEWER, NONE, MULTIPLE, VALID_UNREGISTERED = "1", "2", "3", "4", "5", "6"


# --- active_on ---------------------------------------------------------------------------------


def test_qualification_is_active_from_its_first_day():
    assert active_on(D(2024, 7, 1), None, D(2024, 7, 1))
    assert not active_on(D(2024, 7, 1), None, D(2024, 6, 30))


def test_qualification_is_not_active_on_its_disqualification_day():
    assert active_on(D(2020, 4, 1), D(2024, 7, 15), D(2024, 7, 14))
    assert not active_on(D(2020, 4, 1), D(2024, 7, 15), D(2024, 7, 15))
    assert not active_on(D(2020, 4, 1), D(2024, 7, 15), D(2024, 8, 1))


def test_open_ended_qualification_stays_active():
    assert active_on(D(2020, 4, 1), None, D(2099, 1, 1))


# --- decide_assistance -------------------------------------------------------------------------


def test_designated_facility_with_a_ticket_covering_the_day_is_valid():
    t = ticket()
    d = decide_assistance(recipient(), [t], CLINIC, JULY_10)
    assert (d.validity, d.reason) == (VALID, "designated")
    assert d.tickets == [t]
    assert d.shows_numbers


def test_other_facility_in_a_month_with_a_ticket_is_valid_unregistered_not_designated():
    d = decide_assistance(recipient(), [ticket()], OTHER_CLINIC, JULY_10)
    assert (d.validity, d.reason) == (VALID_UNREGISTERED, NOT_DESIGNATED)
    assert d.tickets == []
    assert not d.shows_numbers


def test_no_ticket_registered_yet_is_valid_unregistered_not_registered():
    d = decide_assistance(recipient(), [], CLINIC, JULY_10)
    assert (d.validity, d.reason) == (VALID_UNREGISTERED, NOT_REGISTERED)
    assert not d.shows_numbers


def test_a_ticket_of_another_month_is_ignored():
    june = ticket(treatment_month="202406", valid_from=D(2024, 6, 1), valid_to=D(2024, 6, 30))
    d = decide_assistance(recipient(), [june], CLINIC, JULY_10)
    assert (d.validity, d.reason) == (VALID_UNREGISTERED, NOT_REGISTERED)


def test_lost_qualification_is_invalid():
    r = recipient(disqualification_date=D(2024, 7, 5), disqualification_kind="2")
    d = decide_assistance(r, [ticket()], CLINIC, JULY_10)
    assert (d.validity, d.reason) == (INVALID, "lost")
    assert not d.shows_numbers


def test_lost_qualification_with_a_newer_one_is_invalid_newer():
    r = recipient(disqualification_date=D(2024, 7, 5), disqualification_kind="2")
    assert decide_assistance(r, [ticket()], CLINIC, JULY_10, newer_exists=True).validity == INVALID_NEWER


def test_no_recipient_is_no_qualification():
    assert decide_assistance(None, [], CLINIC, JULY_10).validity == NONE


def test_before_assistance_starts_is_invalid():
    r = recipient(qualification_date=D(2024, 7, 11))
    assert decide_assistance(r, [ticket()], CLINIC, JULY_10).validity == INVALID


def test_on_the_start_day_of_assistance_it_is_valid_and_on_the_disqualification_day_it_is_not():
    t = ticket()
    assert decide_assistance(recipient(qualification_date=D(2024, 7, 10)), [t], CLINIC, JULY_10).validity == VALID
    assert (
        decide_assistance(
            recipient(disqualification_date=D(2024, 7, 10), disqualification_kind="2"), [t], CLINIC, JULY_10
        ).validity
        == INVALID
    )


@pytest.mark.parametrize(
    "day, expected",
    [
        (D(2024, 7, 4), VALID_UNREGISTERED),
        (D(2024, 7, 5), VALID),
        (D(2024, 7, 20), VALID),
        (D(2024, 7, 21), VALID_UNREGISTERED),
    ],
)
def test_ticket_validity_window_edges_are_inclusive(day, expected):
    t = ticket(valid_from=D(2024, 7, 5), valid_to=D(2024, 7, 20))
    assert decide_assistance(recipient(), [t], CLINIC, day).validity == expected


def test_pharmacy_sees_only_its_own_dispensing_ticket():
    med = ticket()
    disp = ticket(
        ticket_type="02",
        treatment_type="04",
        designated_facility_code=PHARMACY,
        designated_facility_name="■■薬局",
        issue_number="0000002",
    )
    d = decide_assistance(recipient(), [med, disp], PHARMACY, JULY_10)
    assert d.validity == VALID and d.tickets == [disp]


# --- assistance_result: the 未委託 masking rule -------------------------------------------------

WITHHELD = ("InsurerNumber", "InsuredIdentificationNumber", "PublicExpenseResultList")


def result_for(facility, rec=None, tickets=None, on=JULY_10, newer=False, ref=None):
    rec = rec or recipient()
    tickets = [ticket()] if tickets is None else tickets
    return assistance_result(rec, OFFICE, decide_assistance(rec, tickets, facility, on, newer), facility, ref)


def test_designated_facility_gets_numbers_and_ticket_data():
    res = result_for(CLINIC)
    assert res["InsuredCardClassification"] == "A1"
    assert res["QualificationValidity"] == VALID
    assert res["InsurerNumber"] == PAYER  # for A1: 公費負担者番号
    assert res["InsuredIdentificationNumber"] == RECIPIENT  # for A1: 受給者番号
    assert res["InsurerName"] == OFFICE  # for A1: 福祉事務所名
    assert (res["Name"], res["NameKana"], res["Sex1"], res["Birthdate"]) == ("生保一郎", "ｾｲﾎ ｲﾁﾛｳ", "1", "19900115")
    assert res["QualificationDate"] == "20200401"
    [info] = res["PublicExpenseResultList"]["MedicalTicketInfo"]
    assert info["TicketType"] == "01"
    assert info["MedicalTreatmentMonth"] == "202407"
    assert info["MedicalTicketValidDate"] == "20240701"
    assert info["MedicalTicketExpirationDate"] == "20240731"
    assert info["DesignatedMedicalInstitutionCode"] == CLINIC
    assert info["DesignatedMedicalInstitutionFlag"] == "0"  # 一致
    assert info["DesignatedMedicalInstitutionName"] == "●●医療機関"
    assert (info["InjuryName1"], info["InjuryName2"], info["InjuryName3"]) == ("高血圧症", "2型糖尿病", "腰痛症")
    assert info["SingleOrCombinedUse"] == "01"
    assert info["SelfPayAmount"] == "0"


@pytest.mark.parametrize("case", ["not_designated", "not_registered", "lost"])
def test_withheld_from_a_facility_that_is_not_the_designated_one(case):
    if case == "not_designated":
        res = result_for(OTHER_CLINIC)
        assert res["QualificationValidity"] == VALID_UNREGISTERED
    elif case == "not_registered":
        res = result_for(CLINIC, tickets=[])
        assert res["QualificationValidity"] == VALID_UNREGISTERED
    else:
        res = result_for(CLINIC, rec=recipient(disqualification_date=D(2024, 7, 1), disqualification_kind="2"))
        assert res["QualificationValidity"] == INVALID
        assert (
            res["DisqualificationDate"] == "20240701"
            and res["DisqualificationKind"] == "2"
            and "ReasonOfLoss" not in res
        )
    for key in WITHHELD:
        assert key not in res, key
    # what the seed's 未委託 screen still shows: 福祉事務所名, 氏名, 性別, 生年月日
    assert res["InsurerName"] == OFFICE
    assert res["Name"] == "生保一郎" and res["Sex1"] == "1" and res["Birthdate"] == "19900115"
    assert res["InsuredCardClassification"] == "A1"


def test_withheld_numbers_appear_nowhere_in_a_masked_result():
    res = result_for(OTHER_CLINIC, ref="0000001")
    flat = repr(res)
    assert PAYER not in flat and RECIPIENT not in flat and CLINIC not in flat and "●●医療機関" not in flat


def test_reference_number_is_returned_when_registered():
    assert result_for(OTHER_CLINIC, ref="0000001")["ReferenceNumber"] == "0000001"
    assert "ReferenceNumber" not in result_for(CLINIC)


def test_optional_person_items_are_left_out_when_empty():
    res = result_for(CLINIC, rec=recipient(address=None, post_number=None))
    assert "Address" not in res and "PostNumber" not in res
    res = result_for(CLINIC)
    assert res["Address"] == "東京都○○市△△町1-2-3" and res["PostNumber"] == "100-0001"


def test_ticket_info_flags_a_ticket_designating_someone_else_as_mismatch():
    assert ticket_info(ticket(), OTHER_CLINIC)["DesignatedMedicalInstitutionFlag"] == "1"


def test_ticket_info_leaves_out_empty_items_and_uses_wire_forms():
    info = ticket_info(ticket(injury_name3=None, remarks1=None), CLINIC)
    assert "InjuryName3" not in info and "Remarks1" not in info
    assert info["MedicalTicketValidDate"] == "20240701"


# --- overall validity --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "validities, expected",
    [
        ([VALID, VALID_UNREGISTERED], VALID),
        ([INVALID, VALID], VALID),
        ([VALID_UNREGISTERED, INVALID], VALID_UNREGISTERED),
        ([INVALID, VALID_UNREGISTERED], VALID_UNREGISTERED),
        ([INVALID, INVALID_NEWER], INVALID_NEWER),
        ([INVALID, NONE], INVALID),
        ([NONE], NONE),
        ([], NONE),
        ([MULTIPLE, INVALID], MULTIPLE),
    ],
)
def test_overall_validity_any_valid_qualification_makes_the_person_checkable(validities, expected):
    assert overall_validity(validities) == expected


# --- health insurance --------------------------------------------------------------------------

SAMPLE_INSURER_NUMBER_ELEMENT = "<InsurerNumber>  123456</InsurerNumber>"  # reference/face-result-sample-insurance.xml


def test_kokuho_insurer_number_is_padded_with_spaces_as_in_the_published_sample():
    expected = ET.fromstring(SAMPLE_INSURER_NUMBER_ELEMENT).text
    assert expected == "  123456"
    res = insurance_result(insured(insurer_number="123456"), VALID)
    assert res["InsurerNumber"] == expected


def test_eight_digit_insurer_number_is_sent_as_is():
    assert insurance_result(insured(), VALID)["InsurerNumber"] == "06139992"


def test_insurance_result_items():
    res = insurance_result(insured(), VALID, "P-1")
    assert res["InsuredCardClassification"] == "01"
    assert res["InsurerName"] == "○○健康保険組合"
    assert (res["InsuredCardSymbol"], res["InsuredIdentificationNumber"], res["InsuredBranchNumber"]) == (
        "12-34",
        "5678",
        "01",
    )
    assert res["PersonalFamilyClassification"] == "1"
    assert res["QualificationDate"] == "20190401"
    assert res["ReferenceNumber"] == "P-1"
    assert "PublicExpenseResultList" not in res


JST = dt.timezone(dt.timedelta(hours=9))
ELDERLY = dict(
    elderly_certificate_date=D(2024, 7, 20),
    elderly_valid_from=D(2024, 8, 1),
    elderly_valid_to=D(2029, 7, 31),
    elderly_contribution_ratio="020",
)
LIMIT = dict(
    limit_classification="01",
    limit_bracket="A03",
    limit_certificate_date=D(2024, 3, 25),
    limit_valid_from=D(2024, 4, 1),
    limit_valid_to=D(2025, 7, 31),
)
SPECIFIC = dict(
    specific_disease_category="1",
    specific_disease_certificate_date=D(2023, 3, 20),
    specific_disease_valid_from=D(2023, 4, 1),
    specific_disease_self_pay=10000,
)
FULL = dict(
    insured_name="生保太郎",
    name_of_other="生保　一郎",
    name_of_other_kana="ｾｲﾎ ｲﾁﾛｳ",
    card_issuance_date=D(2019, 3, 25),
    card_valid_from=D(2019, 4, 1),
    card_valid_to=D(2026, 7, 31),
    contribution_ratio="030",
    personal_family="2",
    **ELDERLY,
    **LIMIT,
    **SPECIFIC,
)


def test_insurance_result_carries_the_card_details_with_wire_names_and_formats():
    res = insurance_result(insured(**FULL), VALID)
    assert (res["InsuredName"], res["NameOfOther"], res["NameOfOtherKana"]) == ("生保太郎", "生保　一郎", "ｾｲﾎ ｲﾁﾛｳ")
    assert (res["InsuredCertificateIssuanceDate"], res["InsuredCardValidDate"], res["InsuredCardExpirationDate"]) == (
        "20190325",
        "20190401",
        "20260731",
    )
    assert res["InsuredPartialContributionRatio"] == "030"
    assert res["PersonalFamilyClassification"] == "2"
    assert res["ElderlyRecipientCertificateInfo"] == {
        "ElderlyRecipientCertificateDate": "20240720",
        "ElderlyRecipientValidStartDate": "20240801",
        "ElderlyRecipientValidEndDate": "20290731",
        "ElderlyRecipientContributionRatio": "020",
    }
    assert "PreschoolClassification" not in res


def test_insured_card_valid_date_is_always_there_falling_back_to_the_qualification_date():
    # Clinic software refuses an insurance result without InsuredCardValidDate (DOMAIN.md).
    assert insurance_result(insured(), VALID)["InsuredCardValidDate"] == "20190401"
    assert insurance_result(insured(card_valid_from=D(2020, 10, 1)), VALID)["InsuredCardValidDate"] == "20201001"
    res = insurance_result(insured(disqualification_date=D(2024, 3, 31)), INVALID)
    assert res["InsuredCardValidDate"] == "20190401"


def test_without_consent_both_flags_are_zero_and_the_certificate_blocks_are_withheld():
    res = insurance_result(insured(**FULL), VALID)
    assert res["LimitApplicationCertificateRelatedConsFlg"] == "0"
    assert res["SpecificDiseasesCertificateRelatedConsFlg"] == "0"
    for withheld in (
        "LimitApplicationCertificateRelatedInfo",
        "LimitApplicationCertificateRelatedConsTime",
        "SpecificDiseasesCertificateList",
        "SpecificDiseasesCertificateRelatedConsTime",
    ):
        assert withheld not in res
    # and the flags are there for a plain qualification too (real clients expect them)
    plain = insurance_result(insured(), VALID)
    assert (
        plain["LimitApplicationCertificateRelatedConsFlg"] == plain["SpecificDiseasesCertificateRelatedConsFlg"] == "0"
    )
    assert "ElderlyRecipientCertificateInfo" not in plain


def test_limit_consent_gives_the_limit_block_only():
    at = dt.datetime(2024, 7, 10, 9, 30, 5, tzinfo=JST)
    res = insurance_result(insured(**FULL), VALID, limit_consent_at=at)
    assert res["LimitApplicationCertificateRelatedConsFlg"] == "1"
    assert res["LimitApplicationCertificateRelatedConsTime"] == "20240710093005"
    assert res["LimitApplicationCertificateRelatedInfo"] == {
        "LimitApplicationCertificateClassification": "01",
        "LimitApplicationCertificateClassificationFlag": "A03",
        "LimitApplicationCertificateDate": "20240325",
        "LimitApplicationCertificateValidStartDate": "20240401",
        "LimitApplicationCertificateValidEndDate": "20250731",
    }
    assert res["SpecificDiseasesCertificateRelatedConsFlg"] == "0"
    assert "SpecificDiseasesCertificateList" not in res


def test_specific_diseases_consent_gives_a_list_of_certificates():
    at = dt.datetime(2024, 7, 10, 0, 30, tzinfo=dt.UTC)  # 09:30 JST
    res = insurance_result(insured(**FULL), VALID, specific_consent_at=at)
    assert res["SpecificDiseasesCertificateRelatedConsFlg"] == "1"
    assert res["SpecificDiseasesCertificateRelatedConsTime"] == "20240710093000"
    assert res["SpecificDiseasesCertificateList"] == {
        "SpecificDiseasesCertificateInfo": [
            {
                "SpecificDiseasesDiseaseCategory": "1",
                "SpecificDiseasesCertificateDate": "20230320",
                "SpecificDiseasesValidStartDate": "20230401",
                "SpecificDiseasesSelfPay": "10000",
            }
        ]
    }
    assert res["LimitApplicationCertificateRelatedConsFlg"] == "0"


def test_consent_without_a_registered_certificate_gives_the_flag_and_no_empty_block():
    at = dt.datetime(2024, 7, 10, 9, 0, tzinfo=JST)
    res = insurance_result(insured(), VALID, limit_consent_at=at, specific_consent_at=at)
    assert res["LimitApplicationCertificateRelatedConsFlg"] == res["SpecificDiseasesCertificateRelatedConsFlg"] == "1"
    assert "LimitApplicationCertificateRelatedInfo" not in res and "SpecificDiseasesCertificateList" not in res


def test_preschool_and_late_elderly_ratio_are_written():
    child = insurance_result(insured(preschool="1", contribution_ratio="020", birthdate=D(2021, 5, 5)), VALID)
    assert (child["PreschoolClassification"], child["InsuredPartialContributionRatio"]) == ("1", "020")
    kouki = insurance_result(insured(insurer_number="39130006", contribution_ratio="010"), VALID)
    assert (kouki["InsurerNumber"], kouki["InsuredPartialContributionRatio"]) == ("39130006", "010")


def test_decide_insurance_marks_the_old_qualification_invalid_newer_when_a_new_one_is_active():
    old = insured(qualification_date=D(2015, 4, 1), disqualification_date=D(2019, 4, 1))
    new = insured(qualification_date=D(2019, 4, 1))
    assert decide_insurance([old, new], JULY_10) == [(old, INVALID_NEWER), (new, VALID)]
    assert decide_insurance([old], JULY_10) == [(old, INVALID)]


# --- consent -----------------------------------------------------------------------------------

# From reference/face-result-sample-insurance.xml: consented at 20230221174835, available until 20230222174835
SAMPLE_CONS_TIME, SAMPLE_AVAILABLE_TIME = "20230221174835", "20230222174835"


def test_consent_available_time_is_cons_time_plus_24_hours_as_in_the_sample():
    at = dt.datetime(2023, 2, 21, 17, 48, 35, tzinfo=dt.timezone(dt.timedelta(hours=9)))
    d = consent_fields({"PharmacistsInfo": True, "SpecificHealthCheckupsInfo": True}, at)
    assert d["PharmacistsInfoConsFlg"] == "1"
    assert d["PharmacistsInfoConsTime"] == SAMPLE_CONS_TIME
    assert d["PharmacistsInfoAvailableTime"] == SAMPLE_AVAILABLE_TIME
    assert d["SpecificHealthCheckupsInfoConsTime"] == SAMPLE_CONS_TIME
    assert d["SpecificHealthCheckupsInfoAvailableTime"] == SAMPLE_AVAILABLE_TIME
    # as in the sample, DiagnosisInfoConsFlg 0 without times
    assert d["DiagnosisInfoConsFlg"] == "0"
    assert "DiagnosisInfoConsTime" not in d and "DiagnosisInfoAvailableTime" not in d
    assert d["OperationInfoConsFlg"] == "0"


def test_consent_times_are_japan_time_even_when_the_clock_is_utc():
    at = dt.datetime(2023, 12, 31, 20, 0, 0, tzinfo=dt.UTC)  # 2024-01-01 05:00 JST
    d = consent_fields({"DiagnosisInfo": True}, at)
    assert d["DiagnosisInfoConsTime"] == "20240101050000"
    assert d["DiagnosisInfoAvailableTime"] == "20240102050000"
    assert len(d["DiagnosisInfoConsTime"]) == 14 and d["DiagnosisInfoConsTime"].isdigit()


def test_no_consent_gives_flag_zero_for_every_kind():
    d = consent_fields({}, dt.datetime(2024, 7, 10, tzinfo=dt.UTC))
    assert d == {
        "PharmacistsInfoConsFlg": "0",
        "DiagnosisInfoConsFlg": "0",
        "SpecificHealthCheckupsInfoConsFlg": "0",
        "OperationInfoConsFlg": "0",
    }


def test_assistance_decision_shows_numbers_only_when_valid():
    for v in (INVALID, INVALID_NEWER, NONE, VALID_UNREGISTERED):
        assert not AssistanceDecision(v).shows_numbers
    assert AssistanceDecision(VALID).shows_numbers
