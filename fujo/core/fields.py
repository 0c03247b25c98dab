"""Field specifications shared by every entry point.

A record (recipient 被保護者, ticket 医療券/調剤券, insurance qualification 医療保険資格) is described
once here: storage column, wire element name of the terminal interface, Japanese label, kind and
whether it is required. The HTTP API, CSV import, web forms and XML writer all validate and
translate with these tables, so there is one set of rules.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass

import jaconv

from . import codes, dates, numbers, ticket_rules
from .era import ERAS
from .errors import FieldProblem, Problems
from .rows import Record


@dataclass(frozen=True)
class Field:
    name: str  # storage column and JSON key of registry APIs
    wire: str | None  # element name in the terminal XML (None: not on the wire)
    label_ja: str
    kind: str  # payer|recipient|insurer|facility|date|month|text|kana|post|code|amount|digits
    required: bool = False
    max_len: int = 100
    table: Mapping[str, str] | None = None  # allowed code values for kind 'code'


_f = Field


RECIPIENT_FIELDS = (
    _f("payer_number", "InsurerNumber", "公費負担者番号", "payer", True),
    _f("recipient_number", "InsuredIdentificationNumber", "受給者番号", "recipient", True),
    _f("name", "Name", "氏名", "text", True, 60),
    _f("name_kana", "NameKana", "氏名カナ", "kana", True, 60),
    _f("sex", "Sex1", "性別", "code", True, table=codes.SEX),
    _f("birthdate", "Birthdate", "生年月日", "date", True),
    _f("address", "Address", "住所", "text", False, 200),
    _f("post_number", "PostNumber", "郵便番号", "post", False),
    _f("qualification_date", "QualificationDate", "保護開始・再開日", "date", True),
    _f("disqualification_date", "DisqualificationDate", "保護停止・廃止日", "date", False),
    # 保護停止・廃止: 停止 or 廃止 and the office's reason (not the insurance ReasonOfLoss table); fujo extras
    # DisqualificationKind / DisqualificationReason in JSON results, not written to the terminal's XML.
    _f("disqualification_kind", None, "停止・廃止の別", "code", False, table=codes.DISQUALIFICATION_KINDS),
    _f("disqualification_reason", None, "停止・廃止の理由", "text", False, 200),
)

TICKET_FIELDS = (
    _f("ticket_type", "TicketType", "医療券/調剤券別", "code", True, table=codes.TICKET_TYPES),
    _f("treatment_month", "MedicalTreatmentMonth", "診療年月", "month", True),
    _f("valid_from", "MedicalTicketValidDate", "有効開始年月日", "date", True),
    _f("valid_to", "MedicalTicketExpirationDate", "有効終了年月日", "date", True),
    _f("issue_number", "IssueNumber", "交付番号", "digits", False, 20),
    _f("designated_facility_code", "DesignatedMedicalInstitutionCode", "指定医療機関コード", "facility", True),
    # taken from the facility registry by the service (never typed); a value sent is ignored
    _f("designated_facility_name", "DesignatedMedicalInstitutionName", "指定医療機関名", "text", False, 80),
    _f("prescription_issuer_code", "PrescriptionIssuerMedicalInstitutionCode", "処方箋発行医療機関コード", "facility"),
    _f(
        "prescription_issuer_name",
        "PrescriptionIssuerMedicalInstitutionName",
        "処方箋発行医療機関名",
        "text",
        False,
        80,
    ),
    _f("injury_name1", "InjuryName1", "傷病名1", "text", False, 80),
    _f("injury_name2", "InjuryName2", "傷病名2", "text", False, 80),
    _f("injury_name3", "InjuryName3", "傷病名3", "text", False, 80),
    _f("treatment_type", "MedicalTreatmentType", "診療別", "code", True, table=codes.TREATMENT_TYPES),
    _f("self_pay_amount", "SelfPayAmount", "本人支払額", "amount"),
    _f("district_contact_name", "DistrictContactName", "地区担当員名", "text", False, 40),
    _f("handling_contact_name", "HandlingContactName", "取扱担当者名", "text", False, 40),
    _f("single_or_combined", "SingleOrCombinedUse", "単独/併用別", "code", True, table=codes.SINGLE_OR_COMBINED),
    _f("social_insurance", "StatusOfSocialInsurance", "社会保険の有無", "code", False, table=codes.PRESENCE),
    _f(
        "consistency_flag",
        "ConsistencyFlag",
        "不整合フラグ",
        "code",
        False,
        table={"0": "不整合なし", "1": "不整合あり"},
    ),
    _f("infection_status", "StatusOfInfecton", "感染症の有無", "code", False, table=codes.PRESENCE),
    _f(
        "elderly_care_status", "StatusOfElderlyMedicalCare", "後期高齢者医療の有無", "code", False, table=codes.PRESENCE
    ),
    _f(
        "prefectural_expense_status",
        "StatusOfPrefecturalExpenses",
        "都道府県費の有無",
        "code",
        False,
        table=codes.PRESENCE,
    ),
    _f("remarks1", "Remarks1", "備考1", "text", False, 200),
    _f("remarks2", "Remarks2", "備考2", "text", False, 200),
    _f("remarks3", "Remarks3", "備考3", "text", False, 200),
)

INSURANCE_FIELDS = (
    _f("insurer_number", "InsurerNumber", "保険者番号", "insurer", True),
    _f("insurer_name", "InsurerName", "保険者名", "text", True, 80),
    _f(
        "insured_card_classification",
        "InsuredCardClassification",
        "被保険者証区分",
        "code",
        True,
        table={k: v for k, v in codes.INSURED_CARD_CLASSES.items() if k != "A1"},
    ),
    _f("card_symbol", "InsuredCardSymbol", "記号", "text", False, 40),
    _f("card_number", "InsuredIdentificationNumber", "番号", "text", True, 40),
    _f("branch_number", "InsuredBranchNumber", "枝番", "digits", False, 2),
    _f("personal_family", "PersonalFamilyClassification", "本人・家族の別", "code", False, table=codes.PERSONAL_FAMILY),
    _f("name", "Name", "氏名", "text", True, 60),
    _f("name_kana", "NameKana", "氏名カナ", "kana", True, 60),
    _f("sex", "Sex1", "性別", "code", True, table=codes.SEX),
    _f("birthdate", "Birthdate", "生年月日", "date", True),
    _f("address", "Address", "住所", "text", False, 200),
    _f("post_number", "PostNumber", "郵便番号", "post", False),
    _f("qualification_date", "QualificationDate", "資格取得日", "date", True),
    _f("disqualification_date", "DisqualificationDate", "資格喪失日", "date", False),
    # What clinics import from an insurance result (issue 7); InsuredCardValidDate falls back to
    # the 資格取得日 in results when not registered (see eligibility.insurance_result).
    _f("insured_name", "InsuredName", "被保険者氏名（世帯主氏名）", "text", False, 60),
    _f("name_of_other", "NameOfOther", "氏名（その他）", "text", False, 60),
    _f("name_of_other_kana", "NameOfOtherKana", "氏名カナ（その他）", "kana", False, 60),
    _f("card_issuance_date", "InsuredCertificateIssuanceDate", "被保険者証交付年月日", "date"),
    _f("card_valid_from", "InsuredCardValidDate", "被保険者証有効開始年月日", "date"),
    _f("card_valid_to", "InsuredCardExpirationDate", "被保険者証有効終了年月日", "date"),
    _f(
        "contribution_ratio",
        "InsuredPartialContributionRatio",
        "一部負担金割合",
        "code",
        table=codes.CONTRIBUTION_RATIOS,
    ),
    _f("preschool", "PreschoolClassification", "未就学区分", "code", table=codes.PRESCHOOL),
    # 高齢受給者証 (ElderlyRecipientCertificateInfo)
    _f("elderly_certificate_date", "ElderlyRecipientCertificateDate", "高齢受給者証交付年月日", "date"),
    _f("elderly_valid_from", "ElderlyRecipientValidStartDate", "高齢受給者証有効開始年月日", "date"),
    _f("elderly_valid_to", "ElderlyRecipientValidEndDate", "高齢受給者証有効終了年月日", "date"),
    _f(
        "elderly_contribution_ratio",
        "ElderlyRecipientContributionRatio",
        "高齢受給者証一部負担金割合",
        "code",
        table=codes.CONTRIBUTION_RATIOS,
    ),
    # 限度額適用認定証 (LimitApplicationCertificateRelatedInfo): answered only with the patient's consent
    _f(
        "limit_classification",
        "LimitApplicationCertificateClassification",
        "限度額適用認定証区分",
        "code",
        table=codes.LIMIT_CERTIFICATE_CLASSES,
    ),
    _f(
        "limit_bracket",
        "LimitApplicationCertificateClassificationFlag",
        "限度額適用認定証適用区分",
        "code",
        table=codes.LIMIT_CERTIFICATE_BRACKETS,
    ),
    _f("limit_certificate_date", "LimitApplicationCertificateDate", "限度額適用認定証交付年月日", "date"),
    _f("limit_valid_from", "LimitApplicationCertificateValidStartDate", "限度額適用認定証有効開始年月日", "date"),
    _f("limit_valid_to", "LimitApplicationCertificateValidEndDate", "限度額適用認定証有効終了年月日", "date"),
    _f("limit_long_term_date", "LimitApplicationCertificateLongTermDate", "限度額適用認定証長期入院該当年月日", "date"),
    # 特定疾病療養受療証 (SpecificDiseasesCertificateInfo; one per qualification): only with consent
    _f(
        "specific_disease_category",
        "SpecificDiseasesDiseaseCategory",
        "特定疾病療養受療証認定疾病区分",
        "code",
        table=codes.SPECIFIC_DISEASES,
    ),
    _f("specific_disease_certificate_date", "SpecificDiseasesCertificateDate", "特定疾病療養受療証交付年月日", "date"),
    _f("specific_disease_valid_from", "SpecificDiseasesValidStartDate", "特定疾病療養受療証有効開始年月日", "date"),
    _f("specific_disease_valid_to", "SpecificDiseasesValidEndDate", "特定疾病療養受療証有効終了年月日", "date"),
    _f("specific_disease_self_pay", "SpecificDiseasesSelfPay", "特定疾病療養受療証自己負担限度額", "amount"),
)


def _block(prefix: str) -> tuple[str, ...]:
    """The fields of one certificate's block, as the table above lists them (one prefix each)."""
    return tuple(f.name for f in INSURANCE_FIELDS if f.name.startswith(prefix))


