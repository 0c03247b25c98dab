"""The numbers of the system and their check digits (検証番号).

- 公費負担者番号 payer number, 8 digits: 法別番号 2 (12 = 生活保護) + 都道府県番号 2 + 実施機関番号 3 + 検証番号 1
- 受給者番号 recipient number, 7 digits: 6 digits + 検証番号 1
- 保険者番号 insurer number, 8 digits (国保: 6 digits, sent left-padded with spaces to 8), last digit 検証番号
- 医療機関コード facility code, 10 digits: 都道府県 2 + 点数表 1 (1 医科, 3 歯科, 4 調剤, 6 訪問看護ステーション)
  + 郡市区 2 + 番号 4 + 検証番号 1
- 個人番号 (My Number), 12 digits: 11 digits + 検証番号 1 by its own published rule (modulus 11); never stored,
  only a keyed hash of it (see fujo.cards.ca)

Pure functions: no I/O. Each ``check_*`` returns ``None`` when the value is good or a
:class:`FieldProblem` naming what is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import FieldProblem, Problems

LAW_CODE_PUBLIC_ASSISTANCE = "12"  # 法別番号 12 = 生活保護法による医療扶助
PREFECTURES = frozenset(f"{i:02d}" for i in range(1, 48))
SCORE_TABLE_KINDS = {"1": "医科", "3": "歯科", "4": "調剤", "6": "訪問看護"}  # 6: 訪問看護ステーション


def check_digit(body: str) -> int:
    """Modulus-10 検証番号 of ``body``: from the rightmost digit weights 2, 1, 2, 1 …;
    two-digit products are summed digit by digit; check = (10 − sum mod 10) mod 10."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        p = int(ch) * (2 if i % 2 == 0 else 1)
        total += p // 10 + p % 10
    return (10 - total % 10) % 10


def with_check_digit(body: str) -> str:
    return body + str(check_digit(body))


def _digits(field: str, label_ja: str, label_en: str, value: str, length: int) -> FieldProblem | None:
    if value is None or value == "":
        return FieldProblem(field, "required", f"{label_ja}を入力してください。", f"{label_en} is required.")
    if not value.isascii() or not value.isdigit():
        return FieldProblem(
            field,
            "not_digits",
            f"{label_ja}は半角数字で入力してください。",
            f"{label_en} must contain only the digits 0-9.",
        )
    if len(value) != length:
        return FieldProblem(
            field,
            "length",
            f"{label_ja}は{length}桁です（入力は{len(value)}桁）。",
            f"{label_en} must be {length} digits (got {len(value)}).",
        )
    return None


def _check_digit_problem(field: str, label_ja: str, label_en: str, value: str) -> FieldProblem | None:
    expected = check_digit(value[:-1])
    if int(value[-1]) != expected:
        return FieldProblem(
            field, "check_digit", f"{label_ja}の検証番号が正しくありません。", f"{label_en} has a wrong check digit."
        )
    return None


def _prefecture_problem(field: str, label_ja: str, label_en: str, prefecture: str) -> FieldProblem | None:
    if prefecture not in PREFECTURES:
        return FieldProblem(
            field,
            "prefecture",
            f"{label_ja}の都道府県番号{prefecture}は存在しません。",
            f"{label_en} has no such prefecture number {prefecture}.",
        )
    return None


def check_payer_number(
    value: str, field: str = "payer_number", law_code: str | None = LAW_CODE_PUBLIC_ASSISTANCE
) -> FieldProblem | None:
    """公費負担者番号. ``law_code`` is the required 法別番号 (12 for 生活保護)."""
    ja, en = "公費負担者番号", "Payer number (公費負担者番号)"
    p = _digits(field, ja, en, value, 8)
    if p:
        return p
    if law_code and value[:2] != law_code:
        return FieldProblem(
            field,
            "law_code",
            f"{ja}の法別番号は{law_code}（生活保護）でなければなりません（入力は{value[:2]}）。",
            f"{en} must start with law code {law_code} (public assistance), got {value[:2]}.",
        )
    return _prefecture_problem(field, ja, en, value[2:4]) or _check_digit_problem(field, ja, en, value)


def check_recipient_number(value: str, field: str = "recipient_number") -> FieldProblem | None:
    """受給者番号 (7 digits with 検証番号)."""
    ja, en = "受給者番号", "Recipient number (受給者番号)"
    return _digits(field, ja, en, value, 7) or _check_digit_problem(field, ja, en, value)


