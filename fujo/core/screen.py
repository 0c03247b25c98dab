"""The front-desk result screen of the seed (通常パターン / 未委託のパターン) as label–value pairs.

Pure: the CLI prints these lines, the web templates lay the same pairs out; so both screens show
exactly the seed's items in the seed's order, with 和暦 dates and "-" for withheld values.
"""
from __future__ import annotations

import datetime as dt

from . import codes
from .era import wareki_date, wareki_month

HEADLINES = {
    codes.VALID: "○：この資格は有効です。",
    codes.VALID_UNREGISTERED: "○：この資格は有効です。（医療券/調剤券情報が未登録です。）",
    codes.INVALID: "×：この資格は無効です。",
    codes.INVALID_NEWER: "×：この資格は無効です。（新しい資格があります。）",
    codes.NO_QUALIFICATION: "×：該当する資格がありません。",
    codes.MULTIPLE: "△：複数の資格が該当します。",
}


def _d(s: str | None) -> str:
    return wareki_date(dt.date(int(s[:4]), int(s[4:6]), int(s[6:8]))) if s else "-"


def _m(s: str | None) -> str:
    return wareki_month(int(s[:4]), int(s[4:6])) if s else "-"


def assistance_screen(result: dict) -> tuple[str, list[tuple[str, str]]]:
    """Headline and items for one A1 result."""
    v = result.get("QualificationValidity", codes.NO_QUALIFICATION)
    tickets = (result.get("PublicExpenseResultList") or {}).get("MedicalTicketInfo") or [{}]
    items = [
        ("照会番号", result.get("ReferenceNumber") or "-"),
        ("公費負担者番号", result.get("InsurerNumber") or "-"),
        ("福祉事務所名", result.get("InsurerName") or "-"),
        ("受給者番号", result.get("InsuredIdentificationNumber") or "-"),
        ("氏名", result.get("Name") or "-"),
        ("性別", codes.SEX.get(result.get("Sex1"), "-")),
        ("生年月日", _d(result.get("Birthdate"))),
    ]
    for t in tickets:
        items += [
            ("医療券/調剤券別", codes.TICKET_TYPES.get(t.get("TicketType"), "-")),
            ("診療年月", _m(t.get("MedicalTreatmentMonth"))),
            ("指定医療機関名", t.get("DesignatedMedicalInstitutionName") or "-"),
            ("単独/併用別", codes.SINGLE_OR_COMBINED.get(t.get("SingleOrCombinedUse"), "-")),
            ("有効開始年月日", _d(t.get("MedicalTicketValidDate"))),
            ("有効終了年月日", _d(t.get("MedicalTicketExpirationDate"))),
            ("傷病名1", t.get("InjuryName1") or "-"),
            ("傷病名2", t.get("InjuryName2") or "-"),
            ("傷病名3", t.get("InjuryName3") or "-"),
        ]
    if result.get("DisqualificationDate"):
        items.append(("保護停止・廃止日", _d(result["DisqualificationDate"])))
    return HEADLINES.get(v, HEADLINES[codes.NO_QUALIFICATION]), items


def insurance_screen(result: dict) -> tuple[str, list[tuple[str, str]]]:
    v = result.get("QualificationValidity", codes.NO_QUALIFICATION)
    items = [
        ("照会番号", result.get("ReferenceNumber") or "-"),
        ("保険者番号", (result.get("InsurerNumber") or "-").strip()),
        ("保険者名", result.get("InsurerName") or "-"),
        ("記号", result.get("InsuredCardSymbol") or "-"),
        ("番号", result.get("InsuredIdentificationNumber") or "-"),
        ("枝番", result.get("InsuredBranchNumber") or "-"),
        ("氏名", result.get("Name") or "-"),
        ("性別", codes.SEX.get(result.get("Sex1"), "-")),
        ("生年月日", _d(result.get("Birthdate"))),
        ("資格取得日", _d(result.get("QualificationDate"))),
    ]
    return HEADLINES.get(v, HEADLINES[codes.NO_QUALIFICATION]), items


def advice(check: dict) -> str | None:
    """What the front desk must do when the answer is not a plain 'valid': call the office."""
    c = check.get("Contact")
    # The A1 result's own validity decides: with 併用 the body says 1 because the insurance is valid,
    # yet the medical-assistance part may still be 未委託.
    a1 = [r for r in check.get("ResultList") or [] if r.get("InsuredCardClassification") == codes.CARD_CLASS_MEDICAL_ASSISTANCE]
    v = a1[0].get("QualificationValidity") if a1 else check.get("QualificationValidity")
    if v == codes.VALID or not c:
        return None
    tel = f"（電話 {c['Phone']}）" if c.get("Phone") else ""
    return f"{c['OfficeName']}{tel}に医療扶助の利用可否を電話等で確認してください。"


def render_text(check: dict) -> str:
    """The whole check as the terminal screen text (one block per qualification)."""
    lines: list[str] = []
    results = check.get("ResultList") or []
    if not results:
        lines.append(HEADLINES[codes.NO_QUALIFICATION])
    for r in results:
        if r.get("InsuredCardClassification") == codes.CARD_CLASS_MEDICAL_ASSISTANCE:
            head, items = assistance_screen(r)
            lines.append("【医療扶助】")
        else:
            head, items = insurance_screen(r)
            lines.append("【医療保険】")
        lines.append(head)
        lines += [f"{k}：{v}" for k, v in items]
        lines.append("")
    a = advice(check)
    if a:
        lines.append(a)
    return "\n".join(lines).rstrip() + "\n"
