"""The numbers of the system and their check digits (検証番号).

- 公費負担者番号 payer number, 8 digits: 法別番号 2 (12 = 生活保護) + 都道府県番号 2 + 実施機関番号 3 + 検証番号 1
- 受給者番号 recipient number, 7 digits: 6 digits + 検証番号 1
- 保険者番号 insurer number, 8 digits (国保: 6 digits, sent left-padded with spaces to 8), last digit 検証番号
- 医療機関コード facility code, 10 digits: 都道府県 2 + 点数表 1 (1 医科, 3 歯科, 4 調剤) + 郡市区 2 + 番号 4 + 検証番号 1

Pure functions: no I/O. Each ``check_*`` returns ``None`` when the value is good or a
:class:`FieldProblem` naming what is wrong.
"""
from __future__ import annotations

from .errors import FieldProblem

LAW_CODE_PUBLIC_ASSISTANCE = "12"  # 法別番号 12 = 生活保護法による医療扶助
PREFECTURES = frozenset(f"{i:02d}" for i in range(1, 48))
SCORE_TABLE_KINDS = {"1": "医科", "3": "歯科", "4": "調剤"}


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
        return FieldProblem(field, "not_digits", f"{label_ja}は半角数字で入力してください。",
                            f"{label_en} must contain only the digits 0-9.")
    if len(value) != length:
        return FieldProblem(field, "length", f"{label_ja}は{length}桁です（入力は{len(value)}桁）。",
                            f"{label_en} must be {length} digits (got {len(value)}).")
    return None


def _check_digit_problem(field, label_ja, label_en, value) -> FieldProblem | None:
    expected = check_digit(value[:-1])
    if int(value[-1]) != expected:
        return FieldProblem(field, "check_digit",
                            f"{label_ja}の検証番号が正しくありません。",
                            f"{label_en} has a wrong check digit.")
    return None


def check_payer_number(value: str, field: str = "payer_number", law_code: str | None = LAW_CODE_PUBLIC_ASSISTANCE):
    """公費負担者番号. ``law_code`` is the required 法別番号 (12 for 生活保護)."""
    ja, en = "公費負担者番号", "Payer number (公費負担者番号)"
    p = _digits(field, ja, en, value, 8)
    if p:
        return p
    if law_code and value[:2] != law_code:
        return FieldProblem(field, "law_code", f"{ja}の法別番号は{law_code}（生活保護）でなければなりません（入力は{value[:2]}）。",
                            f"{en} must start with law code {law_code} (public assistance), got {value[:2]}.")
    if value[2:4] not in PREFECTURES:
        return FieldProblem(field, "prefecture", f"{ja}の都道府県番号{value[2:4]}は存在しません。",
                            f"{en} has no such prefecture number {value[2:4]}.")
    return _check_digit_problem(field, ja, en, value)


def check_recipient_number(value: str, field: str = "recipient_number"):
    """受給者番号 (7 digits with 検証番号)."""
    ja, en = "受給者番号", "Recipient number (受給者番号)"
    return _digits(field, ja, en, value, 7) or _check_digit_problem(field, ja, en, value)


def normalize_insurer_number(value: str) -> str:
    """保険者番号 without the padding: 国保 numbers travel as 6 digits padded with spaces to 8."""
    return (value or "").strip()


def check_insurer_number(value: str, field: str = "insurer_number"):
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


def check_facility_code(value: str, field: str = "facility_code"):
    """医療機関コード (10 digits)."""
    ja, en = "医療機関コード", "Facility code (医療機関コード)"
    p = _digits(field, ja, en, value, 10)
    if p:
        return p
    if value[:2] not in PREFECTURES:
        return FieldProblem(field, "prefecture", f"{ja}の都道府県番号{value[:2]}は存在しません。",
                            f"{en} has no such prefecture number {value[:2]}.")
    if value[2] not in SCORE_TABLE_KINDS:
        return FieldProblem(field, "score_table", f"{ja}の点数表番号は1（医科）・3（歯科）・4（調剤）のいずれかです。",
                            f"{en} score-table digit must be 1 (medical), 3 (dental) or 4 (pharmacy).")
    return _check_digit_problem(field, ja, en, value)


def facility_kind(code: str) -> str:
    """'医科' / '歯科' / '調剤' from the 点数表番号 of a valid facility code."""
    return SCORE_TABLE_KINDS[code[2]]


def is_pharmacy(code: str) -> bool:
    return code[2] == "4"


def prefecture_of_payer(payer_number: str) -> str:
    return payer_number[2:4]
