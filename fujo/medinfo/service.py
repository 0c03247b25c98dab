"""薬剤情報等 (issue 11): the records the welfare office feeds, what a facility's clinician may view
with the patient's consent, the duplicate-prescription hint, the viewing restriction and the
disaster mode. One path for every adapter (HTTP, screens, print, CLI).

Records are tied to the **recipient** the office registered — the office writes under its own
公費負担者番号, as for tickets, and may feed them before the card link — and are **served for the
person**: a facility sees the records of every recipient record of the card holder (before and
after a move to another office). The consent (a card check) is the person's.

Every view and every refusal is a ``check_log`` row (method ``medinfo``, with category and channel,
and ``flags='disaster'`` for the disaster mode), committed before the answer is returned.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select, update

from ..audit.service import check_row, record_change
from ..audit.writer import LogRow, writer_for
from ..auth.principal import ADMIN, FACILITY, WELFARE_OFFICE, Principal
from ..core import codes
from ..core import consent as C
from ..core import medinfo as rules
from ..core.dates import JST, parse_date, parse_moment, wire_time
from ..core.errors import Conflict, FieldProblem, FujoError, NotFound, Problems, ValidationFailed
from ..core.fields import Field, clean_value
from ..core.rows import Record
from ..db import schema as s
from ..db.database import Database, DbRow, aware
from . import fields as F
from . import queries as Q

CHANNELS = ("api", "web", "print", "cli", "fhir")
DISASTER = "disaster"


class MedinfoRefused(FujoError):
    """A view refused by the consent rule (or the role, or a restriction): says why."""

    status = 403
    code = "medinfo_refused"

    def __init__(self, decision: C.ConsentDecision, category: str) -> None:
        ja, en = C.refusal_message(decision, category)
        super().__init__(ja, en)
        self.reason = decision.public_reason
        self.flag = decision.flag
        self.available_until = decision.available_until if decision.reason == C.EXPIRED else None

    def as_dict(self) -> dict[str, Any]:
        """The API's one error shape (ErrorOut) with ``reason``; an expired consent's time is in the
        messages."""
        d = super().as_dict()
        d["reason"] = self.reason
        return d


class DisasterRefused(FujoError):
    status = 403
    code = "disaster_closed"


# --- audit ---------------------------------------------------------------------------------------


def _audit(
    db: Database,
    principal: Principal,
    *,
    outcome: str,
    reason: str | None,
    category: str,
    channel: str,
    person_id: int | None = None,
    recipient_id: int | None = None,
    flags: str | None = None,
    at: dt.datetime | None = None,
) -> int:
    """Record one view or refusal (method ``medinfo``, with its category, channel and flags), committed
    before this returns: the answer waits for it (group commit, fujo/audit/writer.py)."""
    row: LogRow = check_row(
        db,
        principal,
        "medinfo",
        outcome,
        person_id=person_id,
        recipient_id=recipient_id,
        reason=reason,
        category=category,
        channel=channel,
        flags=flags,
        at=at,
    )
    return writer_for(db).record(row)


def _category(category: str) -> None:
    if category not in C.CATEGORIES:
        raise ValidationFailed(problems=[F.unknown_category(category)])


def _channel(channel: str) -> str:
    return channel if channel in CHANNELS else "api"


# --- feeding (welfare office, administrator) ------------------------------------------------------


def _recipient_ids(conn: Connection, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
    r = s.recipients
    out: dict[tuple[str, str], int] = {}
    by_payer: dict[str, list[str]] = {}
    for p, n in keys:
        by_payer.setdefault(p, []).append(n)
    for payer, nums in by_payer.items():
        uniq = sorted(set(nums))
        for i in range(0, len(uniq), 500):
            for row in conn.execute(
                select(r.c.id, r.c.recipient_number).where(
                    r.c.payer_number == payer, r.c.recipient_number.in_(uniq[i : i + 500])
                )
            ):
                out[(payer, row.recipient_number)] = row.id
    return out


def require_feeder(principal: Principal) -> None:
    principal.require(WELFARE_OFFICE, ADMIN)


def clean_input(category: str, data: Record) -> Record:
    """A record sent by the API or a CSV row, validated (every problem named by its field)."""
    _category(category)
    problems = Problems()
    rec = F.clean_record(category, data, problems)
    problems.raise_if_any()
    return rec


def insert_records(
    conn: Connection, principal: Principal, category: str, rows: Sequence[tuple[int, int, Record]], now: dt.datetime
) -> None:
    """(line, recipient id, clean record) → rows of ``medinfo_records`` (executemany)."""
    if rows:
        conn.execute(
            s.medinfo_records.insert(),
            [
                F.to_columns(category, rec)
                | {"recipient_id": rid, "created_at": now, "created_by": principal.organisation_id or None}
                for _, rid, rec in rows
            ],
        )


def add_record(db: Database, principal: Principal, category: str, data: Record) -> Record:
    """One record for a recipient of the office's own 公費負担者番号 (or any, for the administrator)."""
    require_feeder(principal)
    rec = clean_input(category, data)
    principal.require_payer(rec["payer_number"])
    now = db.now()
    with db.write() as conn:
        ids = _recipient_ids(conn, [(rec["payer_number"], rec["recipient_number"])])
        rid = ids.get((rec["payer_number"], rec["recipient_number"]))
        if rid is None:
            raise NotFound(
                f"受給者{rec['payer_number']}/{rec['recipient_number']}が登録されていません。",
                f"No recipient {rec['payer_number']}/{rec['recipient_number']}.",
            )
        res = conn.execute(
            s.medinfo_records.insert().returning(s.medinfo_records.c.id),
            [
                F.to_columns(category, rec)
                | {"recipient_id": rid, "created_at": now, "created_by": principal.organisation_id or None}
            ],
        )
        new_id = res.scalar_one()
    out = {"id": new_id, "category": category, "payer_number": rec["payer_number"]}
    out["recipient_number"] = rec["recipient_number"]
    out.update({k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in rec.items() if k not in out})
    return out


