"""The rules that keep the registry from accepting a 医療券/調剤券 that leads to a wrong bill.

One rule set for every entry point (HTTP API, CSV import, web form): the services read what the
rules need (the recipient's 保護 period, the facility registry's entry, the tickets already
registered) and these pure functions decide. Each problem names the field and the reason in
Japanese and English; the caller writes nothing when there is one.

- 点数表 fit: 調剤券 only for 調剤 (4); 医療券 for 医科 (1), 歯科 (3) or 訪問看護ステーション (6);
  診療別 03 歯科 exactly on a 歯科 code; 診療別 05 訪問看護 exactly on a 訪問看護ステーション code.
- 単独 with 社会保険あり, or 併用 with 社会保険なし, contradict each other.
- The ticket lies inside the recipient's 保護 period (from 保護開始 up to, not including, 停止・廃止日).
- Designated facility (and a prescription's issuer) must be in the facility registry; the 指定医療機関名
  is the registry's.
- No second active ticket with the same 交付番号 (within a 公費負担者番号 and 診療年月), nor for the same
  recipient, month, facility and ticket type: an amendment goes through amend, which keeps history.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from . import codes
from .dates import month_bounds
from .era import wareki_date, wareki_month
from .errors import FieldProblem, Problems
from .rows import Named, Period, Record, TicketKey

DISPENSING, MEDICAL = "02", "01"
DENTAL_TREATMENT, VISITING_NURSING = "03", "05"
SCORE_MEDICAL, SCORE_DENTAL, SCORE_PHARMACY, SCORE_VISITING_NURSE = "1", "3", "4", "6"


def check_score_table(t: Record, problems: Problems) -> None:
    """The designated facility's 点数表 (third digit of its code) against ticket type and 診療別."""
    code, ttype, treat = t.get("designated_facility_code"), t.get("ticket_type"), t.get("treatment_type")
    if not code or len(code) != 10:
        return
    table = code[2]
    f = "designated_facility_code"
    if ttype == DISPENSING and table != SCORE_PHARMACY:
        problems.add(
            FieldProblem(
                f,
                "not_pharmacy",
                "調剤券の指定医療機関は薬局（点数表番号4）でなければなりません。",
                "A dispensing ticket must designate a pharmacy (score-table digit 4).",
            )
        )
    if ttype == MEDICAL and table == SCORE_PHARMACY:
        problems.add(
            FieldProblem(
                f,
                "pharmacy_on_medical_ticket",
                "医療券の指定医療機関に薬局は指定できません。",
                "A medical ticket cannot designate a pharmacy.",
            )
        )
    if ttype != MEDICAL or not treat:
        return
    if treat == DENTAL_TREATMENT and table != SCORE_DENTAL:
        problems.add(
            FieldProblem(
                f,
                "dental_needs_dental_code",
                "診療別03（歯科）の医療券は歯科の医療機関コード（点数表番号3）を指定してください。",
                "treatment_type 03 (dental) needs a dental facility code (score-table digit 3).",
            )
        )
    elif table == SCORE_DENTAL and treat != DENTAL_TREATMENT:
        problems.add(
            FieldProblem(
                "treatment_type",
                "dental_code_needs_dental",
                "歯科の医療機関コード（点数表番号3）を指定した医療券の診療別は03（歯科）です。",
                "A dental facility code (score-table digit 3) goes with treatment_type 03 (dental).",
            )
        )
    if treat == VISITING_NURSING and table != SCORE_VISITING_NURSE:
        problems.add(
            FieldProblem(
                f,
                "visiting_nursing_needs_station",
                "診療別05（訪問看護）の医療券は訪問看護ステーションのコード（点数表番号6）を指定してください。",
                "treatment_type 05 (visiting nursing) needs a visiting-nursing station code (score-table digit 6).",
            )
        )
    elif table == SCORE_VISITING_NURSE and treat != VISITING_NURSING:
        problems.add(
            FieldProblem(
                "treatment_type",
                "station_needs_visiting_nursing",
                "訪問看護ステーションのコード（点数表番号6）を指定した医療券の診療別は05（訪問看護）です。",
                "A visiting-nursing station code (score-table digit 6) goes with treatment_type 05.",
            )
        )


def check_single_or_combined(t: Record, problems: Problems) -> None:
    """単独 (assistance only) cannot go with 社会保険あり, nor 併用 with 社会保険なし."""
    single, social = t.get("single_or_combined"), t.get("social_insurance")
    if single == "01" and social == "01":
        problems.add(
            FieldProblem(
                "single_or_combined",
                "single_with_insurance",
                "単独の医療券/調剤券に「社会保険あり」は指定できません（社会保険があれば併用です）。",
                "single_or_combined 01 (single) contradicts social_insurance 01 (insured).",
            )
        )
    if single == "02" and social == "02":
        problems.add(
            FieldProblem(
                "single_or_combined",
                "combined_without_insurance",
                "併用の医療券/調剤券に「社会保険なし」は指定できません（社会保険がなければ単独です）。",
                "single_or_combined 02 (combined) contradicts social_insurance 02 (not insured).",
            )
        )


def _end_word(recipient: Period) -> str:
    return codes.DISQUALIFICATION_KINDS.get(getattr(recipient, "disqualification_kind", None) or "", "停止・廃止")