# The nested blocks of an insurance result: the fields written inside each.
ELDERLY_BLOCK = _block("elderly_")  # ElderlyRecipientCertificateInfo
LIMIT_BLOCK = _block("limit_")  # LimitApplicationCertificateRelatedInfo
SPECIFIC_DISEASE_BLOCK = _block("specific_disease_")  # SpecificDiseasesCertificateInfo

_HALF_KANA_OK = set(" ｰ･ﾞﾟ")


def normalize_kana(value: str) -> str:
    """Half-width kana as the wire wants it (jaconv turns full-width katakana/hiragana into it)."""
    v = jaconv.hira2kata(value.strip())
    v = jaconv.z2h(v, kana=True, ascii=False, digit=False).replace("\u3000", " ")
    return v


def _is_half_kana(s: str) -> bool:
    return all(("\uff66" <= c <= "\uff9f") or c in _HALF_KANA_OK for c in s)


def _noncharacter(c: str) -> bool:
    """U+FDD0–FDEF and U+xxFFFE/FFFF: not text, and not allowed in XML (the terminal's files)."""
    o = ord(c)
    return 0xFDD0 <= o <= 0xFDEF or (o & 0xFFFE) == 0xFFFE


def clean_value(f: Field, raw: object) -> tuple[object, FieldProblem | None]:
    """Validate and normalise one value; returns (clean value, problem)."""
    if isinstance(raw, str):
        raw = raw.strip()
    if raw is None or raw == "":
        if f.required:
            return None, FieldProblem(f.name, "required", f"{f.label_ja}を入力してください。", f"{f.name} is required.")
        return None, None
    k = f.kind
    if k in ("payer", "recipient", "insurer", "facility"):
        s = str(raw)
        chk = {
            "payer": numbers.check_payer_number,
            "recipient": numbers.check_recipient_number,
            "insurer": numbers.check_insurer_number,
            "facility": numbers.check_facility_code,
        }[k]
        p = chk(s, field=f.name)
        return (numbers.normalize_insurer_number(s) if k == "insurer" else s), p
    if k == "date":
        return dates.parse_date(raw, f.name, f.label_ja)
    if k == "month":
        ym, p = dates.parse_month(raw, f.name, f.label_ja)
        return (dates.month_key(*ym) if ym else None), p
    s = str(raw)
    if k == "code":
        assert f.table is not None, f"code field {f.name} without a table"
        if s not in f.table:
            allowed = "、".join(f"{c}（{t}）" for c, t in f.table.items())
            return None, FieldProblem(
                f.name,
                "code",
                f"{f.label_ja}は{allowed}のいずれかです（入力は「{s}」）。",
                f"{f.name} must be one of {', '.join(f.table)} (got '{s}').",
            )
        return s, None
    if k == "amount":
        if not s.isascii() or not s.isdigit() or len(s) > 9:
            return None, FieldProblem(
                f.name,
                "amount",
                f"{f.label_ja}は0以上の整数（円）で入力してください。",
                f"{f.name} must be a whole number of yen, 0 or more.",
            )
        return int(s), None
    if k == "digits":
        if not s.isascii() or not s.isdigit() or len(s) > f.max_len:
            return None, FieldProblem(
                f.name,
                "digits",
                f"{f.label_ja}は{f.max_len}桁以内の半角数字です。",
                f"{f.name} must be at most {f.max_len} digits.",
            )
        return s, None
    if k == "post":
        d = s.replace("-", "")
        if len(d) != 7 or not d.isascii() or not d.isdigit():
            return None, FieldProblem(
                f.name,
                "post_number",
                f"{f.label_ja}は7桁（例 123-4567）です。",
                f"{f.name} must be 7 digits, e.g. 123-4567.",
            )
        return f"{d[:3]}-{d[3:]}", None
    s = unicodedata.normalize("NFC", s)
    if any(unicodedata.category(c) in ("Cc", "Cs") or _noncharacter(c) for c in s):
        return None, FieldProblem(
            f.name,
            "control_char",
            f"{f.label_ja}に制御文字は使えません。",
            f"{f.name} must not contain control characters.",
        )
    if k == "kana":
        s = normalize_kana(s)
        if not _is_half_kana(s):
            return None, FieldProblem(
                f.name, "kana", f"{f.label_ja}はカタカナで入力してください。", f"{f.name} must be katakana."
            )
    if len(s) > f.max_len:
        return None, FieldProblem(
            f.name,
            "too_long",
            f"{f.label_ja}は{f.max_len}文字以内です（入力は{len(s)}文字）。",
            f"{f.name} must be at most {f.max_len} characters (got {len(s)}).",
        )
    return s, None