def _audit_patient(
    db: Database,
    principal: Principal,
    patient: Patient,
    *,
    category: str,
    channel: str,
    at: dt.datetime,
    flags: str | None = None,
    outcome: str = "1",
    reason: str = C.GRANTED,
) -> int:
    """Record that ``patient``'s information of ``category`` was shown (the entry's id is the view's),
    or, with ``outcome`` "0" and the ``reason``, refused."""
    return _audit(
        db,
        principal,
        outcome=outcome,
        reason=reason,
        category=category,
        channel=channel,
        person_id=patient.person_id,
        recipient_id=patient.recipient_id,
        flags=flags,
        at=at,
    )


# --- who the patient is ---------------------------------------------------------------------------


@dataclass
class Patient:
    person_id: int | None
    recipients: Sequence[DbRow]

    @property
    def ids(self) -> list[int]:
        return [x.id for x in self.recipients]

    @property
    def restricted(self) -> bool:
        return any(bool(x.restricted) for x in self.recipients)

    @property
    def recipient_id(self) -> int | None:
        return self.recipients[0].id if self.recipients else None

    def summary(self) -> Record:
        """Who the records are about (the facility already knows the patient from the check)."""
        x = max(self.recipients, key=lambda r: r.qualification_date)
        return {"name": x.name, "name_kana": x.name_kana, "sex": x.sex, "birthdate": x.birthdate.isoformat()}


def _identify(
    conn: Connection,
    principal: Principal,
    check_id: int | None,
    payer_number: str | None,
    recipient_number: str | None,
) -> Patient | None:
    """The patient as the check answer identified them: by the CheckId of this facility's own check,
    or by 公費負担者番号 + 受給者番号."""
    if check_id is not None:
        cl = s.check_log
        row = conn.execute(
            select(cl.c.person_id, cl.c.recipient_id).where(
                cl.c.id == check_id,
                cl.c.organisation_id == principal.organisation_id,
                cl.c.method.in_(("card", "numbers")),
            )
        ).first()
        if row is None:
            return None
        recs = Q.recipients_of(conn, person_id=row.person_id, recipient_id=row.recipient_id)
        return Patient(row.person_id, recs) if recs else None
    r = s.recipients
    rec = conn.execute(
        select(r.c.id, r.c.person_id).where(r.c.payer_number == payer_number, r.c.recipient_number == recipient_number)
    ).first()
    if rec is None:
        return None
    recs = Q.recipients_of(conn, person_id=rec.person_id, recipient_id=rec.id)
    return Patient(rec.person_id, recs)