def check_protection_period(t: Record, recipient: Period | None, problems: Problems) -> None:
    """The ticket's 診療年月 and validity inside the 保護 period of ``recipient`` (any object with
    qualification_date, disqualification_date and optionally disqualification_kind)."""
    month, vf, vt = t.get("treatment_month"), t.get("valid_from"), t.get("valid_to")
    if not month or recipient is None:
        return
    start, end = recipient.qualification_date, recipient.disqualification_date
    first, last = month_bounds(month)
    word = _end_word(recipient)
    if last < start:
        problems.add(
            FieldProblem(
                "treatment_month",
                "before_protection",
                f"診療年月（{wareki_month(first.year, first.month)}）は保護開始日（{wareki_date(start)}）より前です。",
                f"treatment_month {month} is before the start of assistance ({start.isoformat()}).",
            )
        )
        return
    if end is not None and first >= end:
        problems.add(
            FieldProblem(
                "treatment_month",
                "protection_ended",
                f"この受給者は診療年月（{wareki_month(first.year, first.month)}）の全期間、保護{word}中です"
                f"（{word}日 {wareki_date(end)}）。",
                f"The recipient's assistance ended on {end.isoformat()} ({word}), before treatment_month {month}.",
            )
        )
        return
    if vf and vf < start:
        problems.add(
            FieldProblem(
                "valid_from",
                "before_protection",
                f"有効開始年月日は保護開始日（{wareki_date(start)}）以降にしてください。",
                f"valid_from is before the start of assistance ({start.isoformat()}).",
            )
        )
    if vt and end is not None and vt >= end:
        problems.add(
            FieldProblem(
                "valid_to",
                "after_protection",
                f"有効終了年月日は保護{word}日（{wareki_date(end)}）の前日までにしてください。",
                f"valid_to must be before the day assistance ended ({end.isoformat()}, {word}).",
            )
        )


def check_registered_facilities(t: Record, designated: Named | None, issuer: Named | None, problems: Problems) -> None:
    """``designated`` / ``issuer``: the facility registry's rows for the two codes (None = not there)."""
    for field, label, en, row in (
        ("designated_facility_code", "医療機関コード", "Facility code", designated),
        ("prescription_issuer_code", "処方箋発行医療機関コード", "Prescription issuer code", issuer),
    ):
        code = t.get(field)
        if code and row is None:
            problems.add(
                FieldProblem(
                    field,
                    "not_registered",
                    f"{label}{code}は医療機関の登録簿にありません（運用管理者に登録を依頼してください）。",
                    f"{en} {code} is not in the facility registry.",
                )
            )
    pcode = t.get("prescription_issuer_code")
    if pcode and issuer is not None and pcode[2] not in (SCORE_MEDICAL, SCORE_DENTAL):
        problems.add(
            FieldProblem(
                "prescription_issuer_code",
                "not_prescriber",
                "処方箋発行医療機関は医科（点数表番号1）または歯科（点数表番号3）です。",
                "A prescription is issued by a medical (1) or dental (3) facility.",
            )
        )


def check_duplicates(
    t: Record,
    same_recipient_month: Iterable[TicketKey],
    same_issue_number: Iterable[TicketKey],
    own_key: str | None,
    problems: Problems,
) -> None:
    """``same_recipient_month``: the recipient's active tickets of the ticket's month;
    ``same_issue_number``: active tickets of the same 公費負担者番号 and month with its 交付番号.
    ``own_key``: the ticket being amended (its own current revision is no duplicate)."""
    for o in same_issue_number:
        if o.ticket_key != own_key and t.get("issue_number") and o.issue_number == t.get("issue_number"):
            problems.add(
                FieldProblem(
                    "issue_number",
                    "duplicate_issue_number",
                    f"交付番号{t['issue_number']}の医療券/調剤券はこの月に既に登録されています"
                    "（訂正は既存の券の変更で行ってください）。",
                    f"An active ticket with issue_number {t['issue_number']} already exists this month; "
                    "amend it instead.",
                )
            )
            break
    for o in same_recipient_month:
        if (
            o.ticket_key != own_key
            and o.designated_facility_code == t.get("designated_facility_code")
            and o.ticket_type == t.get("ticket_type")
            and o.treatment_month == t.get("treatment_month")
        ):
            kind = codes.TICKET_TYPES.get(t.get("ticket_type") or "", "券")
            problems.add(
                FieldProblem(
                    "designated_facility_code",
                    "duplicate_ticket",
                    f"この受給者の同じ月・同じ指定医療機関の{kind}は既に登録されています"
                    "（訂正は既存の券の変更で行ってください）。",
                    "An active ticket of this type for the same recipient, month and facility "
                    "already exists; amend it instead.",
                )
            )
            break


def check_against_registry(
    t: Record,
    recipient: Period | None,
    facilities: Mapping[str, Named],
    same_recipient_month: Iterable[TicketKey],
    same_issue_number: Iterable[TicketKey],
    own_key: str | None,
    problems: Problems,
) -> None:
    """Every rule that needs the registry, in one call for every entry point. ``facilities`` maps
    codes to registry rows (name …). On success the ticket's facility names are the registry's."""
    code, pcode = t.get("designated_facility_code"), t.get("prescription_issuer_code")
    designated = facilities.get(code) if code else None
    issuer = facilities.get(pcode) if pcode else None
    check_protection_period(t, recipient, problems)
    check_registered_facilities(t, designated, issuer, problems)
    check_duplicates(t, same_recipient_month, same_issue_number, own_key, problems)
    if designated is not None:
        t["designated_facility_name"] = designated.name
    if issuer is not None:
        t["prescription_issuer_name"] = issuer.name
