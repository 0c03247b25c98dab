"""Eligibility checks (資格確認) — by My Number card and by the numbers of a ticket or insurance
card. One path for every adapter (HTTP, CLI, terminal, web): they all call these functions.

A check reads in one short transaction (a few indexed lookups), decides with the pure core, and
records the check in ``check_log`` in its own short write.
"""
from __future__ import annotations

import datetime as dt

from ..auth.principal import FACILITY, Principal
from ..cards.ca import CardAuthority
from ..cards.reader import consent_from_bits
from ..cards.service import verify_proof
from ..core import codes, numbers
from ..core.dates import month_of, now_jst, parse_date, wire_date, wire_time
from ..core.eligibility import (NOT_DESIGNATED, NOT_REGISTERED, active_on, assistance_result, consent_fields, decide_assistance, decide_insurance,
                                insurance_result, overall_validity)
from ..core.errors import FieldProblem, Forbidden, Problems
from ..audit.service import check_row, record_check
from ..audit.writer import writer_for
from ..db.database import Database
from . import queries as Q


class AssistanceDisabled(Forbidden):
    code = "medical_assistance_disabled"


def _disabled() -> AssistanceDisabled:
    return AssistanceDisabled("この医療機関・薬局は「医療扶助」を「利用しない」設定です。環境設定で「利用する」に変更してください。",
                              "Medical assistance is switched off for this facility (setting 医療扶助: 利用しない).")


def _envelope(principal: Principal, on: dt.date, ref_class: str, results: list[dict], now: dt.datetime) -> dict:
    return {"ProcessExecutionTime": wire_time(now), "QualificationConfirmationDate": wire_date(on),
            "ReferenceClassification": ref_class, "MedicalInstitutionCode": principal.code,
            "QualificationValidity": overall_validity([x["QualificationValidity"] for x in results]),
            "ResultList": results}


def public_reason(reason: str) -> str:
    """What the facility is told: whether another facility holds this month's ticket is none of a
    non-designated facility's business (it would reveal treatment elsewhere), so 'not designated'
    and 'not yet registered' are both 'unregistered' — as the seed's one 未委託 screen says. The
    check log keeps the precise reason for the welfare office."""
    return "unregistered" if reason in (NOT_DESIGNATED, NOT_REGISTERED) else reason


def _pick_recipient(rows, on: dt.date):
    """Of a person's recipient records (e.g. before and after a move to another office), the one
    that applies on ``on``: an active one if any, else the most recent."""
    if not rows:
        return None
    active = [x for x in rows if active_on(x.qualification_date, x.disqualification_date, on)]
    return max(active or rows, key=lambda x: x.qualification_date)


def _assistance(conn, principal: Principal, rec, on: dt.date, newer: bool):
    """The A1 result for a recipient row read ``IN_CONTEXT`` (with office and 照会番号)."""
    tickets = conn.execute(Q.TICKETS_OF_MONTH, {"rid": rec.id, "month": month_of(on)}).all()
    decision = decide_assistance(rec, tickets, principal.code, on, newer)
    office_name = rec.office_name or ""
    result = assistance_result(rec, office_name, decision, principal.code, rec.reference_number)
    contact = {"OfficeName": office_name, "Phone": rec.office_phone}
    return result, decision, contact


def _newer_exists(conn, rec, on: dt.date) -> bool:
    if rec.person_id is None:
        return False
    return any(x.id != rec.id and active_on(x.qualification_date, x.disqualification_date, on)
               for x in conn.execute(Q.RECIPIENTS_OF_PERSON, {"pid": rec.person_id}))


def _confirmation_date(value, problems: Problems) -> dt.date:
    if value in (None, ""):
        return now_jst().date()
    d, p = parse_date(value, "confirmation_date", "資格確認日")
    problems.add(p)
    return d


def check_by_numbers(db: Database, principal: Principal, *args, **kwargs) -> dict:
    """Check by numbers (see :func:`prepare_numbers_check`), recorded before the answer returns."""
    out, row = prepare_numbers_check(db, principal, *args, **kwargs)
    out["CheckId"] = writer_for(db).record(row)
    return out


async def check_by_numbers_async(db: Database, principal: Principal, *args, **kwargs) -> dict:
    """The same for the HTTP hot path: while the check's record commits (group commit), the event
    loop serves other requests instead of parking a thread."""
    out, row = prepare_numbers_check(db, principal, *args, **kwargs)
    out["CheckId"] = await writer_for(db).record_async(row)
    return out