def _who_problems(check_id: int | None, payer_number: str | None, recipient_number: str | None) -> None:
    problems = Problems()
    if check_id is None:
        if not payer_number and not recipient_number:
            problems.add(
                FieldProblem(
                    "check_id",
                    "required",
                    "資格確認の照会ID（CheckId）、または公費負担者番号と受給者番号を指定してください。",
                    "Give check_id, or payer_number and recipient_number.",
                )
            )
        else:
            for name, label, kind, v in (
                ("payer_number", "公費負担者番号", "payer", payer_number),
                ("recipient_number", "受給者番号", "recipient", recipient_number),
            ):
                problems.add(clean_value(Field(name, None, label, kind, True), v)[1])
    problems.raise_if_any()


# --- viewing ---------------------------------------------------------------------------------------


def _record_out(category: str, row: DbRow) -> Record:
    out = {"id": row.id, **F.from_row(category, row)}
    if category == "medication":
        _start, end = rules.period(row.on_date, row.days)
        out["end_date"] = end.isoformat()
    return out


def _medications(rows: Sequence[DbRow]) -> list[rules.Medication]:
    return [rules.Medication(x.id, x.on_date, x.days, x.facility_code or "", x.code, x.ingredient) for x in rows]


def _listing(category: str, rows: Sequence[DbRow]) -> list[Record]:
    out = [_record_out(category, x) for x in rows]
    if category == "medication":
        dup = rules.duplicates(_medications(rows))
        by_id = {x.id: x for x in rows}
        for rec in out:
            others = dup.get(rec["id"], [])
            rec["duplicate"] = bool(others)
            if others:
                rec["duplicate_with"] = [
                    {
                        "id": o,
                        "facility_name": by_id[o].facility_name,
                        "date": by_id[o].on_date.isoformat(),
                        "drug_name": by_id[o].name,
                    }
                    for o in others
                ]
    return out


@dataclass
class Authorised:
    """A view the rule allowed: whose records, until when, and the audit row's id."""

    patient: Patient
    decision: C.ConsentDecision
    category: str
    now: dt.datetime


def _authorise(
    db: Database,
    principal: Principal,
    *,
    category: str,
    check_id: int | None,
    payer_number: str | None,
    recipient_number: str | None,
    channel: str,
) -> tuple[Authorised, Sequence[DbRow]]:
    principal.require(FACILITY)
    _category(category)
    _who_problems(check_id, payer_number, recipient_number)
    channel = _channel(channel)
    now = db.now()
    today = now.astimezone(JST).date()
    with db.read() as conn:
        patient = _identify(conn, principal, check_id, payer_number, recipient_number)
        if patient is not None:
            consents = [
                C.ConsentRecord(x.organisation_id, x.method, aware(x.at), x.consent)
                for x in Q.consent_rows(conn, person_id=patient.person_id, recipient_ids=patient.ids, now=now)
            ]
            decision = C.decide_view(
                consents,
                now=now,
                facility_id=principal.organisation_id,
                role=principal.role,
                category=category,
                restricted=patient.restricted,
            )
            rows = (
                Q.records(conn, patient.ids, category, rules.retained_from(category, today)) if decision.allowed else []
            )
    if patient is None:
        # nothing is revealed about who exists: answered as 'no consent here', recorded as not found
        _audit(db, principal, outcome="0", reason="not_found", category=category, channel=channel, at=now)
        raise MedinfoRefused(C.ConsentDecision(False, C.NO_CONSENT, C.FLAG_NONE), category)
    if not decision.allowed:
        _audit_patient(
            db, principal, patient, category=category, channel=channel, at=now, outcome="0", reason=decision.reason
        )
        raise MedinfoRefused(decision, category)
    return Authorised(patient, decision, category, now), rows


def _answer(a: Authorised, records: list[Record], view_id: int, today: dt.date) -> Record:
    d = a.decision
    return {
        "category": a.category,
        "category_ja": C.CATEGORY_JA[a.category],
        "patient": a.patient.summary(),
        "consent_flag": d.flag,
        "consent_time": wire_time(d.consented_at) if d.consented_at else None,
        "available_time": wire_time(d.available_until) if d.available_until else None,
        "retained_from": rules.retained_from(a.category, today).isoformat(),
        "retention_years": rules.RETENTION_YEARS[a.category],
        "records": records,
        "view_id": view_id,
    }