def refuse_unknown(data: Iterable[str], known: Container[str], problems: Problems) -> None:
    """Keys of ``data`` that are not ``known`` are problems, so a typo in a column name is an error
    rather than data silently dropped."""
    for key in data:
        if key not in known:
            problems.add(
                FieldProblem(key, "unknown_field", f"「{key}」という項目はありません。", f"Unknown field '{key}'.")
            )


def clean_record(fields: Iterable[Field], data: Record, problems: Problems, partial: bool = False) -> Record:
    """Validate a record against its field table. Unknown keys are refused too (:func:`refuse_unknown`)."""
    refuse_unknown(data, {f.name for f in fields}, problems)
    out = {}
    for f in fields:
        if partial and f.name not in data:
            continue
        v, p = clean_value(f, data.get(f.name))
        problems.add(p)
        out[f.name] = v
    return out


def check_ticket_rules(t: Record, problems: Problems) -> None:
    """Rules across fields of a 医療券/調剤券 (run after each field is clean)."""
    vf, vt, month = t.get("valid_from"), t.get("valid_to"), t.get("treatment_month")
    if vf and vt and vf > vt:
        problems.add(
            FieldProblem(
                "valid_to",
                "before_start",
                "有効終了年月日が有効開始年月日より前です。",
                "valid_to is before valid_from.",
            )
        )
    if month and vf and dates.month_of(vf) != month:
        problems.add(
            FieldProblem(
                "valid_from",
                "outside_month",
                "有効開始年月日が診療年月の月内にありません。",
                "valid_from is not in the treatment month.",
            )
        )
    if month and vt and dates.month_of(vt) != month:
        problems.add(
            FieldProblem(
                "valid_to",
                "outside_month",
                "有効終了年月日が診療年月の月内にありません。",
                "valid_to is not in the treatment month.",
            )
        )
    ttype, treat = t.get("ticket_type"), t.get("treatment_type")
    if ttype and treat and (ttype == "02") != (treat == "04"):
        problems.add(
            FieldProblem(
                "treatment_type",
                "type_mismatch",
                "調剤券の診療別は04（調剤）、医療券は04以外です。",
                "treatment_type 04 (dispensing) goes with ticket_type 02 only.",
            )
        )
    # 点数表 of the designated facility and 単独/併用 against 社会保険 (fujo.core.ticket_rules)
    ticket_rules.check_score_table(t, problems)
    ticket_rules.check_single_or_combined(t, problems)