def normalize_insurer_number(value: str) -> str:
    """保険者番号 without the padding: 国保 numbers travel as 6 digits padded with spaces to 8."""
    return (value or "").strip()


def is_payer_number(value: str) -> bool:
    """Does a (normalised) number given where a 保険者番号 may stand name medical assistance — a
    公費負担者番号 of 法別 12, 8 digits — rather than a health insurer? Checks by numbers, 照会番号
    registration and the terminal's requests all branch on this."""
    return value.startswith(LAW_CODE_PUBLIC_ASSISTANCE) and len(value) == 8


def check_qualification_numbers(
    insurer_number: str | None,
    identification_number: str | None,
    problems: Problems,
    *,
    payer_field: str = "insurer_number",
    recipient_field: str = "identification_number",
    insurer_field: str = "insurer_number",
) -> tuple[str, bool]:
    """The two numbers naming a qualification (a check by numbers, a 照会番号, a terminal request):
    a 公費負担者番号 with a 受給者番号 for medical assistance, else a 保険者番号. Adds the problems of
    the numbers under the caller's field names; returns (the normalised 保険者番号 or 公費負担者番号,
    is it medical assistance). The 被保険者番号 is the caller's to require."""
    ins = normalize_insurer_number(insurer_number or "")
    assistance = is_payer_number(ins)
    if assistance:
        problems.add(check_payer_number(ins, field=payer_field))
        problems.add(check_recipient_number(identification_number or "", field=recipient_field))
    else:
        problems.add(check_insurer_number(ins, field=insurer_field))
    return ins, assistance


def check_insurer_number(value: str, field: str = "insurer_number") -> FieldProblem | None:
    """保険者番号: 6 digits (国保) or 8 digits (others); last digit 検証番号."""
    ja, en = "保険者番号", "Insurer number (保険者番号)"
    v = normalize_insurer_number(value)
    p = _digits(field, ja, en, v, 8 if len(v) > 6 else 6)
    if p:
        return p
    return _check_digit_problem(field, ja, en, v)


def pad_insurer_number(value: str) -> str:
    """Wire form: 国保 6-digit numbers left-padded with spaces to 8."""
    return normalize_insurer_number(value).rjust(8)


# Kinds of insurance system a 保険者番号 belongs to
EMPLOYEE_INSURANCE, NATIONAL_HEALTH_INSURANCE, LATE_ELDERLY = "被用者保険", "国民健康保険", "後期高齢者医療"


@dataclass(frozen=True)
class InsurerKind:
    law_code: str  # 法別番号 ("" for a 6-digit 国保 number, which has none)
    name_ja: str  # e.g. 協会けんぽ, 健康保険組合, 国民健康保険, 後期高齢者医療
    system: str  # EMPLOYEE_INSURANCE | NATIONAL_HEALTH_INSURANCE | LATE_ELDERLY


# 法別番号 of the 8-digit 保険者番号 (as published in the レセプト記載要領 別表, 医療保険 part)
_LAW_CODES = {
    "01": ("協会けんぽ（全国健康保険協会管掌健康保険）", EMPLOYEE_INSURANCE),
    "02": ("船員保険", EMPLOYEE_INSURANCE),
    "03": ("日雇特例被保険者の保険（一般療養）", EMPLOYEE_INSURANCE),
    "04": ("日雇特例被保険者の保険（特別療養費）", EMPLOYEE_INSURANCE),
    "06": ("組合管掌健康保険（健康保険組合）", EMPLOYEE_INSURANCE),
    "07": ("自衛官等（防衛省職員給与法）", EMPLOYEE_INSURANCE),
    "31": ("国家公務員共済組合", EMPLOYEE_INSURANCE),
    "32": ("地方公務員等共済組合", EMPLOYEE_INSURANCE),
    "33": ("警察共済組合", EMPLOYEE_INSURANCE),
    "34": ("公立学校共済組合・日本私立学校振興・共済事業団", EMPLOYEE_INSURANCE),
    "39": ("後期高齢者医療", LATE_ELDERLY),
    "63": ("特定健康保険組合（特例退職被保険者）", EMPLOYEE_INSURANCE),
    "67": ("国民健康保険（退職者医療）", NATIONAL_HEALTH_INSURANCE),
    "72": ("国家公務員特定共済組合（特例退職被保険者）", EMPLOYEE_INSURANCE),
    "73": ("地方公務員等特定共済組合（特例退職被保険者）", EMPLOYEE_INSURANCE),
    "74": ("警察特定共済組合（特例退職被保険者）", EMPLOYEE_INSURANCE),
    "75": ("公立学校共済組合・日本私立学校振興・共済事業団（特例退職被保険者）", EMPLOYEE_INSURANCE),
}


