"""公費負担者番号・受給者番号・保険者番号・医療機関コード and their 検証番号 (DOMAIN.md, "Numbers and their check digits")."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fujo.core.numbers import (
    check_digit,
    check_facility_code,
    check_individual_number,
    check_insurer_number,
    check_payer_number,
    check_recipient_number,
    facility_kind,
    individual_number_check_digit,
    insurer_kind,
    is_pharmacy,
    normalize_insurer_number,
    pad_insurer_number,
    with_check_digit,
    with_individual_check_digit,
)

# Valid numbers worked out by hand from the rule in DOMAIN.md (not by calling the code under test):
PAYER = "12130019"  # 法別12 東京都13 実施機関001, 1×2+0+0×2+3+1×2+2+1×2 = 11 → 9
RECIPIENT = "1010008"  # 0×2+0+0×2+1+0×2+1 = 2 → 8
CLINIC = "1311234569"  # 医科: 6×2→3+5+4×2+3+2×2+1+1×2+3+1×2 = 31 → 9
PHARMACY = "1341234563"  # 調剤
DENTAL = "1331234565"  # 歯科
INSURER8 = "06139992"  # 8-digit 保険者番号
INSURER6 = "138222"  # 6-digit 国保: 2×2+2+8×2→7+3+1×2 = 18 → 2


def code(p):
    return None if p is None else p.code


# --- the modulus-10 rule itself ------------------------------------------------------------------


@pytest.mark.parametrize("body, expected", [("5401602", 7), ("3312001", 5)])
def test_check_digit_matches_the_published_examples(body, expected):
    assert check_digit(body) == expected


def test_two_digit_products_are_summed_digit_by_digit():
    # 9×2 = 18 counts as 1+8 = 9, so the check digit is (10 − 9) mod 10 = 1 (not (10 − 8) = 2)
    assert check_digit("9") == 1


def test_a_sum_that_is_a_multiple_of_ten_gives_zero_not_ten():
    # "19": 9×2=18→9, 1×1=1 → 10 → (10 − 0) mod 10 = 0
    assert check_digit("19") == 0
    assert with_check_digit("19") == "190"


def test_hand_worked_numbers_used_by_these_tests_are_valid():
    assert check_payer_number(PAYER) is None
    assert check_recipient_number(RECIPIENT) is None
    for c in (CLINIC, PHARMACY, DENTAL):
        assert check_facility_code(c) is None, c
    assert check_insurer_number(INSURER8) is None
    assert check_insurer_number(INSURER6) is None


# --- 公費負担者番号 ------------------------------------------------------------------------------


def test_seed_placeholder_payer_number_is_refused_for_prefecture_00():
    p = check_payer_number("12000001")
    assert p.code == "prefecture" and p.field == "payer_number"
    assert "都道府県番号00" in p.message_ja


def test_seed_placeholder_payer_number_also_fails_its_check_digit():
    # 12000001 with prefecture 00: even the digit itself is wrong (1×2+2 = 4 → 6, not 1)
    assert with_check_digit("1200000") != "12000001"


def test_seed_placeholder_recipient_number_is_refused_for_check_digit():
    p = check_recipient_number("1010001")
    assert p.code == "check_digit" and p.field == "recipient_number"
    assert "検証番号" in p.message_ja


@pytest.mark.parametrize(
    "value, expected",
    [
        ("1213001", "length"),
        ("121300199", "length"),
        ("1213001a", "not_digits"),
        ("1213-019", "not_digits"),
        ("1213 019", "not_digits"),
        ("１２１３００１９", "not_digits"),  # full-width digits look right but are not ASCII
        ("", "required"),
        ("13130018", "law_code"),  # 法別13 is not 生活保護
        ("12000004", "prefecture"),
        ("12480007", "prefecture"),
        ("12130010", "check_digit"),
    ],
)
def test_payer_number_refusals(value, expected):
    p = check_payer_number(value)
    assert code(p) == expected
    assert p.field == "payer_number" and p.message_ja and p.message_en


def test_payer_number_refusals_say_what_is_wrong_in_japanese():
    assert "8桁" in check_payer_number("1213001").message_ja
    assert "半角数字" in check_payer_number("１２１３００１９").message_ja
    assert "法別番号は12" in check_payer_number("13130018").message_ja
    assert "都道府県番号48" in check_payer_number("12480007").message_ja


@pytest.mark.parametrize("pref", ["01", "13", "27", "47"])
def test_every_real_prefecture_is_accepted(pref):
    assert check_payer_number(with_check_digit("12" + pref + "001")) is None


def test_payer_number_field_name_is_the_callers():
    assert check_payer_number("1", field="InsurerNumber").field == "InsurerNumber"


# --- 受給者番号 --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [
        ("101000", "length"),
        ("10100088", "length"),
        ("10100O8", "not_digits"),
        ("１０１０００８", "not_digits"),
        ("", "required"),
        ("1010009", "check_digit"),
    ],
)
def test_recipient_number_refusals(value, expected):
    assert code(check_recipient_number(value)) == expected


# --- 保険者番号 --------------------------------------------------------------------------------


def test_insurer_number_of_eight_digits_is_accepted():
    assert check_insurer_number(INSURER8) is None


def test_kokuho_six_digit_insurer_number_is_accepted_bare_or_space_padded():
    assert check_insurer_number(INSURER6) is None
    assert check_insurer_number("  " + INSURER6) is None


@pytest.mark.parametrize(
    "value, expected",
    [
        ("13822", "length"),
        ("1382221", "length"),
        ("061399921", "length"),
        ("0613999A", "not_digits"),
        ("０６１３９９９２", "not_digits"),
        ("13 822", "not_digits"),
        ("", "required"),
        ("   ", "required"),
        ("06139993", "check_digit"),
        ("138223", "check_digit"),
    ],
)
def test_insurer_number_refusals(value, expected):
    assert code(check_insurer_number(value)) == expected


def test_pad_insurer_number_pads_kokuho_numbers_with_spaces_to_eight():
    assert pad_insurer_number(INSURER6) == "  " + INSURER6
    assert pad_insurer_number("  " + INSURER6) == "  " + INSURER6
    assert pad_insurer_number(INSURER8) == INSURER8
    assert len(pad_insurer_number(INSURER6)) == 8


def test_normalize_insurer_number_removes_the_padding():
    assert normalize_insurer_number("  " + INSURER6) == INSURER6
    assert normalize_insurer_number(INSURER8) == INSURER8
    assert normalize_insurer_number(None) == ""


# --- 医療機関コード ----------------------------------------------------------------------------

STATION = "1361234568"  # 訪問看護ステーション (点数表 6): 6×2→3+5+4×2+3+2×2+1+6×2→3+3+1×2 = 32 → 8


@pytest.mark.parametrize("value, kind", [(CLINIC, "医科"), (DENTAL, "歯科"), (PHARMACY, "調剤"), (STATION, "訪問看護")])
def test_facility_codes_of_each_score_table(value, kind):
    assert check_facility_code(value) is None
    assert facility_kind(value) == kind
    assert is_pharmacy(value) == (kind == "調剤")


@pytest.mark.parametrize(
    "value, expected",
    [
        ("131123456", "length"),
        ("13112345690", "length"),
        ("13112345６9", "not_digits"),
        ("", "required"),
        (with_check_digit("001123456"), "prefecture"),
        (with_check_digit("481123456"), "prefecture"),
        (with_check_digit("132123456"), "score_table"),  # 点数表 2 does not exist
        (with_check_digit("135123456"), "score_table"),
        ("1311234560", "check_digit"),
    ],
)
def test_facility_code_refusals(value, expected):
    p = check_facility_code(value)
    assert code(p) == expected
    assert p.field == "facility_code"


def test_published_facility_code_example_validates_with_all_nine_digits_in_the_check():
    # 0110113719 is the example 処方箋発行医療機関コード quoted in public references; its 検証番号 is computed
    # over 都道府県 + 点数表 + 郡市区 + 番号 (all nine digits), as numbers.py does.
    assert check_facility_code("0110113719") is None
    assert check_digit("011011371") == 9


def test_score_table_refusal_lists_the_allowed_kinds():
    msg = check_facility_code(with_check_digit("132123456")).message_ja
    assert "1（医科）" in msg and "3（歯科）" in msg and "4（調剤）" in msg and "6（訪問看護）" in msg


# --- properties --------------------------------------------------------------------------------

digits = st.text(alphabet="0123456789", min_size=1, max_size=12)


@given(body=st.text(alphabet="0123456789", min_size=6, max_size=6))
def test_with_check_digit_always_gives_a_valid_recipient_number(body):
    assert check_recipient_number(with_check_digit(body)) is None


@given(pref=st.integers(1, 47), office=st.integers(0, 999))
def test_with_check_digit_always_gives_a_valid_payer_number(pref, office):
    assert check_payer_number(with_check_digit(f"12{pref:02d}{office:03d}")) is None


@given(pref=st.integers(1, 47), table=st.sampled_from("1346"), rest=st.integers(0, 999_999))
def test_with_check_digit_always_gives_a_valid_facility_code(pref, table, rest):
    assert check_facility_code(with_check_digit(f"{pref:02d}{table}{rest:06d}")) is None


@given(body=digits)
def test_check_digit_is_a_single_digit_that_makes_the_weighted_sum_a_multiple_of_ten(body):
    # Independent restatement of DOMAIN.md's rule as "the weighted digit sum of body+check ≡ 0 (mod 10)"
    full = with_check_digit(body)
    total = 0
    for i, ch in enumerate(reversed(full)):
        w = 1 if i % 2 == 0 else 2  # the check digit has weight 1, then 2, 1, 2 … leftwards
        total += sum(int(x) for x in str(int(ch) * w))
    assert total % 10 == 0


@given(body=digits, data=st.data())
def test_changing_any_single_digit_of_a_valid_number_is_always_detected(body, data):
    """Weight 1 shifts the sum by the change itself; weight 2 maps 0-9 to the digit sums
    0 2 4 6 8 1 3 5 7 9, a permutation, so every single-digit error changes the sum mod 10."""
    full = with_check_digit(body)
    pos = data.draw(st.integers(0, len(full) - 1))
    new = data.draw(st.sampled_from([d for d in "0123456789" if d != full[pos]]))
    changed = full[:pos] + new + full[pos + 1 :]
    assert with_check_digit(changed[:-1]) != changed


def test_single_digit_errors_are_detected_exhaustively_for_recipient_numbers():
    # Every position, every wrong digit, for a valid 受給者番号: all are refused.
    for pos in range(7):
        for d in "0123456789":
            if d == RECIPIENT[pos]:
                continue
            changed = RECIPIENT[:pos] + d + RECIPIENT[pos + 1 :]
            assert code(check_recipient_number(changed)) == "check_digit", changed


@given(pref=st.integers(1, 47), office=st.integers(0, 999), data=st.data())
def test_changing_a_digit_of_a_valid_payer_number_is_always_refused(pref, office, data):
    full = with_check_digit(f"12{pref:02d}{office:03d}")
    pos = data.draw(st.integers(0, 7))
    new = data.draw(st.sampled_from([d for d in "0123456789" if d != full[pos]]))
    assert check_payer_number(full[:pos] + new + full[pos + 1 :]) is not None


# --- which insurance a 保険者番号 belongs to (never from InsuredCardClassification) ------------------


@pytest.mark.parametrize(
    "number, law, system, name_part",
    [
        ("138222", "", "国民健康保険", "市町村"),  # 6 digits: 都道府県 13 + 822 + 検証番号
        ("  138222", "", "国民健康保険", "市町村"),  # as it travels, space-padded to 8
        ("133033", "", "国民健康保険", "国民健康保険組合"),  # 保険者別番号 starting with 3: a 国保組合
        ("39130006", "39", "後期高齢者医療", "後期高齢者医療"),
        ("67130006", "67", "国民健康保険", "退職者医療"),
        ("01130012", "01", "被用者保険", "協会けんぽ"),
        ("02130000", "02", "被用者保険", "船員保険"),
        ("06139992", "06", "被用者保険", "健康保険組合"),
        ("07130000", "07", "被用者保険", "自衛官"),
        ("31130000", "31", "被用者保険", "国家公務員共済組合"),
        ("32130000", "32", "被用者保険", "地方公務員等共済組合"),
        ("33130000", "33", "被用者保険", "警察共済組合"),
        ("34130000", "34", "被用者保険", "公立学校共済組合"),
        ("63130000", "63", "被用者保険", "特例退職"),
        ("72130000", "72", "被用者保険", "特定共済組合"),
    ],
)
def test_insurer_kind_follows_from_the_law_code_or_the_length(number, law, system, name_part):
    k = insurer_kind(number)
    assert (k.law_code, k.system) == (law, system)
    assert name_part in k.name_ja


@pytest.mark.parametrize("number", ["12130019", "99130000", "0613999", "1382", "", "０６１３９９９２", "06-13999"])
def test_insurer_kind_is_none_for_what_is_not_a_health_insurer_number(number):
    # 12 is 生活保護 (a 公費負担者番号), 99 no such 法別番号; wrong lengths and non-ASCII digits.
    assert insurer_kind(number) is None


# --- 個人番号 (My Number): its own published rule, modulus 11 ----------------------------------------


def _my_number_check(body: str) -> int:
    """The rule restated from 施行令/総務省令 independently: P(n) the n-th digit from the right of the
    11-digit body, Q(n) = n+1 (n ≤ 6) or n−5 (n ≥ 7); r = ΣP·Q mod 11; check = 0 if r ≤ 1 else 11 − r."""
    p = [int(c) for c in reversed(body)]
    total = sum(p[n - 1] * (n + 1 if n <= 6 else n - 5) for n in range(1, 12))
    r = total % 11
    return 0 if r <= 1 else 11 - r


def test_individual_number_check_digit_worked_by_hand():
    # 12345678901: P = 1,0,9,8,7,6 (Q 2..7) and 5,4,3,2,1 (Q 2..6): 2+0+36+40+42+42+10+12+12+10+6 = 212;
    # 212 mod 11 = 3 → 11 − 3 = 8 (the commonly quoted test number 123456789018)
    assert individual_number_check_digit("12345678901") == 8
    assert check_individual_number("123456789018") is None


@given(body=st.text(alphabet="0123456789", min_size=11, max_size=11))
def test_individual_number_check_digit_follows_the_published_rule(body):
    assert individual_number_check_digit(body) == _my_number_check(body)
    assert check_individual_number(with_individual_check_digit(body)) is None


@given(body=st.text(alphabet="0123456789", min_size=11, max_size=11), data=st.data())
def test_a_wrong_last_digit_of_an_individual_number_is_refused(body, data):
    good = with_individual_check_digit(body)
    wrong = data.draw(st.sampled_from([d for d in "0123456789" if d != good[-1]]))
    p = check_individual_number(good[:-1] + wrong)
    assert code(p) == "check_digit" and p.field == "individual_number"


@pytest.mark.parametrize(
    "value, expected",
    [
        ("", "required"),
        ("12345678901", "length"),
        ("1234567890189", "length"),
        ("12345678901８", "not_digits"),
        ("12345678901x", "not_digits"),
    ],
)
def test_individual_number_refusals_never_repeat_the_number(value, expected):
    p = check_individual_number(value)
    assert code(p) == expected
    assert value == "" or value not in p.message_ja + p.message_en