def view(
    db: Database,
    principal: Principal,
    *,
    category: str,
    check_id: int | None = None,
    payer_number: str | None = None,
    recipient_number: str | None = None,
    channel: str = "api",
) -> Record:
    """The patient's records of ``category`` within the retention, for this facility's clinician
    with a live consent given at this facility's card reader; otherwise :class:`MedinfoRefused`
    saying why. Both are recorded before this returns."""
    a, rows = _authorise(
        db,
        principal,
        category=category,
        check_id=check_id,
        payer_number=payer_number,
        recipient_number=recipient_number,
        channel=channel,
    )
    records = _listing(category, rows)
    view_id = _audit_patient(db, principal, a.patient, category=category, channel=_channel(channel), at=a.now)
    return _answer(a, records, view_id, a.now.astimezone(JST).date())


def consent_of(
    db: Database,
    principal: Principal,
    *,
    check_id: int | None = None,
    payer_number: str | None = None,
    recipient_number: str | None = None,
) -> list[Record]:
    """The patient's consent to 薬剤情報等 given at this facility's card reader, as the rule of
    :mod:`fujo.core.consent` sees it now: one entry per category the newest card check here carried
    (``consent_flag`` 1 あり or 2 期限切れ, ``consent_time``, ``available_time``); empty when there is none
    (or the patient is unknown: nothing is revealed). The consent itself, whoever of the facility asks —
    the role and a viewing restriction decide a view (:func:`view`), not the consent. Records nothing:
    it tells the facility what its own card checks were answered (ConsFlg, ConsTime, AvailableTime)."""
    principal.require(FACILITY)
    _who_problems(check_id, payer_number, recipient_number)
    now = db.now()
    with db.read() as conn:
        patient = _identify(conn, principal, check_id, payer_number, recipient_number)
        rows = (
            Q.consent_rows(conn, person_id=patient.person_id, recipient_ids=patient.ids, now=now)
            if patient is not None
            else []
        )
    consents = [C.ConsentRecord(x.organisation_id, x.method, aware(x.at), x.consent) for x in rows]
    out: list[Record] = []
    for category in C.CATEGORIES:
        d = C.decide_view(
            consents, now=now, facility_id=principal.organisation_id, role=C.VIEWER_ROLE, category=category
        )
        if d.consented_at is not None and d.available_until is not None:
            out.append(
                {
                    "category": category,
                    "category_ja": C.CATEGORY_JA[category],
                    "consent_flag": d.flag,
                    "consent_time": wire_time(d.consented_at),
                    "available_time": wire_time(d.available_until),
                }
            )
    return out


def _planned_problems(
    drug_codes: Sequence[str], start_date: object, days: object
) -> tuple[list[str], dt.date | None, int]:
    problems = Problems()
    codes_: list[str] = []
    if not drug_codes:
        problems.add(
            FieldProblem("drug_codes", "required", "薬剤コードを指定してください。", "drug_codes is required.")
        )
    for i, c in enumerate(drug_codes):
        v, p = F.clean_one(F.Spec(f"drug_codes[{i}]", "code", "薬剤コード", "drug_code", True, 12), c)
        problems.add(p)
        if isinstance(v, str):
            codes_.append(v)
    start, p = parse_date(start_date, "start_date", "開始日") if start_date not in (None, "") else (None, None)
    problems.add(p)
    n = 1
    if days not in (None, ""):
        v, p = F.clean_one(F.Spec("days", "days", "日数", "amount", True), days)
        problems.add(p)
        n = v if isinstance(v, int) else 1
    problems.raise_if_any()
    return codes_, start, n