def insurer_kind(value: str) -> InsurerKind | None:
    """Which insurance a 保険者番号 belongs to — never from InsuredCardClassification, which is the
    kind of card. Covered: 6 digits = 国民健康保険 (市町村; 国保組合 when the 保険者別番号 starts
    with 3); 8 digits by 法別番号: 01 協会けんぽ, 02 船員保険, 03/04 日雇特例, 06 健康保険組合,
    07 自衛官等, 31–34 共済組合, 39 後期高齢者医療, 63 特定健康保険組合, 67 退職者医療 (国保),
    72–75 特定共済組合. Any other 法別番号 (e.g. 12 生活保護, which is a 公費負担者番号) or length
    gives None. Classification only: the 検証番号 is :func:`check_insurer_number`'s job."""
    v = normalize_insurer_number(value)
    if not v.isascii() or not v.isdigit():
        return None
    if len(v) == 6:
        return InsurerKind(
            "", "国民健康保険組合" if v[2] == "3" else "国民健康保険（市町村）", NATIONAL_HEALTH_INSURANCE
        )
    if len(v) == 8 and v[:2] in _LAW_CODES:
        name, system = _LAW_CODES[v[:2]]
        return InsurerKind(v[:2], name, system)
    return None


def check_facility_code(value: str, field: str = "facility_code") -> FieldProblem | None:
    """医療機関コード (10 digits)."""
    ja, en = "医療機関コード", "Facility code (医療機関コード)"
    p = _digits(field, ja, en, value, 10)
    if p:
        return p
    p = _prefecture_problem(field, ja, en, value[:2])
    if p:
        return p
    if value[2] not in SCORE_TABLE_KINDS:
        return FieldProblem(
            field,
            "score_table",
            f"{ja}の点数表番号は1（医科）・3（歯科）・4（調剤）・6（訪問看護）のいずれかです。",
            f"{en} score-table digit must be 1 (medical), 3 (dental), 4 (pharmacy) or 6 (visiting nursing).",
        )
    return _check_digit_problem(field, ja, en, value)


def facility_kind(code: str) -> str:
    """'医科' / '歯科' / '調剤' / '訪問看護' from the 点数表番号 of a valid facility code."""
    return SCORE_TABLE_KINDS[code[2]]


def is_pharmacy(code: str) -> bool:
    return code[2] == "4"


def prefecture_of_payer(payer_number: str) -> str:
    return payer_number[2:4]


def individual_number_check_digit(body: str) -> int:
    """検証番号 of a 個人番号 (行政手続における特定の個人を識別するための番号の利用等に関する法律施行令 /
    総務省令): for the 11-digit body, P(n) is the n-th digit from the right (n = 1…11) and
    Q(n) = n + 1 for 1 ≤ n ≤ 6, n − 5 for 7 ≤ n ≤ 11; remainder = Σ P(n)·Q(n) mod 11;
    check digit = 0 when the remainder is 0 or 1, else 11 − remainder."""
    total = 0
    for n, ch in enumerate(reversed(body), start=1):
        total += int(ch) * (n + 1 if n <= 6 else n - 5)
    r = total % 11
    return 0 if r <= 1 else 11 - r


def check_individual_number(value: str, field: str = "individual_number") -> FieldProblem | None:
    """個人番号 (12 digits with its 検証番号). The messages never repeat the number."""
    ja, en = "個人番号", "Individual number (個人番号)"
    p = _digits(field, ja, en, value, 12)
    if p:
        return p
    if int(value[-1]) != individual_number_check_digit(value[:-1]):
        return FieldProblem(
            field, "check_digit", f"{ja}の検証番号が正しくありません。", f"{en} has a wrong check digit."
        )
    return None


def with_individual_check_digit(body: str) -> str:
    return body + str(individual_number_check_digit(body))
