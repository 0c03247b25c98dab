"""The notices that tell a front desk what to do (fujo's own result codes), from the answer alone."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fujo.core import codes
from fujo.core.notices import NOTICE_CODES, annotate, call_office

OFFICE = {"OfficeName": "○○市福祉事務所", "Phone": "03-0000-0000"}
INSURANCE = {"InsuredCardClassification": "01", "QualificationValidity": codes.VALID}


def a1(validity: str, **kw) -> dict:
    return {"InsuredCardClassification": "A1", "QualificationValidity": validity, **kw}


@pytest.mark.parametrize(
    "validity,code", [(codes.VALID_UNREGISTERED, "FJ0601"), (codes.INVALID, "FJ0201"), (codes.INVALID_NEWER, "FJ0301")]
)
def test_an_assistance_result_that_needs_a_call_says_so_and_names_the_office(validity, code):
    check = annotate({"QualificationValidity": validity, "ResultList": [a1(validity)], "Contact": OFFICE})
    res = check["ResultList"][0]
    assert res["ProcessingResultCode"] == code == check["ProcessingResultCode"]
    assert "○○市福祉事務所（電話 03-0000-0000）" in res["ProcessingResultMessage"]
    assert check["ProcessingResultMessage"] == res["ProcessingResultMessage"]


def test_combined_answer_keeps_the_insurance_result_clean_and_flags_the_assistance_one():
    check = annotate(
        {
            "QualificationValidity": codes.VALID,
            "Contact": OFFICE,
            "ResultList": [dict(INSURANCE), a1(codes.VALID_UNREGISTERED)],
        }
    )
    assert "ProcessingResultCode" not in check["ResultList"][0]
    assert check["ResultList"][1]["ProcessingResultCode"] == "FJ0601"
    assert check["ProcessingResultCode"] == "FJ0601"  # a one-result client still learns it at body level


def test_lost_message_gives_the_end_date():
    check = annotate(
        {
            "QualificationValidity": codes.INVALID,
            "Contact": OFFICE,
            "ResultList": [a1(codes.INVALID, DisqualificationDate="20240705")],
        }
    )
    assert "2024年7月5日 停止・廃止" in check["ProcessingResultMessage"]


def test_valid_designated_and_insurance_only_answers_carry_no_notice():
    for results in ([a1(codes.VALID)], [dict(INSURANCE)]):
        check = annotate({"QualificationValidity": codes.VALID, "ResultList": results})
        assert "ProcessingResultCode" not in check
        assert all("ProcessingResultCode" not in r for r in check["ResultList"])


def test_not_found_with_an_office_number_names_that_office_and_without_one_says_nothing():
    found = annotate({"QualificationValidity": codes.NO_QUALIFICATION, "ResultList": [], "Contact": OFFICE})
    assert found["ProcessingResultCode"] == "FJ0401" and "○○市福祉事務所" in found["ProcessingResultMessage"]
    assert "ProcessingResultCode" not in annotate({"QualificationValidity": codes.NO_QUALIFICATION, "ResultList": []})


def test_multiple_match_asks_for_the_branch_number():
    check = annotate({"QualificationValidity": codes.MULTIPLE, "ResultList": []})
    assert check["ProcessingResultCode"] == "FJ0501" and "枝番" in check["ProcessingResultMessage"]


def test_call_office_without_a_phone_or_contact():
    assert (
        call_office({"OfficeName": "□□市福祉事務所", "Phone": None})
        == "□□市福祉事務所に医療扶助の利用可否を電話等で確認してください。"
    )
    assert call_office(None).startswith("福祉事務所に")


def test_every_notice_code_is_documented_for_vendors():
    doc = (Path(__file__).parents[2] / "docs" / "TERMINAL.md").read_text("utf-8")
    documented = set(re.findall(r"`(FJ0\d{3})`", doc))
    assert documented == set(NOTICE_CODES)