def overlaps(
    db: Database,
    principal: Principal,
    *,
    drug_codes: Sequence[str],
    start_date: object = None,
    days: object = None,
    check_id: int | None = None,
    payer_number: str | None = None,
    recipient_number: str | None = None,
    channel: str = "api",
) -> Record:
    """What the facility is about to prescribe (drug codes, from ``start_date`` — today by default —
    for ``days``) against the patient's medications: each overlap of the same ingredient from another
    facility, with the medication list (and its duplicate marks). The same consent rule as a view."""
    principal.require(FACILITY)
    codes_, start, n = _planned_problems(drug_codes, start_date, days)
    a, rows = _authorise(
        db,
        principal,
        category="medication",
        check_id=check_id,
        payer_number=payer_number,
        recipient_number=recipient_number,
        channel=channel,
    )
    with db.read() as conn:
        known = Q.ingredients_of_codes(conn, codes_)
    span = rules.period(start or a.now.astimezone(JST).date(), n)
    planned = [(c, rules.ingredient_key(c, known.get(c))) for c in codes_]
    by_id = {x.id: x for x in rows}
    found = rules.planned_overlaps(_medications(rows), planned, span, principal.code)
    records = _listing("medication", rows)
    view_id = _audit_patient(
        db, principal, a.patient, category="medication", channel=_channel(channel), at=a.now, flags="overlaps"
    )
    out = _answer(a, records, view_id, a.now.astimezone(JST).date())
    out["planned"] = {"drug_codes": codes_, "start_date": span[0].isoformat(), "end_date": span[1].isoformat()}
    out["unknown_codes"] = [c for c, key in planned if not key[0] and not key[1]]
    out["overlaps"] = [
        {
            "drug_code": code,
            "ingredient": by_id[m.key].ingredient,
            "record": _record_out("medication", by_id[m.key]),
        }
        for code, m in found
    ]
    return out


# --- viewing restriction (閲覧制限) ----------------------------------------------------------------


def set_restriction(
    db: Database,
    principal: Principal,
    *,
    payer: str,
    rn: str,
    restricted: bool,
    reason: str | None = None,
    channel: str | None = None,
) -> Record:
    """A welfare office marks (or unmarks) its recipient as restricted: from then on no facility sees
    the address, only the designated facility sees name and birth date, and no facility sees any
    薬剤情報等 (not even in the disaster mode). The change is recorded in the recipient's access log."""
    principal.require(WELFARE_OFFICE, ADMIN)
    problems = Problems()
    for name, label, kind, v in (
        ("payer_number", "公費負担者番号", "payer", payer),
        ("recipient_number", "受給者番号", "recipient", rn),
    ):
        problems.add(clean_value(Field(name, None, label, kind, True), v)[1])
    if reason is not None and len(reason) > 200:
        problems.add(
            FieldProblem("reason", "too_long", "理由は200文字以内です。", "reason must be at most 200 characters.")
        )
    problems.raise_if_any()
    principal.require_payer(payer)
    r = s.recipients
    now = db.now()
    with db.write() as conn:
        row = conn.execute(
            select(r.c.id, r.c.person_id, r.c.restricted).where(r.c.payer_number == payer, r.c.recipient_number == rn)
        ).first()
        if row is None:
            raise NotFound(f"受給者{payer}/{rn}が登録されていません。", f"No recipient {payer}/{rn}.")
        conn.execute(update(r).where(r.c.id == row.id).values(restricted=restricted, updated_at=now))
        # in the change's own transaction, as every registry change (fujo.audit.service.record_change)
        record_change(
            conn,
            principal,
            "recipient.restrict" if restricted else "recipient.unrestrict",
            recipient_id=row.id,
            person_id=row.person_id,
            detail=reason,
            at=now,
            channel=channel,
        )
    return {"payer_number": payer, "recipient_number": rn, "restricted": restricted, "changed_at": now.isoformat()}


def restriction_of(db: Database, principal: Principal, *, payer: str, rn: str) -> bool:
    principal.require(WELFARE_OFFICE, ADMIN)
    principal.require_payer(payer)
    r = s.recipients
    with db.read() as conn:
        v = conn.execute(select(r.c.restricted).where(r.c.payer_number == payer, r.c.recipient_number == rn)).first()
    if v is None:
        raise NotFound(f"受給者{payer}/{rn}が登録されていません。", f"No recipient {payer}/{rn}.")
    return bool(v.restricted)


# --- disaster mode (災害時) --------------------------------------------------------------------------

_PREFECTURES = {f"{i:02d}" for i in range(1, 48)}


def _when(value: object, field: str, label: str, end: bool, problems: Problems) -> dt.datetime | None:
    """A date-time or a date (its start; for an end, the start of the next day, so the end date is
    included): ``core.dates.parse_moment``."""
    when, p = parse_moment(value, field, label, end=end)
    problems.add(p)
    return when


