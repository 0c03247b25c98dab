"""Field tables: clean_value for every kind, kana normalisation, unknown fields, cross-field ticket rules."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from fujo.core.dates import today_jst
from fujo.core.era import wareki_date
from fujo.core.errors import Problems
from fujo.core.fields import (
    INSURANCE_FIELDS,
    RECIPIENT_FIELDS,
    TICKET_FIELDS,
    age_on,
    check_insurance_rules,
    check_period,
    check_ticket_rules,
    clean_record,
    clean_value,
    normalize_kana,
    preschool_end,
)

PAYER, RECIPIENT = "12130019", "1010008"
CLINIC, PHARMACY = "1311234569", "1341234563"
D = dt.date


def field(name, table=RECIPIENT_FIELDS):
    return next(f for f in table if f.name == name)


def ok(f, raw):
    value, p = clean_value(f, raw)
    assert p is None, p
    return value


def refused(f, raw):
    _, p = clean_value(f, raw)
    assert p is not None, raw
    assert p.field == f.name
    return p


# --- numbers -----------------------------------------------------------------------------------


def test_number_kinds_use_the_number_rules():
    assert ok(field("payer_number"), PAYER) == PAYER
    assert ok(field("recipient_number"), " 1010008 ") == RECIPIENT
    assert refused(field("payer_number"), "12000001").code == "prefecture"
    assert refused(field("recipient_number"), "1010001").code == "check_digit"
    assert ok(field("designated_facility_code", TICKET_FIELDS), CLINIC) == CLINIC
    assert refused(field("designated_facility_code", TICKET_FIELDS), "1321234560").code in (
        "score_table",
        "check_digit",
    )


def test_number_refusals_are_filed_under_the_records_own_field_name():
    p = refused(field("prescription_issuer_code", TICKET_FIELDS), "1311234560")
    assert p.field == "prescription_issuer_code" and p.code == "check_digit"


def test_insurer_number_is_stored_without_the_space_padding():
    f = field("insurer_number", INSURANCE_FIELDS)
    # "  138222" is how a 6-digit 国保 number travels; stored bare
    assert ok(f, "  138222") == "138222"


# --- required / optional -----------------------------------------------------------------------


@pytest.mark.parametrize("raw", [None, "", "   ", "\u3000"])
def test_required_fields_refuse_empty_values(raw):
    p = refused(field("name"), raw)
    assert p.code == "required" and "氏名" in p.message_ja


def test_optional_fields_accept_empty_values_as_none():
    assert clean_value(field("address"), "") == (None, None)
    assert clean_value(field("disqualification_date"), None) == (None, None)


# --- dates and months --------------------------------------------------------------------------


def test_date_kind():
    assert ok(field("birthdate"), "1990-01-15") == D(1990, 1, 15)
    assert ok(field("birthdate"), "19900115") == D(1990, 1, 15)
    p = refused(field("birthdate"), "1990-02-30")
    assert p.code == "invalid_date" and "生年月日" in p.message_ja


def test_month_kind_is_stored_in_wire_form():
    f = field("treatment_month", TICKET_FIELDS)
    assert ok(f, "2024-07") == "202407"
    assert ok(f, "202407") == "202407"
    assert refused(f, "2024-13").code == "invalid_month"


# --- code values -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, table, good, bad",
    [
        ("sex", RECIPIENT_FIELDS, ["1", "2", "3"], ["0", "4", "男", "01"]),
        ("disqualification_kind", RECIPIENT_FIELDS, ["1", "2"], ["0", "3", "01", "99", "停止"]),
        ("ticket_type", TICKET_FIELDS, ["01", "02"], ["1", "03", "医療券"]),
        ("treatment_type", TICKET_FIELDS, ["01", "02", "03", "04", "05"], ["06", "4"]),
        ("single_or_combined", TICKET_FIELDS, ["01", "02"], ["03", "1"]),
        ("social_insurance", TICKET_FIELDS, ["01", "02"], ["00", "03"]),
        ("consistency_flag", TICKET_FIELDS, ["0", "1"], ["2"]),
        (
            "insured_card_classification",
            INSURANCE_FIELDS,
            ["01", "02", "03", "04", "05", "06", "07"],
            ["A1", "08", "1"],
        ),
        ("contribution_ratio", INSURANCE_FIELDS, ["010", "020", "030"], ["10", "1", "040", "1割", "0.1"]),
        ("elderly_contribution_ratio", INSURANCE_FIELDS, ["010", "020", "030"], ["20", "000"]),
        ("preschool", INSURANCE_FIELDS, ["1"], ["2", "0"]),
        ("limit_classification", INSURANCE_FIELDS, ["01", "02", "03"], ["04", "1"]),
        ("limit_bracket", INSURANCE_FIELDS, ["A01", "A06", "B01", "B10"], ["A07", "B11", "ア", "a01"]),
        ("specific_disease_category", INSURANCE_FIELDS, ["1", "2", "3"], ["01", "4"]),
        ("personal_family", INSURANCE_FIELDS, ["1", "2"], ["3"]),
    ],
)
def test_code_kinds_accept_only_the_code_values_of_domain_md(name, table, good, bad):
    f = field(name, table)
    for g in good:
        assert ok(f, g) == g
    for b in bad:
        p = refused(f, b)
        assert p.code == "code"
        assert f"「{b}」" in p.message_ja and f.label_ja in p.message_ja


def test_code_refusal_lists_the_allowed_values_with_their_meaning():
    msg = refused(field("sex"), "9").message_ja
    assert "1（男）" in msg and "2（女）" in msg and "3（未設定）" in msg


def test_medical_assistance_class_a1_cannot_be_registered_as_health_insurance():
    assert refused(field("insured_card_classification", INSURANCE_FIELDS), "A1").code == "code"


# --- amounts, digits, postal codes -------------------------------------------------------------


def test_amount_kind():
    f = field("self_pay_amount", TICKET_FIELDS)
    assert ok(f, "0") == 0
    assert ok(f, "12000") == 12000
    for bad in ("-1", "1,000", "1.5", "１０００", "1e3", "1234567890"):
        assert refused(f, bad).code == "amount"


def test_digits_kind():
    f = field("issue_number", TICKET_FIELDS)
    assert ok(f, "0000001") == "0000001"  # leading zeros kept
    for bad in ("12a", "１２", "1" * 21):
        assert refused(f, bad).code == "digits"
    assert refused(field("branch_number", INSURANCE_FIELDS), "001").code == "digits"


@pytest.mark.parametrize("raw", ["100-0001", "1000001"])
def test_post_kind_is_normalised_to_nnn_nnnn(raw):
    assert ok(field("post_number"), raw) == "100-0001"


@pytest.mark.parametrize("raw", ["100-001", "10000011", "100-000a", "１００-０００１"])
def test_post_kind_refusals(raw):
    assert refused(field("post_number"), raw).code == "post_number"


# --- text and kana -----------------------------------------------------------------------------


def test_text_kind_keeps_japanese_and_is_nfc_normalised():
    assert ok(field("name"), "生保一郎") == "生保一郎"
    assert ok(field("name"), "か\u3099") == "が"  # decomposed が becomes one character


@pytest.mark.parametrize("raw", ["生保\n一郎", "生保\t一郎", "生保\x00一郎"])
def test_text_kind_refuses_control_characters(raw):
    assert refused(field("name"), raw).code == "control_char"


def test_text_kind_refuses_values_that_are_too_long():
    f = field("name")
    assert ok(f, "あ" * f.max_len) == "あ" * f.max_len
    p = refused(f, "あ" * (f.max_len + 1))
    assert p.code == "too_long" and str(f.max_len) in p.message_ja


@pytest.mark.parametrize(
    "raw", ["セイホ イチロウ", "セイホ\u3000イチロウ", "せいほ いちろう", "ｾｲﾎ ｲﾁﾛｳ", "せいほ　イチロウ"]
)
def test_kana_in_full_width_katakana_or_hiragana_becomes_half_width(raw):
    assert ok(field("name_kana"), raw) == "ｾｲﾎ ｲﾁﾛｳ"


def test_kana_voiced_and_long_vowel_marks_become_half_width_too():
    assert ok(field("name_kana"), "ガッコウ・タロー") == "ｶﾞｯｺｳ･ﾀﾛｰ"
    assert ok(field("name_kana"), "ぷーさん") == "ﾌﾟｰｻﾝ"


@pytest.mark.parametrize("raw", ["生保一郎", "セイホ一郎", "SEIHO", "ｾｲﾎ1"])
def test_kana_refuses_kanji_and_latin(raw):
    p = refused(field("name_kana"), raw)
    assert p.code == "kana" and "カタカナ" in p.message_ja


def test_normalize_kana_direct():
    assert normalize_kana(" ふじょ はなこ ") == "ﾌｼﾞｮ ﾊﾅｺ"


# --- records -----------------------------------------------------------------------------------


def test_clean_record_refuses_unknown_fields_instead_of_dropping_them():
    problems = Problems()
    clean_record(RECIPIENT_FIELDS, {"payer_number": PAYER, "nmae": "生保一郎"}, problems)
    unknown = [p for p in problems.items if p.code == "unknown_field"]
    assert [p.field for p in unknown] == ["nmae"]
    assert "「nmae」" in unknown[0].message_ja


def test_clean_record_reports_every_problem_at_once():
    problems = Problems()
    clean_record(RECIPIENT_FIELDS, {"payer_number": "12000001", "recipient_number": "1010001", "sex": "9"}, problems)
    fields = {p.field for p in problems.items}
    assert {"payer_number", "recipient_number", "sex", "name", "name_kana", "birthdate", "qualification_date"} <= fields


def test_clean_record_partial_checks_only_given_fields():
    problems = Problems()
    out = clean_record(RECIPIENT_FIELDS, {"address": "東京都"}, problems, partial=True)
    assert not problems and out == {"address": "東京都"}


# --- cross-field rules of a ticket -------------------------------------------------------------


def ticket(**kw):
    t = {
        "ticket_type": "01",
        "treatment_month": "202407",
        "valid_from": D(2024, 7, 1),
        "valid_to": D(2024, 7, 31),
        "designated_facility_code": CLINIC,
        "treatment_type": "02",
    }
    t.update(kw)
    return t


def rule_problems(t):
    problems = Problems()
    check_ticket_rules(t, problems)
    return [(p.field, p.code) for p in problems.items]


def test_a_consistent_medical_ticket_passes():
    assert rule_problems(ticket()) == []


def test_a_consistent_dispensing_ticket_passes():
    assert rule_problems(ticket(ticket_type="02", designated_facility_code=PHARMACY, treatment_type="04")) == []


def test_dispensing_ticket_must_designate_a_pharmacy():
    assert ("designated_facility_code", "not_pharmacy") in rule_problems(ticket(ticket_type="02", treatment_type="04"))


def test_medical_ticket_cannot_designate_a_pharmacy():
    assert ("designated_facility_code", "pharmacy_on_medical_ticket") in rule_problems(
        ticket(designated_facility_code=PHARMACY)
    )


@pytest.mark.parametrize("ttype, treat", [("01", "04"), ("02", "02"), ("02", "01")])
def test_treatment_type_04_goes_with_dispensing_tickets_only(ttype, treat):
    fac = PHARMACY if ttype == "02" else CLINIC
    assert ("treatment_type", "type_mismatch") in rule_problems(
        ticket(ticket_type=ttype, treatment_type=treat, designated_facility_code=fac)
    )


def test_valid_to_before_valid_from_is_refused():
    assert ("valid_to", "before_start") in rule_problems(ticket(valid_from=D(2024, 7, 20), valid_to=D(2024, 7, 10)))


def test_a_one_day_ticket_is_fine():
    assert rule_problems(ticket(valid_from=D(2024, 7, 10), valid_to=D(2024, 7, 10))) == []


def test_validity_dates_must_lie_in_the_treatment_month():
    assert ("valid_from", "outside_month") in rule_problems(ticket(valid_from=D(2024, 6, 30)))
    assert ("valid_to", "outside_month") in rule_problems(ticket(valid_to=D(2024, 8, 1)))


def test_missing_values_do_not_raise_cross_field_problems_of_their_own():
    # the per-field "required" problem is already reported; the rules must not crash or double-report
    assert rule_problems({"ticket_type": None, "valid_from": None}) == []


# --- period of a recipient / insured person ----------------------------------------------------


def period_problems(**kw):
    rec = {"birthdate": D(1990, 1, 15), "qualification_date": D(2020, 4, 1), "disqualification_date": None}
    rec.update(kw)
    problems = Problems()
    check_period(rec, problems)
    return [(p.field, p.code) for p in problems.items]


def test_a_normal_period_passes():
    assert period_problems() == []
    assert period_problems(disqualification_date=D(2024, 7, 31)) == []


def test_disqualification_before_qualification_is_refused():
    assert period_problems(disqualification_date=D(2020, 3, 31)) == [("disqualification_date", "before_start")]


def test_birthdate_in_the_future_is_refused():
    assert ("birthdate", "out_of_range") in period_problems(
        birthdate=today_jst() + dt.timedelta(days=2), qualification_date=today_jst() + dt.timedelta(days=3)
    )


def test_birthdate_before_meiji_is_refused():
    assert ("birthdate", "out_of_range") in period_problems(birthdate=D(1867, 12, 31))


def test_qualification_before_birth_is_refused():
    assert period_problems(qualification_date=D(1989, 1, 1)) == [("qualification_date", "before_birth")]


@given(st.dates(min_value=D(1860, 1, 1), max_value=D(2020, 1, 1)))
@example(D(1868, 1, 1))  # 明治 is counted from 1868-01-25 in era.py
def test_every_birthdate_the_registry_accepts_can_be_shown_in_wareki(birth):
    # The screens show 生年月日 in 和暦; a birth date check_period accepts must not crash them.
    problems = Problems()
    check_period({"birthdate": birth, "qualification_date": D(2020, 4, 1)}, problems)
    if not problems:
        assert wareki_date(birth)


# --- health-insurance details (issue 7) --------------------------------------------------------


def test_insurance_detail_kinds():
    assert ok(field("card_valid_from", INSURANCE_FIELDS), "20191001") == D(2019, 10, 1)
    assert refused(field("card_valid_to", INSURANCE_FIELDS), "2019-02-30").field == "card_valid_to"
    assert ok(field("name_of_other_kana", INSURANCE_FIELDS), "ヤマダ タロウ") == "ﾔﾏﾀﾞ ﾀﾛｳ"
    assert ok(field("specific_disease_self_pay", INSURANCE_FIELDS), "10000") == 10000
    assert refused(field("specific_disease_self_pay", INSURANCE_FIELDS), "1万").code == "amount"


def test_contribution_ratio_refusal_names_the_three_digit_codes():
    msg = refused(field("contribution_ratio", INSURANCE_FIELDS), "1").message_ja
    assert "010（1割）" in msg and "020（2割）" in msg and "030（3割）" in msg


def insurance_problems(**kw):
    rec = {
        "insurer_number": "06139992",
        "insured_card_classification": "01",
        "birthdate": D(1990, 1, 15),
        "qualification_date": D(2019, 4, 1),
    }
    rec.update(kw)
    problems = Problems()
    check_insurance_rules(rec, problems)
    return [(p.field, p.code) for p in problems.items]


def test_a_plain_qualification_passes_the_insurance_rules():
    assert insurance_problems() == []


@pytest.mark.parametrize(
    "start, end",
    [
        ("card_valid_from", "card_valid_to"),
        ("elderly_valid_from", "elderly_valid_to"),
        ("limit_valid_from", "limit_valid_to"),
        ("specific_disease_valid_from", "specific_disease_valid_to"),
    ],
)
def test_every_certificate_period_must_not_end_before_it_starts(start, end):
    born_1952 = dict(
        birthdate=D(1952, 8, 10),
        elderly_contribution_ratio="020",
        limit_classification="01",
        specific_disease_category="1",
    )
    assert (end, "before_start") in insurance_problems(**born_1952, **{start: D(2024, 7, 1), end: D(2024, 6, 30)})
    assert (end, "before_start") not in insurance_problems(**born_1952, **{start: D(2024, 7, 1), end: D(2024, 7, 1)})


@pytest.mark.parametrize(
    "given, needed",
    [
        ({"elderly_valid_to": D(2027, 7, 31)}, {"elderly_valid_from", "elderly_contribution_ratio"}),
        ({"limit_bracket": "A03"}, {"limit_classification", "limit_valid_from"}),
        ({"specific_disease_self_pay": 10000}, {"specific_disease_category", "specific_disease_valid_from"}),
    ],
)
def test_a_certificate_block_is_given_whole_or_not_at_all(given, needed):
    got = insurance_problems(birthdate=D(1952, 8, 10), **given)
    assert {f for f, code in got if code == "required"} == needed


def test_elderly_certificate_only_for_70_to_74_on_its_start():
    e = dict(elderly_contribution_ratio="020")
    assert insurance_problems(birthdate=D(1954, 8, 1), elderly_valid_from=D(2024, 8, 1), **e) == []  # 70 that day
    assert insurance_problems(birthdate=D(1954, 8, 2), elderly_valid_from=D(2024, 8, 1), **e) == [
        ("elderly_valid_from", "age")
    ]  # still 69
    assert insurance_problems(birthdate=D(1949, 8, 2), elderly_valid_from=D(2024, 8, 1), **e) == []  # 74
    assert insurance_problems(birthdate=D(1949, 8, 1), elderly_valid_from=D(2024, 8, 1), **e) == [
        ("elderly_valid_from", "age")
    ]  # 75: 後期高齢者医療 instead


def test_late_elderly_needs_a_ratio_and_has_no_elderly_certificate():
    kouki = dict(insurer_number="39130006", birthdate=D(1945, 5, 5))
    assert insurance_problems(**kouki) == [("contribution_ratio", "required")]
    assert insurance_problems(**kouki, contribution_ratio="010") == []
    got = insurance_problems(
        **kouki, contribution_ratio="010", elderly_valid_from=D(2024, 4, 1), elderly_contribution_ratio="010"
    )
    assert got == [("elderly_valid_from", "not_for_late_elderly")]


def test_limit_bracket_a_is_under_70_and_b_is_70_and_over():
    limit = dict(limit_classification="01", limit_valid_from=D(2024, 8, 1))
    assert insurance_problems(**limit, limit_bracket="A03") == []
    assert insurance_problems(**limit, limit_bracket="B04") == [("limit_bracket", "age")]
    old = dict(limit, birthdate=D(1950, 1, 1))
    assert insurance_problems(**old, limit_bracket="B04") == []
    assert insurance_problems(**old, limit_bracket="A05") == [("limit_bracket", "age")]


def test_long_term_hospital_date_only_on_a_reduction_certificate():
    limit = dict(limit_valid_from=D(2024, 8, 1), limit_long_term_date=D(2024, 9, 1))
    assert insurance_problems(**limit, limit_classification="02") == []
    assert insurance_problems(**limit, limit_classification="01") == [("limit_long_term_date", "not_reduction")]


@pytest.mark.parametrize(
    "card, insurer, good",
    [
        ("02", "67130006", True),
        ("02", "06139992", False),
        ("04", "138222", False),
        ("06", "63130000", True),
        ("06", "01130012", False),
        ("07", "07130000", True),
        ("07", "31130000", False),
        ("03", "138222", True),
        ("05", "39130006", True),
        ("01", "123456", True),
    ],
)
def test_card_class_must_go_with_the_insurance_of_the_insurer_number(card, insurer, good):
    got = insurance_problems(insured_card_classification=card, insurer_number=insurer, contribution_ratio="030")
    assert (got == []) == good, got
    if not good:
        assert got == [("insured_card_classification", "card_mismatch")]


def test_preschool_ends_on_the_first_31_march_after_reaching_six():
    assert preschool_end(D(2018, 4, 2)) == D(2025, 3, 31)
    assert preschool_end(D(2018, 4, 1)) == D(2024, 3, 31)  # reaches 6 on 31 March: that very day
    assert preschool_end(D(2018, 2, 28)) == D(2024, 3, 31)
    assert preschool_end(D(2016, 2, 29)) == D(2022, 3, 31)
    child = dict(birthdate=D(2020, 5, 5), preschool="1")
    assert insurance_problems(**child, qualification_date=D(2020, 5, 5)) == []
    assert insurance_problems(**child, qualification_date=D(2020, 5, 5), card_valid_from=D(2027, 4, 1)) == [
        ("preschool", "age")
    ]
    assert insurance_problems(preschool="1") == [("preschool", "age")]  # born 1990, qualified 2019
    # absurd birth dates (refused by check_period) must not crash the rules
    assert insurance_problems(
        birthdate=D(9999, 12, 31), preschool="1", elderly_valid_from=D(9999, 12, 31), elderly_contribution_ratio="020"
    ) == [("elderly_valid_from", "age")]


def test_age_counts_from_the_birthday():
    assert age_on(D(1954, 8, 1), D(2024, 7, 31)) == 69
    assert age_on(D(1954, 8, 1), D(2024, 8, 1)) == 70


_DATES = st.one_of(st.none(), st.dates(min_value=D(1868, 1, 25), max_value=D(9999, 12, 31)))


@given(
    st.fixed_dictionaries(
        {
            "insurer_number": st.sampled_from(
                [None, "06139992", "39130006", "67130006", "138222", "63130000", "07130000"]
            ),
            "insured_card_classification": st.sampled_from([None, "01", "02", "03", "04", "05", "06", "07"]),
            "birthdate": _DATES,
            "qualification_date": _DATES,
            "card_valid_from": _DATES,
            "card_valid_to": _DATES,
            "contribution_ratio": st.sampled_from([None, "010", "020", "030"]),
            "preschool": st.sampled_from([None, "1"]),
            "elderly_valid_from": _DATES,
            "elderly_valid_to": _DATES,
            "elderly_contribution_ratio": st.sampled_from([None, "020"]),
            "limit_classification": st.sampled_from([None, "01", "02", "03"]),
            "limit_bracket": st.sampled_from([None, "A01", "B04", "B10"]),
            "limit_valid_from": _DATES,
            "limit_long_term_date": _DATES,
            "specific_disease_category": st.sampled_from([None, "1"]),
            "specific_disease_valid_from": _DATES,
            "specific_disease_valid_to": _DATES,
        }
    )
)
def test_the_insurance_rules_never_crash_on_clean_values(rec):
    problems = Problems()
    check_insurance_rules(rec, problems)
    assert all(p.field in {f.name for f in INSURANCE_FIELDS} for p in problems.items)