def check_period(rec: Record, problems: Problems) -> None:
    q, d = rec.get("qualification_date"), rec.get("disqualification_date")
    if q and d and d < q:
        problems.add(
            FieldProblem(
                "disqualification_date",
                "before_start",
                "停止・廃止日（喪失日）が開始日（取得日）より前です。",
                "disqualification_date is before qualification_date.",
            )
        )
    b = rec.get("birthdate")
    if b and (b > dates.today_jst() or b < ERAS[-1][0]):  # 和暦 must be able to show it
        problems.add(
            FieldProblem("birthdate", "out_of_range", "生年月日が正しくありません。", "birthdate is out of range.")
        )
    if b and q and q < b:
        problems.add(
            FieldProblem(
                "qualification_date",
                "before_birth",
                "開始日（取得日）が生年月日より前です。",
                "qualification_date is before birthdate.",
            )
        )


def age_on(birthdate: dt.date, on: dt.date) -> int:
    """Age in whole years on ``on`` (counted from the birthday itself)."""
    return on.year - birthdate.year - ((on.month, on.day) < (birthdate.month, birthdate.day))


def preschool_end(birthdate: dt.date) -> dt.date:
    """Last day of 未就学: the first 31 March on or after the day the child reaches 6 (in law, the
    day before the 6th birthday)."""
    if birthdate.year > dt.MAXYEAR - 7:  # a birth date check_period refuses anyway: never crash on it
        return dt.date.max
    try:
        sixth = birthdate.replace(year=birthdate.year + 6)
    except ValueError:  # 29 February
        sixth = dt.date(birthdate.year + 6, 3, 1)
    reached = sixth - dt.timedelta(days=1)
    end = dt.date(reached.year, 3, 31)
    return end if reached <= end else dt.date(reached.year + 1, 3, 31)