def _opening_out(row: DbRow, now: dt.datetime) -> Record:
    return {
        "id": row.id,
        "reason": row.reason,
        "prefectures": [x for x in row.prefectures.split(",") if x],
        "municipalities": [x for x in row.municipalities.split("\n") if x],
        "starts_at": aware(row.starts_at).isoformat(),
        "ends_at": aware(row.ends_at).isoformat(),
        "opened_at": aware(row.opened_at).isoformat(),
        "opened_by": row.opened_by,
        "closed_at": aware(row.closed_at).isoformat() if row.closed_at else None,
        "closed_by": row.closed_by,
        "in_force": rules.open_at(aware(row.starts_at), aware(row.ends_at), aware(row.closed_at), now),
    }


def open_disaster(
    db: Database,
    principal: Principal,
    *,
    reason: str,
    starts: object,
    ends: object,
    prefectures: Sequence[str] = (),
    municipalities: Sequence[str] = (),
) -> Record:
    """The administrator opens the disaster mode for prefectures (都道府県番号) and/or municipalities
    (「石川県輪島市」, matched against the start of a facility's registered address) and a period."""
    principal.require(ADMIN)
    problems = Problems()
    prefs = sorted({p.strip() for p in prefectures if p and p.strip()})
    munis = [m.strip() for m in municipalities if m and m.strip()]
    for p in prefs:
        if p not in _PREFECTURES:
            problems.add(
                FieldProblem(
                    "prefectures", "code", f"都道府県番号「{p}」は01〜47です。", f"Prefecture '{p}' must be 01–47."
                )
            )
    if not prefs and not munis:
        problems.add(
            FieldProblem(
                "prefectures",
                "required",
                "対象の都道府県または市区町村を指定してください。",
                "Give at least one prefecture or municipality.",
            )
        )
    if any(len(m) > 60 or "\n" in m for m in munis):
        problems.add(
            FieldProblem("municipalities", "too_long", "市区町村名は60文字以内です。", "At most 60 characters.")
        )
    if not reason or not reason.strip():
        problems.add(FieldProblem("reason", "required", "理由を入力してください。", "reason is required."))
    elif len(reason) > 200:
        problems.add(FieldProblem("reason", "too_long", "理由は200文字以内です。", "At most 200 characters."))
    start = _when(starts, "starts_at", "開始", False, problems)
    end = _when(ends, "ends_at", "終了", True, problems)
    if start and end and end <= start:
        problems.add(FieldProblem("ends_at", "before_start", "終了が開始より前です。", "ends_at is before starts_at."))
    problems.raise_if_any()
    now = db.now()
    d = s.disaster_openings
    with db.write() as conn:
        new_id = conn.execute(
            d.insert().returning(d.c.id),
            [
                {
                    "reason": reason.strip(),
                    "prefectures": ",".join(prefs),
                    "municipalities": "\n".join(munis),
                    "starts_at": start,
                    "ends_at": end,
                    "opened_at": now,
                    "opened_by": principal.actor or principal.name,
                }
            ],
        ).scalar_one()
        row = conn.execute(select(d).where(d.c.id == new_id)).one()
    return _opening_out(row, now)


def close_disaster(db: Database, principal: Principal, opening_id: int) -> Record:
    """Closing takes effect at once (views after this moment are refused)."""
    principal.require(ADMIN)
    d = s.disaster_openings
    now = db.now()
    with db.write() as conn:
        row = conn.execute(select(d).where(d.c.id == opening_id)).first()
        if row is None:
            raise NotFound(f"災害時の閲覧{opening_id}はありません。", f"No disaster opening {opening_id}.")
        if row.closed_at is not None:
            raise Conflict("この災害時の閲覧は既に終了しています。", "This opening is already closed.")
        conn.execute(
            update(d).where(d.c.id == opening_id).values(closed_at=now, closed_by=principal.actor or principal.name)
        )
        row = conn.execute(select(d).where(d.c.id == opening_id)).one()
    return _opening_out(row, now)


def list_disasters(db: Database, principal: Principal) -> list[Record]:
    principal.require(ADMIN)
    d = s.disaster_openings
    now = db.now()
    with db.read() as conn:
        return [_opening_out(x, now) for x in conn.execute(select(d).order_by(d.c.opened_at.desc(), d.c.id.desc()))]


