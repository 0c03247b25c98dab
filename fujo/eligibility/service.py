"""Eligibility checks (資格確認) — by My Number card and by the numbers of a ticket or insurance
card. One path for every adapter (HTTP, CLI, terminal, web): they all call these functions.

A check reads in one short transaction (a few indexed lookups), decides with the pure core, and
records the check in ``check_log`` in its own short write.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, Required, TypedDict, Unpack

from sqlalchemy import Connection

from ..audit.service import check_row, record_check
from ..audit.writer import LogRow, writer_for
from ..auth.principal import FACILITY, Principal
from ..cards.ca import CardAuthority
from ..cards.reader import LIMIT_CONSENT, SPECIFIC_DISEASES_CONSENT, consent_bits, consent_from_bits
from ..cards.service import verify_proof
from ..core import codes, notices, numbers
from ..core.dates import month_of, now_jst, parse_date, wire_date, wire_time
from ..core.eligibility import (
    NOT_DESIGNATED,
    NOT_REGISTERED,
    AssistanceDecision,
    Hidden,
    active_on,
    apply_hidden,
    assistance_result,
    consent_fields,
    decide_assistance,
    decide_insurance,
    insurance_result,
    overall_validity,
)
from ..core.errors import FieldProblem, FujoError, Problems, ValidationFailed
from ..core.rows import Contact, WireDict
from ..db.database import Database, DbRow
from ..facility.service import AssistanceDisabled, require_assistance
from . import queries as Q

# A card check at a facility whose 「医療扶助」 is 利用しない that finds medical assistance says so, and
# nothing more (issue 8): the desk learns to switch the setting, not the person's data.
ASSISTANCE_HIDDEN = "医療扶助の資格があります。環境設定で「医療扶助」を「利用する」にすると表示されます。"


def _envelope(principal: Principal, on: dt.date, ref_class: str, results: list[WireDict], now: dt.datetime) -> WireDict:
    return {
        "ProcessExecutionTime": wire_time(now),
        "QualificationConfirmationDate": wire_date(on),
        "ReferenceClassification": ref_class,
        "MedicalInstitutionCode": principal.code,
        "QualificationValidity": overall_validity([x["QualificationValidity"] for x in results]),
        "ResultList": results,
    }


def public_reason(reason: str) -> str:
    """What the facility is told: whether another facility holds this month's ticket is none of a
    non-designated facility's business (it would reveal treatment elsewhere), so 'not designated'
    and 'not yet registered' are both 'unregistered' — as the seed's one 未委託 screen says. The
    check log keeps the precise reason for the welfare office."""
    return "unregistered" if reason in (NOT_DESIGNATED, NOT_REGISTERED) else reason


def _pick_recipient(rows: Sequence[DbRow], on: dt.date) -> DbRow | None:
    """Of a person's recipient records (e.g. before and after a move to another office), the one
    that applies on ``on``: an active one if any, else the most recent."""
    if not rows:
        return None
    active = [x for x in rows if active_on(x.qualification_date, x.disqualification_date, on)]
    return max(active or rows, key=lambda x: x.qualification_date)


def _assistance(
    conn: Connection,
    principal: Principal,
    rec: DbRow,
    on: dt.date,
    newer: bool,
    tickets: Sequence[Any] | None = None,
) -> tuple[WireDict, AssistanceDecision, Contact]:
    """The A1 result for a recipient row read ``IN_CONTEXT`` (with office and 照会番号); its tickets
    of the month are read unless given (read with it, :data:`Q.RECIPIENT_WITH_TICKETS`)."""
    if tickets is None:
        tickets = conn.execute(Q.TICKETS_OF_MONTH, {"rid": rec.id, "month": month_of(on)}).all()
    decision = decide_assistance(rec, tickets, principal.code, on, newer)
    office_name = rec.office_name or ""
    result = assistance_result(rec, office_name, decision, principal.code, rec.reference_number)
    contact: Contact = {"OfficeName": office_name, "Phone": rec.office_phone}
    return result, decision, contact


def _newer_exists(conn: Connection, rec: DbRow, on: dt.date) -> bool:
    if rec.person_id is None:
        return False
    return any(
        x.id != rec.id and active_on(x.qualification_date, x.disqualification_date, on)
        for x in conn.execute(Q.RECIPIENTS_OF_PERSON, {"pid": rec.person_id})
    )


def _confirmation_date(value: object, problems: Problems) -> dt.date | None:
    """The day of the check (today when not given); None with a problem added."""
    if value in (None, ""):
        return now_jst().date()
    d, p = parse_date(value, "confirmation_date", "資格確認日")
    problems.add(p)
    return d


class NumbersQuery(TypedDict, total=False):
    """What identifies a qualification in a check by numbers (keyword arguments of the checks)."""

    insurer_number: Required[str | None]  # 公費負担者番号 (法別12) or 保険者番号
    identification_number: Required[str | None]  # 受給者番号 or 被保険者証の番号
    birthdate: str | dt.date | None  # required by the check itself (None is refused, field named)
    confirmation_date: str | dt.date | None
    card_symbol: str | None
    branch_number: str | None
    limit_application_consent: bool


CHECK_TIMEOUT = 10.0  # seconds an HTTP check waits for its reads before answering 503


class CheckTimeout(FujoError):
    status = 503
    code = "timeout"
    retry_after = 5  # seconds: a client (a receipt computer) retries rather than giving up


def check_by_numbers(db: Database, principal: Principal, **query: Unpack[NumbersQuery]) -> WireDict:
    """Check by numbers (see :func:`prepare_numbers_check`), recorded before the answer returns."""
    out, row = prepare_numbers_check(db, principal, **query)
    out["CheckId"] = writer_for(db).record(row)
    return out


async def check_by_numbers_async(db: Database, principal: Principal, **query: Unpack[NumbersQuery]) -> WireDict:
    """The same for the HTTP hot path: the reads run in a worker thread (never on the event loop,
    and bounded by :data:`CHECK_TIMEOUT`), and while the check's record commits (group commit) the
    loop serves other requests instead of parking a thread."""
    try:
        out, row = await asyncio.wait_for(
            asyncio.to_thread(prepare_numbers_check, db, principal, **query), CHECK_TIMEOUT
        )
    except TimeoutError:
        raise CheckTimeout(
            "資格確認サーバーの応答が遅れています。しばらくしてから再度確認してください。",
            "The check did not finish in time; try again shortly.",
        ) from None
    out["CheckId"] = await record_or_503(db, row)
    return out


AUDIT_TIMEOUT = 10.0  # seconds an HTTP check waits for its record to commit before answering 503


async def record_or_503(db: Database, row: LogRow) -> int:
    """The check's audit record, committed; a database that does not commit in time gets a 503 (no
    answer leaves unrecorded — the record may still commit later, for an answer never sent)."""
    try:
        # shield: the writer still owns the record's future (cancelling it would fail the batch)
        return await asyncio.wait_for(asyncio.shield(writer_for(db).record_async(row)), AUDIT_TIMEOUT)
    except TimeoutError:
        raise CheckTimeout(
            "記録が間に合わなかったため、回答できません。しばらくしてから再度確認してください。",
            "The check could not be recorded in time; try again shortly.",
        ) from None


# --- many checks by numbers in one call (a receipt computer's month-start re-check) -------------
BATCH_MAX = 1000  # items per batch: one group commit of the audit writer (audit/writer.py MAX_BATCH)
BATCH_TIMEOUT = 120.0  # seconds the HTTP answer waits for a batch's reads and audit records


class BatchTimeout(CheckTimeout):
    """A batch that did not finish in time (its checks already made stay logged)."""


def require_batch(principal: Principal, count: int) -> None:
    """Refuse a batch before any item is read: facility role, at most :data:`BATCH_MAX` items."""
    principal.require(FACILITY)
    if count > BATCH_MAX:
        raise ValidationFailed(
            problems=[
                FieldProblem(
                    "items",
                    "too_many_items",
                    f"一度に照会できるのは{BATCH_MAX:,}件までです（{count:,}件）。分けて照会してください。",
                    f"At most {BATCH_MAX:,} items per batch ({count:,} given): split the batch.",
                )
            ]
        )


def check_numbers_batch(db: Database, principal: Principal, items: Sequence[Mapping[str, Any]]) -> WireDict:
    """Check every item exactly as :func:`prepare_numbers_check` checks one (the same decision, the
    same answer), in request order. An item is a dict of its keyword arguments plus an optional
    ``arbitrary_identifier`` (echoed), or ``{"error": FujoError}`` for an item the adapter could not
    read. A refused item (field problems, 「医療扶助」 利用しない) gets ``Error`` and writes nothing, as a
    refused single check; the others go on. Every check is in ``check_log`` (group commit: all rows
    queued at once, written in one or two transactions) before this returns."""
    require_batch(principal, len(items))
    answers: list[WireDict] = []
    checked: list[tuple[WireDict, LogRow]] = []
    for i, item in enumerate(items):
        ans: WireDict = {"Index": i}
        kw = dict(item)
        if kw.get("arbitrary_identifier") is not None:
            ans["ArbitraryIdentifier"] = kw["arbitrary_identifier"]
        kw.pop("arbitrary_identifier", None)
        if isinstance(kw.get("error"), FujoError):
            ans["Error"] = kw["error"].as_dict()
        else:
            kw.setdefault("insurer_number", None)
            kw.setdefault("identification_number", None)
            try:
                out, row = prepare_numbers_check(db, principal, **kw)
            except (ValidationFailed, AssistanceDisabled) as e:
                ans["Error"] = e.as_dict()
            else:
                row["detail"] = "batch"
                ans["Check"] = out
                checked.append((out, row))
        answers.append(ans)
    writer = writer_for(db)
    futures = [writer.submit(row) for _, row in checked]
    for (out, _), fut in zip(checked, futures):
        out["CheckId"] = fut.result(timeout=BATCH_TIMEOUT)
    return {
        "ProcessExecutionTime": wire_time(db.now()),
        "MedicalInstitutionCode": principal.code,
        "NumberOfProcessingResult": len(answers),
        "NumberOfNormalProcessing": len(checked),
        "NumberOfError": len(answers) - len(checked),
        "Results": answers,
    }


async def check_numbers_batch_async(
    db: Database, principal: Principal, items: Sequence[Mapping[str, Any]], timeout: float | None = None
) -> WireDict:
    """The batch off the event loop: its reads and audit writes run in a worker thread, and the
    answer waits at most ``timeout`` seconds (then 503; checks already made stay recorded)."""
    try:
        return await asyncio.wait_for(
            asyncio.to_thread(check_numbers_batch, db, principal, items), BATCH_TIMEOUT if timeout is None else timeout
        )
    except TimeoutError:
        raise BatchTimeout(
            "一括照会が時間内に終わりませんでした。件数を減らして再度照会してください。",
            "The batch did not finish in time; send fewer items.",
        ) from None


def prepare_numbers_check(
    db: Database,
    principal: Principal,
    *,
    insurer_number: str | None,
    identification_number: str | None,
    birthdate: str | dt.date | None = None,
    confirmation_date: str | dt.date | None = None,
    card_symbol: str | None = None,
    branch_number: str | None = None,
    limit_application_consent: bool = False,
) -> tuple[WireDict, LogRow]:
    """Check by the numbers on a paper 医療券/調剤券, a prescription or an insurance card; returns
    the answer and the check_log row that must be recorded before the answer is given.

    ``insurer_number`` is a 公費負担者番号 (法別 12) for medical assistance, otherwise a 保険者番号.
    A birth date that does not match makes the answer 該当資格なし, revealing nothing.
    ``limit_application_consent`` (QualificationConfirmSearchInfo/LimitApplicationCertificateRelatedConsFlg 1)
    adds the 限度額適用認定証 block; the 特定疾病療養受療証 needs the consent given at a card reader.
    """
    principal.require(FACILITY)
    problems = Problems()
    ins, assistance = numbers.check_qualification_numbers(
        insurer_number, identification_number, problems, payer_field="payer_number", recipient_field="recipient_number"
    )
    if not assistance and (not identification_number or len(identification_number) > 40):
        problems.add(
            FieldProblem(
                "identification_number",
                "required",
                "被保険者番号を入力してください。",
                "identification_number is required.",
            )
        )
    # The birth date is required (as in the national interface): without it, numbers alone would
    # let anyone enumerate who receives public assistance.
    bd, p = parse_date(birthdate, "birthdate", "生年月日", required=True)
    problems.add(p)
    on = _confirmation_date(confirmation_date, problems)
    problems.raise_if_any()
    assert on is not None  # else its problem was raised
    if assistance:
        require_assistance(principal)
    now = db.now()
    contact: Contact | None = None
    rec: DbRow | None = None
    qual: DbRow | None = None
    results: list[WireDict] = []
    decision_reason = None
    multiple = False
    # one statement reads the recipient, its office, this facility's 照会番号 and the month's tickets
    # (one round trip on PostgreSQL); the rare answers that need more read again
    with db.read_statements() as conn:
        if assistance:
            params = {
                "payer": ins,
                "rn": identification_number,
                "fid": principal.organisation_id,
                "month": month_of(on),
            }
            rec, tickets = Q.split_tickets(conn.execute(Q.RECIPIENT_WITH_TICKETS, params).all())
            if rec is not None and rec.birthdate != bd:
                rec = None
            if rec is None:
                results = []
                # Not found, yet the 公費負担者番号 is an office's: name that office, whom to call.
                office = conn.execute(Q.OFFICE_OF_PAYER, {"payer": ins}).first()
                if office is not None:
                    contact = {"OfficeName": office.name, "Phone": office.phone}
            else:
                newer = not active_on(rec.qualification_date, rec.disqualification_date, on) and _newer_exists(
                    conn, rec, on
                )
                res, decision, contact = _assistance(conn, principal, rec, on, newer, tickets)
                decision_reason = decision.reason
                results = [res]
        else:
            rows = conn.execute(Q.INSURANCE_BY_NUMBERS, {"ins": ins, "num": identification_number}).all()
            rows = [
                x
                for x in rows
                if (card_symbol in (None, "") or x.card_symbol == card_symbol)
                and (branch_number in (None, "") or x.branch_number == branch_number)
                and x.birthdate == bd
            ]
            results = []
            if len({x.person_id or ("q", x.id) for x in rows}) > 1:
                multiple = True  # 複数該当: several people match; reveal none of them (give the 枝番)
            elif rows:
                qual = rows[0]
                ref = _ref(conn, principal, qual.person_id)
                limit_at = now if limit_application_consent else None
                results = [
                    insurance_result(x, v, ref, limit_consent_at=limit_at) for x, v in decide_insurance(rows, on)
                ]
    out = _envelope(principal, on, codes.REFERENCE_NUMBERS, results, now)
    if multiple:
        out["QualificationValidity"] = codes.MULTIPLE
    if contact and out["QualificationValidity"] != codes.VALID:
        out["Contact"] = contact
    if decision_reason:
        out["Reason"] = public_reason(decision_reason)
    notices.annotate(out)
    return out, check_row(
        db,
        principal,
        "numbers",
        out["QualificationValidity"],
        person_id=(rec.person_id if rec else qual.person_id if qual else None),
        recipient_id=rec.id if rec else None,
        reason=decision_reason,
        consent=consent_bits({LIMIT_CONSENT: True}) if qual and limit_application_consent else None,
        at=now,
    )


def _ref(conn: Connection, principal: Principal, person_id: int | None) -> str | None:
    if person_id is None:
        return None
    ref: str | None = conn.execute(Q.REFERENCE, {"fid": principal.organisation_id, "pid": person_id}).scalar()
    return ref


def check_by_card(
    db: Database,
    ca: CardAuthority,
    principal: Principal,
    *,
    challenge: str,
    certificate: str,
    signature: str,
    consent: str,
    confirmation_date: str | dt.date | None = None,
) -> WireDict:
    """Check by My Number card: verify the card proof, then return every qualification of the
    holder (医療保険 and, if the facility uses it, 医療扶助) with the consent given at the reader."""
    principal.require(FACILITY)
    problems = Problems()
    on = _confirmation_date(confirmation_date, problems)
    problems.raise_if_any()
    assert on is not None  # else its problem was raised
    person_id = verify_proof(
        db, ca, principal, challenge=challenge, certificate=certificate, signature=signature, consent=consent
    )
    now = db.now()
    contact: Contact | None = None
    reason: str | None = None
    rec: DbRow | None = None
    hidden = restricted = False
    given = consent_from_bits(consent)
    limit_at = now if given[LIMIT_CONSENT] else None
    specific_at = now if given[SPECIFIC_DISEASES_CONSENT] else None
    with db.read() as conn:
        ref = _ref(conn, principal, person_id)
        results = [
            insurance_result(x, v, ref, limit_at, specific_at)
            for x, v in decide_insurance(conn.execute(Q.INSURANCE_OF_PERSON, {"pid": person_id}).all(), on)
        ]
        if principal.medical_assistance_enabled:
            recs = conn.execute(
                Q.RECIPIENTS_OF_PERSON_IN_CONTEXT, {"pid": person_id, "fid": principal.organisation_id}
            ).all()
            restricted = any(getattr(x, "restricted", False) for x in recs)
            rec = _pick_recipient(recs, on)
            if rec is not None:
                res, decision, contact = _assistance(conn, principal, rec, on, False)
                reason = decision.reason
                results.append(res)
        else:  # 「医療扶助」 off: say that there is one (without any of its data), so the desk knows to switch
            recs = conn.execute(Q.RECIPIENTS_OF_PERSON, {"pid": person_id}).all()
            restricted = any(getattr(x, "restricted", False) for x in recs)
            hidden = any(active_on(x.qualification_date, x.disqualification_date, on) for x in recs)
    if restricted:  # 閲覧制限: no address in any result of this person (the A1 result applied it already)
        for res in results:
            apply_hidden(res, Hidden(address=True))
    cons = consent_fields(given, now)
    for res in results:
        res.update(cons)
    out = _envelope(principal, on, codes.REFERENCE_CARD, results, now)
    if contact and rec is not None and results[-1]["QualificationValidity"] != codes.VALID:
        out["Contact"] = contact
    if reason:
        out["Reason"] = public_reason(reason)
    notices.annotate(out)
    if hidden:
        out["MedicalAssistanceNotice"] = ASSISTANCE_HIDDEN
        if "ProcessingResultCode" not in out:  # so the レセコン reads it in the file too
            out["ProcessingResultCode"], out["ProcessingResultMessage"] = "FJ0101", ASSISTANCE_HIDDEN
    out["CheckId"] = record_check(
        db,
        principal,
        "card",
        out["QualificationValidity"],
        person_id=person_id,
        recipient_id=rec.id if rec else None,
        reason=reason,
        consent=consent,
        at=now,
    )
    return out