# Which InsuredCardClassification goes with which 法別番号 (the kind of card follows the insurance):
# 退職 cards only in 退職者医療 (67), 特例退職 only in 特定健保組合/特定共済 (63, 72–75), 自衛官診療証 only 07.
_CARD_LAW_CODES = {"02": {"67"}, "04": {"67"}, "06": {"63", "72", "73", "74", "75"}, "07": {"07"}}

_BLOCKS = (
    ("高齢受給者証", ELDERLY_BLOCK, ("elderly_valid_from", "elderly_contribution_ratio")),
    ("限度額適用認定証", LIMIT_BLOCK, ("limit_classification", "limit_valid_from")),
    ("特定疾病療養受療証", SPECIFIC_DISEASE_BLOCK, ("specific_disease_category", "specific_disease_valid_from")),
)
_PERIODS = (
    ("card_valid_from", "card_valid_to", "被保険者証"),
    ("elderly_valid_from", "elderly_valid_to", "高齢受給者証"),
    ("limit_valid_from", "limit_valid_to", "限度額適用認定証"),
    ("specific_disease_valid_from", "specific_disease_valid_to", "特定疾病療養受療証"),
)
_LABEL = {f.name: f.label_ja for f in INSURANCE_FIELDS}


def _problem(problems: Problems, field: str, code: str, ja: str, en: str) -> None:
    problems.add(FieldProblem(field, code, ja, en))