def disaster_for(db: Database, principal: Principal) -> list[Record]:
    """The openings in force that cover this facility (by its registered address)."""
    principal.require(FACILITY)
    now = db.now()
    with db.read() as conn:
        fac = Q.facility_row(conn, principal.code)
        openings = Q.openings_in_force(conn, now)
    if fac is None:
        return []
    return [
        _opening_out(o, now)
        for o in openings
        if rules.in_area(
            [x for x in o.prefectures.split(",") if x],
            [x for x in o.municipalities.split("\n") if x],
            fac.prefecture,
            fac.address,
        )
    ]


def disaster_medication(
    db: Database,
    principal: Principal,
    *,
    name: str | None,
    birthdate: object,
    sex: str | None,
    address: str | None = None,
    channel: str = "api",
) -> Record:
    """災害時: a facility inside an open disaster area finds the person by 氏名 + 生年月日 + 性別
    (+ 住所) and views the medication information without a card. Refused outside the area or the
    period, for a role other than clinician, and for a restricted recipient; flagged 'disaster' in
    the audit trail."""
    principal.require(FACILITY)
    channel = _channel(channel)
    problems = Problems()
    nm, p = clean_value(Field("name", None, "氏名", "text", True, 60), name)
    problems.add(p)
    bd, p = parse_date(birthdate, "birthdate", "生年月日", required=True)
    problems.add(p)
    sx, p = clean_value(Field("sex", None, "性別", "code", True, table=codes.SEX), sex)
    problems.add(p)
    addr, p = clean_value(Field("address", None, "住所", "text", False, 200), address)
    problems.add(p)
    problems.raise_if_any()
    assert isinstance(nm, str) and isinstance(bd, dt.date) and isinstance(sx, str)
    now = db.now()
    today = now.astimezone(JST).date()

    def refuse(reason: str, err: FujoError, person_id: int | None = None, recipient_id: int | None = None) -> FujoError:
        _audit(
            db,
            principal,
            outcome="0",
            reason=reason,
            category="medication",
            channel=channel,
            person_id=person_id,
            recipient_id=recipient_id,
            flags=DISASTER,
            at=now,
        )
        return err

    if principal.role != C.VIEWER_ROLE:
        raise refuse(C.ROLE, MedinfoRefused(C.ConsentDecision(False, C.ROLE, C.FLAG_NONE), "medication"))
    if not disaster_for(db, principal):
        raise refuse(
            "outside_disaster",
            DisasterRefused(
                "この医療機関・薬局の所在地または現在の日時は、災害時の薬剤情報等の閲覧の対象外です。",
                "No disaster opening covers this facility's registered address at this time.",
            ),
        )
    with db.read() as conn:
        found = [
            x
            for x in Q.candidates(conn, bd, sx)
            if rules.matches_person(x, name=nm, birthdate=bd, sex=sx, address=addr if isinstance(addr, str) else None)
        ]
        people = {("p", x.person_id) if x.person_id is not None else ("r", x.id) for x in found}
        if len(people) == 1:
            first = found[0]
            patient = Patient(first.person_id, Q.recipients_of(conn, person_id=first.person_id, recipient_id=first.id))
            rows = (
                []
                if patient.restricted
                else Q.records(conn, patient.ids, "medication", rules.retained_from("medication", today))
            )
    if not people:
        raise refuse(
            "not_found",
            NotFound(
                "氏名・生年月日・性別が一致する方が見つかりません。", "No person matches the name, birth date and sex."
            ),
        )
    if len(people) > 1:
        raise refuse(
            "multiple",
            Conflict(
                "複数の方が該当します。住所を加えて検索してください。",
                "Several people match; add the address.",
            ),
        )
    if patient.restricted:
        raise refuse(
            C.RESTRICTED,
            MedinfoRefused(C.ConsentDecision(False, C.RESTRICTED, C.FLAG_NONE), "medication"),
            patient.person_id,
            patient.recipient_id,
        )
    view_id = _audit_patient(db, principal, patient, category="medication", channel=channel, at=now, flags=DISASTER)
    return {
        "category": "medication",
        "category_ja": C.CATEGORY_JA["medication"],
        "disaster": True,
        "patient": patient.summary(),
        "consent_flag": C.FLAG_NONE,
        "consent_time": None,
        "available_time": None,
        "retained_from": rules.retained_from("medication", today).isoformat(),
        "retention_years": rules.RETENTION_YEARS["medication"],
        "records": _listing("medication", rows),
        "view_id": view_id,
    }