def prepare_numbers_check(db: Database, principal: Principal, insurer_number: str, identification_number: str,
                          birthdate=None, confirmation_date=None, card_symbol: str | None = None,
                          branch_number: str | None = None) -> tuple[dict, dict]:
    """Check by the numbers on a paper 医療券/調剤券, a prescription or an insurance card; returns
    the answer and the check_log row that must be recorded before the answer is given.

    ``insurer_number`` is a 公費負担者番号 (法別 12) for medical assistance, otherwise a 保険者番号.
    A birth date that does not match makes the answer 該当資格なし, revealing nothing.
    """
    principal.require(FACILITY)
    problems = Problems()
    ins = numbers.normalize_insurer_number(insurer_number or "")
    assistance = ins.startswith(numbers.LAW_CODE_PUBLIC_ASSISTANCE) and len(ins) == 8
    if assistance:
        problems.add(numbers.check_payer_number(ins, field="payer_number"))
        problems.add(numbers.check_recipient_number(identification_number or "", field="recipient_number"))
    else:
        problems.add(numbers.check_insurer_number(ins, field="insurer_number"))
        if not identification_number or len(identification_number) > 40:
            problems.add(FieldProblem("identification_number", "required", "被保険者番号を入力してください。",
                                      "identification_number is required."))
    # The birth date is required (as in the national interface): without it, numbers alone would
    # let anyone enumerate who receives public assistance.
    bd, p = parse_date(birthdate, "birthdate", "生年月日", required=True)
    problems.add(p)
    on = _confirmation_date(confirmation_date, problems)
    problems.raise_if_any()
    if assistance and not principal.medical_assistance_enabled:
        raise _disabled()
    now = db.now()
    contact = None
    rec = qual = None
    decision_reason = None
    multiple = False
    with db.read() as conn:
        if assistance:
            rec = conn.execute(Q.RECIPIENT_IN_CONTEXT, {"payer": ins, "rn": identification_number,
                                                        "fid": principal.organisation_id}).first()
            if rec is not None and rec.birthdate != bd:
                rec = None
            if rec is None:
                results = []
            else:
                newer = (not active_on(rec.qualification_date, rec.disqualification_date, on)
                         and _newer_exists(conn, rec, on))
                res, decision, contact = _assistance(conn, principal, rec, on, newer)
                decision_reason = decision.reason
                results = [res]
        else:
            rows = conn.execute(Q.INSURANCE_BY_NUMBERS, {"ins": ins, "num": identification_number}).all()
            rows = [x for x in rows if (card_symbol in (None, "") or x.card_symbol == card_symbol)
                    and (branch_number in (None, "") or x.branch_number == branch_number)
                    and x.birthdate == bd]
            results = []
            if len({x.person_id or ("q", x.id) for x in rows}) > 1:
                multiple = True  # 複数該当: several people match; reveal none of them (give the 枝番)
            elif rows:
                qual = rows[0]
                ref = _ref(conn, principal, qual.person_id)
                results = [insurance_result(x, v, ref) for x, v in decide_insurance(rows, on)]
    out = _envelope(principal, on, codes.REFERENCE_NUMBERS, results, now)
    if multiple:
        out["QualificationValidity"] = codes.MULTIPLE
    if contact and out["QualificationValidity"] != codes.VALID:
        out["Contact"] = contact
    if decision_reason:
        out["Reason"] = public_reason(decision_reason)
    return out, check_row(db, principal, "numbers", out["QualificationValidity"],
                          person_id=(rec.person_id if rec else qual.person_id if qual else None),
                          recipient_id=rec.id if rec else None, reason=decision_reason, at=now)


def _ref(conn, principal: Principal, person_id) -> str | None:
    if person_id is None:
        return None
    return conn.execute(Q.REFERENCE, {"fid": principal.organisation_id, "pid": person_id}).scalar()


def check_by_card(db: Database, ca: CardAuthority, principal: Principal, challenge: str, certificate: str,
                  signature: str, consent: str, confirmation_date=None) -> dict:
    """Check by My Number card: verify the card proof, then return every qualification of the
    holder (医療保険 and, if the facility uses it, 医療扶助) with the consent given at the reader."""
    principal.require(FACILITY)
    problems = Problems()
    on = _confirmation_date(confirmation_date, problems)
    problems.raise_if_any()
    person_id = verify_proof(db, ca, principal, challenge, certificate, signature, consent)
    now = db.now()
    contact = reason = None
    rec = None
    with db.read() as conn:
        ref = _ref(conn, principal, person_id)
        results = [insurance_result(x, v, ref)
                   for x, v in decide_insurance(conn.execute(Q.INSURANCE_OF_PERSON, {"pid": person_id}).all(), on)]
        if principal.medical_assistance_enabled:
            rec = _pick_recipient(conn.execute(Q.RECIPIENTS_OF_PERSON_IN_CONTEXT,
                                               {"pid": person_id, "fid": principal.organisation_id}).all(), on)
            if rec is not None:
                res, decision, contact = _assistance(conn, principal, rec, on, False)
                reason = decision.reason
                results.append(res)
    cons = consent_fields(consent_from_bits(consent), now)
    for res in results:
        res.update(cons)
    out = _envelope(principal, on, codes.REFERENCE_CARD, results, now)
    if contact and rec is not None and results[-1]["QualificationValidity"] != codes.VALID:
        out["Contact"] = contact
    if reason:
        out["Reason"] = public_reason(reason)
    out["CheckId"] = record_check(db, principal, "card", out["QualificationValidity"], person_id=person_id,
                                  recipient_id=rec.id if rec else None, reason=reason, consent=consent, at=now)
    return out