def check_insurance_rules(rec: Record, problems: Problems) -> None:
    """Rules across fields of a health-insurance qualification (run after each field is clean)."""
    for start, end, what in _PERIODS:
        if rec.get(start) and rec.get(end) and rec[end] < rec[start]:
            _problem(
                problems,
                end,
                "before_start",
                f"{what}の有効終了年月日が有効開始年月日より前です。",
                f"{end} is before {start}.",
            )
    for what, block, needed in _BLOCKS:  # a certificate is given whole or not at all
        if any(rec.get(n) not in (None, "") for n in block):
            for n in needed:
                if rec.get(n) in (None, ""):
                    _problem(
                        problems,
                        n,
                        "required",
                        f"{what}を登録するときは{_LABEL[n]}も入力してください。",
                        f"{n} is required when any {what} field is given.",
                    )
    kind = numbers.insurer_kind(rec.get("insurer_number") or "")
    card = rec.get("insured_card_classification")
    if kind and card in _CARD_LAW_CODES and kind.law_code not in _CARD_LAW_CODES[card]:
        _problem(
            problems,
            "insured_card_classification",
            "card_mismatch",
            f"被保険者証区分{card}（{codes.INSURED_CARD_CLASSES[card]}）はこの保険者番号（{kind.name_ja}）では使えません。",
            f"Card class {card} does not go with this insurer number ({kind.law_code or '6-digit'}).",
        )
    late_elderly = kind is not None and kind.system == numbers.LATE_ELDERLY
    if late_elderly and not rec.get("contribution_ratio"):
        # Clinic software needs the ratio to bill a 後期高齢 patient (1割・2割・3割).
        _problem(
            problems,
            "contribution_ratio",
            "required",
            "後期高齢者医療の資格には一部負担金割合を入力してください。",
            "contribution_ratio is required for 後期高齢者医療 (law code 39).",
        )
    b = rec.get("birthdate")
    es = rec.get("elderly_valid_from")
    if es and late_elderly:
        _problem(
            problems,
            "elderly_valid_from",
            "not_for_late_elderly",
            "後期高齢者医療の被保険者には高齢受給者証はありません（負担割合は一部負担金割合に入力します）。",
            "No 高齢受給者証 in 後期高齢者医療: give contribution_ratio instead.",
        )
    elif es and b and not 70 <= age_on(b, es) <= 74:
        _problem(
            problems,
            "elderly_valid_from",
            "age",
            "高齢受給者証は有効開始日に70歳以上74歳以下の人のものです。",
            "A 高齢受給者証 is for people aged 70 to 74 on its valid start date.",
        )
    ls, bracket = rec.get("limit_valid_from"), rec.get("limit_bracket")
    if ls and b and bracket and (bracket[0] == "A") != (age_on(b, ls) < 70):
        _problem(
            problems,
            "limit_bracket",
            "age",
            "適用区分A01〜A06は70歳未満、B01〜B10は70歳以上の区分です（有効開始日の年齢）。",
            "Brackets A01-A06 are for under 70, B01-B10 for 70 and over (age on limit_valid_from).",
        )
    if rec.get("limit_long_term_date") and rec.get("limit_classification") == "01":
        # 長期入院該当 matters for the 標準負担額減額 (住民税非課税世帯 meals), not for a plain 限度額適用認定証.
        _problem(
            problems,
            "limit_long_term_date",
            "not_reduction",
            "長期入院該当年月日は限度額適用・標準負担額減額認定証（02）または標準負担額減額認定証（03）のものです。",
            "limit_long_term_date goes with limit_classification 02 or 03 only.",
        )
    card_start = rec.get("card_valid_from") or rec.get("qualification_date")
    if rec.get("preschool") == "1" and b and card_start and card_start > preschool_end(b):
        _problem(
            problems,
            "preschool",
            "age",
            "未就学区分は6歳に達する日以後の最初の3月31日までの子どものものです。",
            "preschool 1 is only for a child before the first 31 March after reaching 6.",
        )
