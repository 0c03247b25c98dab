"""The front-desk result screen of the seed (通常パターン / 未委託のパターン) as label–value pairs.

Pure: the CLI prints these lines, the web templates lay the same pairs out; so both screens show
exactly the seed's items in the seed's order, with 和暦 dates and "-" for withheld values.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from . import codes, numbers
from .era import wareki_date, wareki_month
from .notices import call_office
from .rows import WireDict

HEADLINES = {
    codes.VALID: "○：この資格は有効です。",
    codes.VALID_UNREGISTERED: "○：この資格は有効です。（医療券/調剤券情報が未登録です。）",
    codes.INVALID: "×：この資格は無効です。",
    codes.INVALID_NEWER: "×：この資格は無効です。（新しい資格があります。）",
    codes.NO_QUALIFICATION: "×：該当する資格がありません。",
    codes.MULTIPLE: "△：複数の資格が該当します。",
}


def date_ja(s: str | None) -> str:
    """A wire date (yyyyMMdd) in 和暦 as the screens show it; '-' when there is none."""
    return wareki_date(dt.date(int(s[:4]), int(s[4:6]), int(s[6:8]))) if s else "-"


def _label(table: Mapping[str, str], code: object, default: str = "-") -> str:
    """The text of a code value of the result; ``default`` for none or an unknown one."""
    return table.get(code, default) if isinstance(code, str) else default


def _m(s: str | None) -> str:
    return wareki_month(int(s[:4]), int(s[4:6])) if s else "-"


def assistance_screen(result: WireDict) -> tuple[str, list[tuple[str, str]]]:
    """Headline and items for one A1 result."""
    v = result.get("QualificationValidity", codes.NO_QUALIFICATION)
    tickets = (result.get("PublicExpenseResultList") or {}).get("MedicalTicketInfo") or [{}]
    items = [
        ("照会番号", result.get("ReferenceNumber") or "-"),
        ("公費負担者番号", result.get("InsurerNumber") or "-"),
        ("福祉事務所名", result.get("InsurerName") or "-"),
        ("受給者番号", result.get("InsuredIdentificationNumber") or "-"),
        ("氏名", result.get("Name") or "-"),
        ("性別", _label(codes.SEX, result.get("Sex1"))),
        ("生年月日", date_ja(result.get("Birthdate"))),
    ]
    for t in tickets:
        items += [
            ("医療券/調剤券別", _label(codes.TICKET_TYPES, t.get("TicketType"))),
            ("診療年月", _m(t.get("MedicalTreatmentMonth"))),
            ("指定医療機関名", t.get("DesignatedMedicalInstitutionName") or "-"),
            ("単独/併用別", _label(codes.SINGLE_OR_COMBINED, t.get("SingleOrCombinedUse"))),
            ("有効開始年月日", date_ja(t.get("MedicalTicketValidDate"))),
            ("有効終了年月日", date_ja(t.get("MedicalTicketExpirationDate"))),
            ("傷病名1", t.get("InjuryName1") or "-"),
            ("傷病名2", t.get("InjuryName2") or "-"),
            ("傷病名3", t.get("InjuryName3") or "-"),
        ]
    if result.get("DisqualificationDate"):
        items.append(("保護停止・廃止日", date_ja(result["DisqualificationDate"])))
    return HEADLINES.get(v, HEADLINES[codes.NO_QUALIFICATION]), items


def _period(start: str | None, end: str | None) -> str:
    return f"{date_ja(start)}〜{date_ja(end) if end else ''}"


def _certificates(result: WireDict) -> list[tuple[str, str]]:
    """The 高齢受給者証, 限度額適用認定証 and 特定疾病療養受療証 lines, for what the result carries."""
    out = []
    e = result.get("ElderlyRecipientCertificateInfo") or {}
    if e:
        ratio = _label(codes.CONTRIBUTION_RATIOS, e.get("ElderlyRecipientContributionRatio"))
        period = _period(e.get("ElderlyRecipientValidStartDate"), e.get("ElderlyRecipientValidEndDate"))
        out.append(("高齢受給者証", f"{ratio}（{period}）"))
    lim = result.get("LimitApplicationCertificateRelatedInfo") or {}
    if lim:
        kind = _label(codes.LIMIT_CERTIFICATE_CLASSES, lim.get("LimitApplicationCertificateClassification"))
        bracket = _label(codes.LIMIT_CERTIFICATE_BRACKETS, lim.get("LimitApplicationCertificateClassificationFlag"), "")
        period = _period(
            lim.get("LimitApplicationCertificateValidStartDate"), lim.get("LimitApplicationCertificateValidEndDate")
        )
        out.append(("限度額適用認定証", f"{kind}{f' 適用区分{bracket}' if bracket else ''}（{period}）"))
    for sd in (result.get("SpecificDiseasesCertificateList") or {}).get("SpecificDiseasesCertificateInfo") or []:
        disease = _label(codes.SPECIFIC_DISEASES, sd.get("SpecificDiseasesDiseaseCategory"))
        pay = sd.get("SpecificDiseasesSelfPay")
        period = _period(sd.get("SpecificDiseasesValidStartDate"), sd.get("SpecificDiseasesValidEndDate"))
        out.append(("特定疾病療養受療証", f"{disease}{f' 自己負担限度額{int(pay):,}円' if pay else ''}（{period}）"))
    return out


def insurance_screen(result: WireDict) -> tuple[str, list[tuple[str, str]]]:
    v = result.get("QualificationValidity", codes.NO_QUALIFICATION)
    # The kind of insurance follows from the 保険者番号 (法別番号), never from 被保険者証区分 (kind of card).
    kind = numbers.insurer_kind(result.get("InsurerNumber") or "")
    items = [
        ("照会番号", result.get("ReferenceNumber") or "-"),
        ("保険者番号", (result.get("InsurerNumber") or "-").strip()),
        ("保険者名", result.get("InsurerName") or "-"),
        ("保険の種類", kind.name_ja if kind else "-"),
        ("被保険者証区分", _label(codes.INSURED_CARD_CLASSES, result.get("InsuredCardClassification"))),
        ("記号", result.get("InsuredCardSymbol") or "-"),
        ("番号", result.get("InsuredIdentificationNumber") or "-"),
        ("枝番", result.get("InsuredBranchNumber") or "-"),
        ("氏名", result.get("Name") or "-"),
        ("性別", _label(codes.SEX, result.get("Sex1"))),
        ("生年月日", date_ja(result.get("Birthdate"))),
        ("資格取得日", date_ja(result.get("QualificationDate"))),
        ("一部負担金割合", _label(codes.CONTRIBUTION_RATIOS, result.get("InsuredPartialContributionRatio"))),
    ]
    return HEADLINES.get(v, HEADLINES[codes.NO_QUALIFICATION]), items + _certificates(result)


def advice(check: WireDict) -> str | None:
    """What the front desk must do when the answer is not a plain 'valid': call the office."""
    c = check.get("Contact")
    # The A1 result's own validity decides: with 併用 the body says 1 because the insurance is valid,
    # yet the medical-assistance part may still be 未委託.
    a1 = [
        r
        for r in check.get("ResultList") or []
        if r.get("InsuredCardClassification") == codes.CARD_CLASS_MEDICAL_ASSISTANCE
    ]
    v = a1[0].get("QualificationValidity") if a1 else check.get("QualificationValidity")
    if v == codes.VALID or not c:
        return None
    return call_office(c)


def render_text(check: WireDict) -> str:
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
    if check.get("MedicalAssistanceNotice"):  # 「医療扶助」 is 利用しない at this facility
        lines.append(check["MedicalAssistanceNotice"])
    return "\n".join(lines).rstrip() + "\n"
