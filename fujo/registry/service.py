"""Registry of the 福祉事務所: recipients (被保護者) and their 医療券/調剤券.

Writes are all-or-nothing and scoped: a welfare office writes only under its own 公費負担者番号.
Tickets are never updated in place: an amendment or a cancellation adds a revision and marks the
previous one superseded, so the full history stays readable.

A ticket is refused (field by field, nothing written) when it would lead to a wrong bill — outside
the recipient's 保護 period, for a facility not in the registry or whose 点数表 does not fit, 単独
with 社会保険あり, or a second active copy of an existing ticket (fujo.core.ticket_rules; the same
rules for the API, the CSV import and the web form). The 指定医療機関名 comes from the registry.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterable, Sequence
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import ColumnElement, Connection, Select, and_, func, or_, select, update

from ..audit.service import record_change, record_many
from ..auth.principal import ADMIN, WELFARE_OFFICE, Principal
from ..core import numbers, ticket_rules
from ..core.dates import JST
from ..core.errors import Conflict, FieldProblem, NotFound, Problems, ValidationFailed
from ..core.fields import (
    RECIPIENT_FIELDS,
    TICKET_FIELDS,
    check_period,
    check_ticket_rules,
    clean_record,
    normalize_kana,
)
from ..core.identity import identity_differences
from ..core.numbers import check_payer_number, check_recipient_number
from ..core.rows import Period, Record
from ..db import schema as s
from ..db.database import Database, DbRow, InTx, aware, next_values
from .queries import ACTIVE, CANCELLED, current_tickets, latest_revision, with_office

if TYPE_CHECKING:
    from ..cards.ca import CardAuthority

r_ = s.recipients
t_ = s.tickets

TICKET_COLUMNS = [f.name for f in TICKET_FIELDS]
RECIPIENT_COLUMNS = [f.name for f in RECIPIENT_FIELDS]


def _iso(v: object) -> object:
    if isinstance(v, dt.datetime):
        return aware(v).isoformat()
    if isinstance(v, dt.date):
        return v.isoformat()
    return v


def recipient_dict(row: DbRow) -> Record:
    d = {c: _iso(getattr(row, c)) for c in RECIPIENT_COLUMNS}
    d.update(id=row.id, version=row.version, card_linked=row.person_id is not None, updated_at=_iso(row.updated_at))
    d["restricted"] = bool(getattr(row, "restricted", False))  # 閲覧制限 (set apart from the fields: medinfo)
    return d


def ticket_dict(row: DbRow, *, payer_number: str | None = None, recipient_number: str | None = None) -> Record:
    d: Record = {"ticket_key": row.ticket_key, "revision": row.revision, "status": row.status}
    if payer_number:
        d["payer_number"], d["recipient_number"] = payer_number, recipient_number
    d.update({c: _iso(getattr(row, c)) for c in TICKET_COLUMNS})
    d.update(
        registered_at=_iso(row.registered_at),
        changed_at=_iso(row.changed_at),
        change_reason=row.change_reason,
        seq=row.seq,
    )
    return d


# --- validation shared by API, CSV and forms -------------------------------------------------


def clean_recipient(data: Record, partial: bool = False) -> Record:
    problems = Problems()
    rec = clean_record(RECIPIENT_FIELDS, data, problems, partial=partial)
    check_period(rec, problems)
    if not partial:  # an update is checked once merged with the stored record
        check_disqualification(rec, problems)
    problems.raise_if_any()
    return rec


def check_disqualification(rec: Record, problems: Problems) -> None:
    """保護停止・廃止日 goes with 停止 or 廃止 (and the office's reason), and they without it."""
    if rec.get("disqualification_date") and not rec.get("disqualification_kind"):
        problems.add(
            FieldProblem(
                "disqualification_kind",
                "required",
                "停止・廃止日を入力した場合は停止・廃止の別を選んでください。",
                "disqualification_kind (1 停止, 2 廃止) is required with disqualification_date.",
            )
        )
    if not rec.get("disqualification_date") and (
        rec.get("disqualification_kind") or rec.get("disqualification_reason")
    ):
        problems.add(
            FieldProblem(
                "disqualification_date",
                "required",
                "停止・廃止の別・理由を入力した場合は停止・廃止日を入力してください。",
                "disqualification_date is required with disqualification_kind or _reason.",
            )
        )


def clean_ticket(data: Record) -> Record:
    problems = Problems()
    t = clean_record(TICKET_FIELDS, data, problems)
    check_ticket_rules(t, problems)
    problems.raise_if_any()
    return t


def split_ticket_input(data: Record) -> tuple[str, str, Record]:
    """A ticket request names its recipient by payer_number + recipient_number."""
    data = dict(data)
    payer, rn = data.pop("payer_number", None), data.pop("recipient_number", None)
    problems = Problems()
    problems.add(check_payer_number(payer or ""))
    problems.add(check_recipient_number(rn or ""))
    try:
        ticket = clean_ticket(data)
    except ValidationFailed as e:
        problems.items.extend(e.problems)
        ticket = None
    problems.raise_if_any()
    assert ticket is not None  # else its problems were raised
    return payer, rn, ticket


# --- recipients ------------------------------------------------------------------------------


def _recipient_row(conn: Connection, payer: str, rn: str, for_update: bool = False) -> DbRow | None:
    q = select(r_).where(r_.c.payer_number == payer, r_.c.recipient_number == rn)
    if for_update:
        q = q.with_for_update()
    return conn.execute(q).first()


def _require_read(principal: Principal, payer: str) -> None:
    if principal.kind == ADMIN:
        principal.require(ADMIN)  # not the 監査担当 (AUDITOR): the audit export is all it may read
        return
    principal.require_payer(payer)


def insert_recipient(conn: Connection, principal: Principal, rec: Record, now: dt.datetime) -> int:
    principal.require_payer(rec["payer_number"])
    if _recipient_row(conn, rec["payer_number"], rec["recipient_number"]):
        raise Conflict(
            f"受給者番号{rec['recipient_number']}は既に登録されています。",
            f"Recipient {rec['payer_number']}/{rec['recipient_number']} already exists.",
        )
    rid: int = conn.execute(
        r_.insert().values(**rec, version=1, created_at=now, updated_at=now).returning(r_.c.id)
    ).scalar_one()
    record_change(conn, principal, "recipient.create", recipient_id=rid, person_id=rec.get("person_id"), at=now)
    return rid


def register_recipient(db: Database, principal: Principal, data: Record, in_tx: InTx = None) -> Record:
    rec = clean_recipient(data)
    with db.write() as conn:
        rid = insert_recipient(conn, principal, rec, db.now())
        out = recipient_dict(conn.execute(select(r_).where(r_.c.id == rid)).one())
        if in_tx:
            in_tx(conn, out)
    return out


def update_recipient(
    db: Database, principal: Principal, *, payer: str, rn: str, changes: Record, expected_version: int | None = None
) -> Record:
    """Change some fields of a recipient (e.g. 停止・廃止日 and reason); the earlier state is kept."""
    principal.require_payer(payer)
    for k in ("payer_number", "recipient_number"):
        if k in changes and changes[k] != {"payer_number": payer, "recipient_number": rn}[k]:
            raise ValidationFailed(
                problems=[
                    FieldProblem(
                        k,
                        "immutable",
                        "番号は変更できません。新しく登録してください。",
                        f"{k} cannot be changed; register a new recipient.",
                    )
                ]
            )
    part = clean_recipient(
        {k: v for k, v in changes.items() if k not in ("payer_number", "recipient_number")}, partial=True
    )
    now = db.now()
    with db.write() as conn:
        row = _recipient_row(conn, payer, rn, for_update=True)
        if not row:
            raise NotFound("受給者が見つかりません。", f"No recipient {payer}/{rn}.")
        if expected_version is not None and expected_version != row.version:
            raise Conflict(
                "他の担当者が先に更新しました。再読み込みしてください。",
                f"Version conflict: now {row.version}, you had {expected_version}.",
            )
        merged = {c: getattr(row, c) for c in RECIPIENT_COLUMNS} | part
        problems = Problems()
        check_period(merged, problems)
        check_disqualification(merged, problems)
        problems.raise_if_any()
        conn.execute(
            s.recipient_history.insert().values(
                recipient_id=row.id,
                version=row.version,
                changed_at=now,
                changed_by=principal.organisation_id or None,
                snapshot=json.dumps({c: _iso(getattr(row, c)) for c in RECIPIENT_COLUMNS}, ensure_ascii=False),
            )
        )
        conn.execute(update(r_).where(r_.c.id == row.id).values(**part, version=row.version + 1, updated_at=now))
        changed = sorted(c for c in part if part[c] != getattr(row, c))
        stop = "disqualification_date" in changed and part["disqualification_date"] is not None
        action = {"1": "recipient.suspend", "2": "recipient.abolish"}.get(merged["disqualification_kind"] or "")
        record_change(  # field names only: the values stay in recipients / recipient_history
            conn,
            principal,
            action if stop and action else "recipient.update",
            recipient_id=row.id,
            person_id=row.person_id,
            detail=f"version={row.version + 1} fields={','.join(changed)}",
            at=now,
        )
        return recipient_dict(conn.execute(select(r_).where(r_.c.id == row.id)).one())


def get_recipient(db: Database, principal: Principal, *, payer: str, rn: str) -> Record:
    _require_read(principal, payer)
    with db.read() as conn:
        row = _recipient_row(conn, payer, rn)
        if not row:
            raise NotFound("受給者が見つかりません。", f"No recipient {payer}/{rn}.")
        out = recipient_dict(row)
        hist = conn.execute(
            select(s.recipient_history)
            .where(s.recipient_history.c.recipient_id == row.id)
            .order_by(s.recipient_history.c.version)
        ).all()
        out["history"] = [
            {"version": h.version, "changed_at": _iso(h.changed_at), **json.loads(h.snapshot)} for h in hist
        ]
        tickets = conn.execute(
            select(t_)
            .where(t_.c.recipient_id == row.id, latest_revision())
            .order_by(t_.c.treatment_month.desc(), t_.c.id)
        ).all()
        out["tickets"] = [ticket_dict(t) for t in tickets]
    return out


def search_recipients(
    db: Database, principal: Principal, *, q: str | None = None, payer: str | None = None, limit: int = 50
) -> list[Record]:
    """Search by number, name or kana within the office's own payer numbers."""
    principal.require(WELFARE_OFFICE, ADMIN)
    query = select(r_).order_by(r_.c.payer_number, r_.c.recipient_number).limit(min(max(limit, 1), 500))
    if principal.kind == WELFARE_OFFICE:
        query = query.where(r_.c.payer_number.in_(sorted(principal.payer_numbers)))
    if payer:
        query = query.where(r_.c.payer_number == payer)
    if q:
        q = q.strip()
        # autoescape: a % or _ typed by the clerk is a character, not a wildcard
        query = query.where(
            or_(
                r_.c.recipient_number == q,
                r_.c.name.contains(q, autoescape=True),
                r_.c.name_kana.contains(normalize_kana(q), autoescape=True),
            )
        )
    with db.read() as conn:
        return [recipient_dict(r) for r in conn.execute(query)]


def records_of_person(db: Database, person_id: int, month: str) -> tuple[Sequence[DbRow], Sequence[DbRow]]:
    """A card holder's own recipient records (each with its office's ``office_name`` and
    ``office_phone``, newest first) and the tickets of ``month`` (yyyyMM) in force for them, for
    the recipient portal: the caller has proven the card, so no Principal scopes this."""
    o = s.organisations
    with db.read() as conn:
        recs = conn.execute(
            select(r_, o.c.name.label("office_name"), o.c.phone.label("office_phone"))
            .select_from(with_office(r_))
            .where(r_.c.person_id == person_id)
            .order_by(r_.c.qualification_date.desc())
        ).all()
        ids = [x.id for x in recs]
        tickets = (
            conn.execute(
                select(t_)
                .where(t_.c.recipient_id.in_(ids), t_.c.treatment_month == month, current_tickets())
                .order_by(t_.c.ticket_type, t_.c.id)
            ).all()
            if ids
            else []
        )
    return recs, tickets


def link_card(
    db: Database, ca: CardAuthority, principal: Principal, *, payer: str, rn: str, individual_number: str
) -> Record:
    """初回ひも付け: link a recipient to the holder of a My Number card, identified the way the real
    system does — by the recipient's 個人番号, which the welfare office enters — and only when the card
    issuer's 4 情報 of that holder agree: name (normalised: 旧字/新字, spaces, カナ) and birth date. A
    mismatch is refused naming the differing items; nothing is written. Recorded in the check log,
    so the recipient's access log shows it."""
    from ..cards.service import holder_by_number

    principal.require_payer(payer)
    number = (individual_number or "").strip()
    p = numbers.check_individual_number(number)
    if p:
        raise ValidationFailed(problems=[p])
    with db.write() as conn:
        row = _recipient_row(conn, payer, rn, for_update=True)
        if not row:
            raise NotFound("受給者が見つかりません。", f"No recipient {payer}/{rn}.")
        holder = holder_by_number(conn, ca, number)
        if holder is None or holder.name is None:
            raise ValidationFailed(
                problems=[
                    FieldProblem(
                        "individual_number",
                        "no_card",
                        "この個人番号のマイナンバーカード（利用者証明用電子証明書）の発行記録がありません。",
                        "No My Number card has been issued for this individual number.",
                    )
                ]
            )
        if not conn.execute(
            select(s.cards.c.id).where(s.cards.c.person_id == holder.id, s.cards.c.revoked_at.is_(None)).limit(1)
        ).first():
            raise Conflict("この方のカードはすべて失効しています。", "Every card of this holder is revoked.")
        diff = identity_differences(row, holder)
        if diff:
            raise ValidationFailed(problems=diff)
        if row.person_id is not None and row.person_id != holder.id:
            raise Conflict(
                "この受給者は既に別のカードにひも付いています（先にひも付けを解除してください）。",
                "The recipient is linked to another card holder; unlink first.",
            )
        if row.person_id != holder.id:
            now = db.now()
            conn.execute(update(r_).where(r_.c.id == row.id).values(person_id=holder.id, updated_at=now))
            record_many(
                conn, principal, "link", [{"person_id": holder.id, "recipient_id": row.id, "category": "registry"}], now
            )
        return recipient_dict(conn.execute(select(r_).where(r_.c.id == row.id)).one())


def unlink_card(db: Database, principal: Principal, *, payer: str, rn: str, reason: str) -> Record:
    """Undo a 初回ひも付け (e.g. linked to the wrong card by mistake): recorded with the reason, and
    shown in the access log of the person who was linked."""
    principal.require_payer(payer)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(
            problems=[FieldProblem("reason", "required", "解除の理由を入力してください。", "A reason is required.")]
        )
    with db.write() as conn:
        row = _recipient_row(conn, payer, rn, for_update=True)
        if not row:
            raise NotFound("受給者が見つかりません。", f"No recipient {payer}/{rn}.")
        if row.person_id is None:
            raise Conflict(
                "この受給者はマイナンバーカードにひも付いていません。", "The recipient is not linked to a card."
            )
        now = db.now()
        conn.execute(update(r_).where(r_.c.id == row.id).values(person_id=None, updated_at=now))
        record_many(
            conn,
            principal,
            "unlink",
            [{"person_id": row.person_id, "recipient_id": row.id, "detail": reason[:200], "category": "registry"}],
            now,
        )
        return recipient_dict(conn.execute(select(r_).where(r_.c.id == row.id)).one())


# --- tickets ---------------------------------------------------------------------------------


def lock_payers(conn: Connection, payers: Iterable[str]) -> None:
    """Ticket writes under one 公費負担者番号 take turns (row lock on its office_payers row, held to
    commit), so two concurrent registrations cannot both pass the duplicate checks. On SQLite every
    write transaction is serial already (BEGIN IMMEDIATE)."""
    op = s.office_payers
    for p in sorted(set(payers)):
        conn.execute(select(op.c.payer_number).where(op.c.payer_number == p).with_for_update())


def _active_of_month(conn: Connection, recipient_id: int, month: str) -> Sequence[DbRow]:
    return conn.execute(
        select(t_).where(t_.c.recipient_id == recipient_id, t_.c.treatment_month == month, current_tickets())
    ).all()


def _active_with_issue_number(conn: Connection, payer: str, month: str, issue_number: str | None) -> Sequence[DbRow]:
    if not issue_number:
        return []
    return conn.execute(
        select(t_)
        .select_from(t_.join(r_, r_.c.id == t_.c.recipient_id))
        .where(
            r_.c.payer_number == payer,
            t_.c.treatment_month == month,
            t_.c.issue_number == issue_number,
            current_tickets(),
        )
    ).all()


class RecipientPeriod(Period, Protocol):
    """The recipient a ticket is checked against: its 保護 period and its id."""

    @property
    def id(self) -> int: ...


def check_ticket(conn: Connection, *, payer: str, rec: RecipientPeriod, t: Record, own_key: str | None = None) -> None:
    """The registry rules (fujo.core.ticket_rules) with what the database holds; fills the facility
    names from the facility registry. Raises ValidationFailed, field by field."""
    from .facilities import facility_rows

    problems = Problems()
    facilities = facility_rows(conn, [t.get("designated_facility_code"), t.get("prescription_issuer_code")])
    ticket_rules.check_against_registry(
        t,
        rec,
        facilities,
        _active_of_month(conn, rec.id, t["treatment_month"]),
        _active_with_issue_number(conn, payer, t["treatment_month"], t.get("issue_number")),
        own_key,
        problems,
    )
    problems.raise_if_any()


def insert_ticket(conn: Connection, principal: Principal, *, payer: str, rn: str, t: Record, now: dt.datetime) -> str:
    principal.require_payer(payer)
    lock_payers(conn, [payer])
    rec = _recipient_row(conn, payer, rn)
    if not rec:
        raise NotFound(f"受給者{payer}/{rn}が登録されていません。", f"No recipient {payer}/{rn}.")
    check_ticket(conn, payer=payer, rec=rec, t=t)
    row = new_ticket_row(principal, rec.id, t, next_values(conn, "ticket_seq"), now)
    conn.execute(t_.insert().values(**row))
    key: str = row["ticket_key"]
    record_change(
        conn, principal, "ticket.register", recipient_id=rec.id, person_id=rec.person_id, detail=f"ticket={key}", at=now
    )
    return key


def new_ticket_row(principal: Principal, recipient_id: int, ticket: Record, seq: int, now: dt.datetime) -> Record:
    """The ``tickets`` row of a newly registered ticket (revision 1 under a new key), from the
    API, the web form or a CSV file; ``seq`` from the ``ticket_seq`` counter."""
    return dict(
        ticket,
        ticket_key=str(uuid.uuid4()),
        revision=1,
        recipient_id=recipient_id,
        status=ACTIVE,
        seq=seq,
        registered_at=now,
        changed_at=now,
        changed_by=principal.organisation_id or None,
    )


def register_ticket(db: Database, principal: Principal, data: Record, in_tx: InTx = None) -> Record:
    payer, rn, t = split_ticket_input(data)
    principal.require_payer(payer)
    with db.write() as conn:
        key = insert_ticket(conn, principal, payer=payer, rn=rn, t=t, now=db.now())
        out = _ticket_out(conn, key)
        if in_tx:
            in_tx(conn, out)
    return out


def _with_recipient(*more: ColumnElement[Any]) -> Select[Any]:
    """Tickets (their newest revision, cancelled or not) with their recipient's numbers, ``more``
    of the recipient's columns, and the 保護 period the ticket rules read."""
    return (
        select(
            t_,
            r_.c.payer_number,
            r_.c.recipient_number,
            *more,
            r_.c.qualification_date,
            r_.c.disqualification_date,
            r_.c.disqualification_kind,
        )
        .select_from(t_.join(r_, r_.c.id == t_.c.recipient_id))
        .where(latest_revision())
    )


def _current(conn: Connection, key: str, for_update: bool = False) -> DbRow | None:
    q = _with_recipient().where(t_.c.ticket_key == key)
    if for_update:
        q = q.with_for_update(of=t_)
    return conn.execute(q).first()


def _ticket_out(conn: Connection, key: str) -> Record:
    row = _current(conn, key)
    assert row is not None  # written or found in this transaction
    return ticket_dict(row, payer_number=row.payer_number, recipient_number=row.recipient_number)


def _require_changeable(principal: Principal, cur: DbRow, expected_revision: int | None) -> None:
    """The caller's office, not cancelled, and the revision the clerk saw (saving and validating)."""
    principal.require_payer(cur.payer_number)
    if cur.status == CANCELLED:
        raise Conflict("取り消し済みの券は変更できません。", "The ticket is cancelled.")
    if expected_revision is not None and expected_revision != cur.revision:
        raise Conflict(
            "他の担当者が先に変更しました。再読み込みしてください。",
            f"Revision conflict: now {cur.revision}, you had {expected_revision}.",
        )


def _period_of(cur: DbRow) -> SimpleNamespace:
    """The 保護 period of the ticket's recipient, from the current-revision row (_current joins it)."""
    return SimpleNamespace(
        id=cur.recipient_id,
        qualification_date=cur.qualification_date,
        disqualification_date=cur.disqualification_date,
        disqualification_kind=cur.disqualification_kind,
    )


def _revise(
    db: Database,
    principal: Principal,
    key: str,
    status: str,
    values: Record | None,
    reason: str | None,
    expected_revision: int | None,
) -> Record:
    now = db.now()
    with db.write() as conn:
        cur = _current(conn, key, for_update=True)
        if not cur:
            if conn.execute(select(t_.c.id).where(t_.c.ticket_key == key).limit(1)).first():
                # another change of this ticket committed while we waited for its lock
                raise Conflict(
                    "他の担当者が同時に変更しました。再読み込みしてください。",
                    "The ticket was changed concurrently; reload and try again.",
                )
            raise NotFound("医療券/調剤券が見つかりません。", f"No ticket {key}.")
        _require_changeable(principal, cur, expected_revision)
        if values is not None:  # an amendment meets the same rules as a registration (itself excepted)
            lock_payers(conn, [cur.payer_number])
            check_ticket(conn, payer=cur.payer_number, rec=_period_of(cur), t=values, own_key=key)
        vals = values if values is not None else {c: getattr(cur, c) for c in TICKET_COLUMNS}
        moved = (
            cur.designated_facility_code if vals["designated_facility_code"] != cur.designated_facility_code else None
        )
        new_id = conn.execute(
            t_.insert()
            .values(
                ticket_key=key,
                revision=cur.revision + 1,
                recipient_id=cur.recipient_id,
                status=status,
                **vals,
                previous_facility_code=moved,
                seq=next_values(conn, "ticket_seq"),
                registered_at=cur.registered_at,
                changed_at=now,
                changed_by=principal.organisation_id or None,
                change_reason=reason,
            )
            .returning(t_.c.id)
        ).scalar_one()
        conn.execute(update(t_).where(t_.c.id == cur.id).values(superseded_by=new_id))
        record_change(
            conn,
            principal,
            "ticket.cancel" if status == CANCELLED else "ticket.amend",
            recipient_id=cur.recipient_id,
            detail=f"ticket={key} revision={cur.revision + 1}",
            at=now,
        )
        return _ticket_out(conn, key)


def amend_ticket(
    db: Database,
    principal: Principal,
    *,
    key: str,
    data: Record,
    reason: str | None = None,
    expected_revision: int | None = None,
) -> Record:
    """Replace a ticket's fields (the whole ticket is sent); the earlier revision stays in history."""
    data = {k: v for k, v in data.items() if k not in ("payer_number", "recipient_number")}
    return _revise(db, principal, key, ACTIVE, clean_ticket(data), reason, expected_revision)


def cancel_ticket(
    db: Database, principal: Principal, *, key: str, reason: str, expected_revision: int | None = None
) -> Record:
    if not reason or not reason.strip():
        raise ValidationFailed(
            problems=[
                FieldProblem("reason", "required", "取消理由を入力してください。", "A cancellation reason is required.")
            ]
        )
    return _revise(db, principal, key, CANCELLED, None, reason.strip()[:200], expected_revision)


def get_ticket(db: Database, principal: Principal, key: str) -> Record:
    with db.read() as conn:
        cur = _current(conn, key)
        if not cur:
            raise NotFound("医療券/調剤券が見つかりません。", f"No ticket {key}.")
        _require_read(principal, cur.payer_number)
        out = ticket_dict(cur, payer_number=cur.payer_number, recipient_number=cur.recipient_number)
        revs = conn.execute(select(t_).where(t_.c.ticket_key == key).order_by(t_.c.revision)).all()
        out["history"] = [ticket_dict(r) for r in revs]
    return out


def late_tickets(db: Database, principal: Principal, month: str) -> list[Record]:
    """Tickets registered after the recipient had already been checked at the designated facility
    that month (the facility saw 未登録 and the ticket came later): what bulk retrieval is for."""
    principal.require(WELFARE_OFFICE, ADMIN)
    cl = s.check_log
    start = dt.datetime(int(month[:4]), int(month[4:]), 1, tzinfo=JST)
    first_check = (
        select(func.min(cl.c.at))
        .where(
            cl.c.recipient_id == t_.c.recipient_id,
            cl.c.organisation_id == s.organisations.c.id,
            cl.c.method != "bulk",
            cl.c.at >= start,
        )
        .correlate(t_, s.organisations)
        .scalar_subquery()
    )
    q = (
        select(t_, r_.c.payer_number, r_.c.recipient_number, r_.c.name, first_check.label("first_check"))
        .select_from(
            t_.join(r_, r_.c.id == t_.c.recipient_id).join(
                s.organisations,
                and_(s.organisations.c.kind == "facility", s.organisations.c.code == t_.c.designated_facility_code),
            )
        )
        .where(t_.c.treatment_month == month, current_tickets())
    )
    if principal.kind == WELFARE_OFFICE:
        q = q.where(r_.c.payer_number.in_(sorted(principal.payer_numbers)))
    out = []
    with db.read() as conn:
        for row in conn.execute(q.order_by(t_.c.registered_at)):
            fc = aware(row.first_check)
            if fc is not None and aware(row.registered_at) > fc:
                d = ticket_dict(row, payer_number=row.payer_number, recipient_number=row.recipient_number)
                d["name"], d["first_checked_at"] = row.name, fc.isoformat()
                out.append(d)
    return out


# --- what the office's screens read ------------------------------------------------------------


def recipient_status(rec: Record, day: dt.date) -> tuple[str, str | None]:
    """A recipient's 保護 status on ``day`` in the vocabulary of :mod:`fujo.core.monthly` (valid,
    suspended, abolished, not_started) and the 停止・廃止日 (ISO) that applies — for ``valid`` the
    day it is to end, if recorded. Assistance covers its start day up to, not including, that day."""
    from ..core import monthly

    end = dt.date.fromisoformat(rec["disqualification_date"]) if rec.get("disqualification_date") else None
    if end is not None and day >= end:
        kind = monthly.SUSPENDED if rec.get("disqualification_kind") == "1" else monthly.ABOLISHED
        return kind, end.isoformat()
    if day < dt.date.fromisoformat(rec["qualification_date"]):
        return monthly.NOT_STARTED, None
    return monthly.VALID, end.isoformat() if end else None


def validate_ticket(
    db: Database,
    principal: Principal,
    *,
    data: Record,
    payer: str | None = None,
    rn: str | None = None,
    key: str | None = None,
    expected_revision: int | None = None,
) -> Record:
    """Every check that registering ``data`` for recipient ``payer``/``rn`` — or, with ``key``,
    amending that ticket — makes, with the same functions and in the same order, writing nothing:
    the screens show the registry's refusals field by field while the clerk types. Returns the clean
    ticket (with the registry's facility names); raises what saving would raise."""
    with db.read() as conn:
        if key is None:
            if payer is None or rn is None:
                raise ValueError("validate_ticket needs payer and rn, or key")
            principal.require_payer(payer)
            _, _, t = split_ticket_input({**data, "payer_number": payer, "recipient_number": rn})
            rec = _recipient_row(conn, payer, rn)
            if not rec:
                raise NotFound(f"受給者{payer}/{rn}が登録されていません。", f"No recipient {payer}/{rn}.")
            check_ticket(conn, payer=payer, rec=rec, t=t)
            return t
        cur = _current(conn, key)
        if not cur:
            raise NotFound("医療券/調剤券が見つかりません。", f"No ticket {key}.")
        _require_changeable(principal, cur, expected_revision)
        t = clean_ticket({k: v for k, v in data.items() if k not in ("payer_number", "recipient_number")})
        check_ticket(conn, payer=cur.payer_number, rec=_period_of(cur), t=t, own_key=key)
        return t


# the month view's filters: the ticket's state, or the recipient's 保護 status that month
MONTH_FILTERS = {
    "active": "有効",
    "amended": "変更あり",
    "cancelled": "取消",
    "suspended": "保護停止",
    "abolished": "保護廃止",
    "late": "事後登録",
}


def month_tickets(
    db: Database,
    principal: Principal,
    *,
    month: str,
    facility: str | None = None,
    status: str | None = None,
    late: bool = False,
    limit: int = 100,
    offset: int = 0,
) -> Record:
    """Every ticket (its newest revision, cancelled ones too) of the office's 公費負担者番号 for the
    treatment month ``month`` (yyyyMM or YYYY-MM), optionally of one designated ``facility``, with
    a ``status`` of :data:`MONTH_FILTERS` and only those registered after a first check (``late``,
    as :func:`late_tickets` says). Answers ``rows`` (one page: ``limit`` from ``offset``), ``total``
    (after the filters), ``counts`` of each filter (after the facility filter only) and the
    ``facilities`` designated that month (code, name, count). Refuses bad filters field by field."""
    from ..core import monthly
    from ..core.dates import month_key, parse_month

    principal.require(WELFARE_OFFICE, ADMIN)
    problems = Problems()
    ym, p = parse_month(month, "month")
    problems.add(p)
    if facility:
        problems.add(numbers.check_facility_code(facility, field="facility"))
    if status and status not in MONTH_FILTERS:
        problems.add(
            FieldProblem(
                "status",
                "code",
                f"状態は{'・'.join(MONTH_FILTERS.values())}のいずれかです。",
                f"status must be one of {', '.join(MONTH_FILTERS)}.",
            )
        )
    problems.raise_if_any()
    assert ym is not None  # else its problem was raised
    m = month_key(*ym)
    q = (
        _with_recipient(r_.c.name, r_.c.name_kana)
        .where(t_.c.treatment_month == m)
        .order_by(r_.c.payer_number, r_.c.recipient_number, t_.c.ticket_type, t_.c.id)
    )
    if principal.kind == WELFARE_OFFICE:
        q = q.where(r_.c.payer_number.in_(sorted(principal.payer_numbers)))
    with db.read() as conn:
        rows = conn.execute(q).all()
    first_checks = {d["ticket_key"]: d["first_checked_at"] for d in late_tickets(db, principal, m)}
    designated: dict[str, tuple[str, int]] = {}  # code → (name, tickets)
    counts = dict.fromkeys(("all", *MONTH_FILTERS), 0)
    matched: list[Record] = []
    for row in rows:
        code = row.designated_facility_code
        designated[code] = (row.designated_facility_name, designated.get(code, ("", 0))[1] + 1)
        if facility and row.designated_facility_code != facility:
            continue
        rstatus, rdate = monthly.month_status(row, m)
        tags = {"cancelled"} if row.status == CANCELLED else {"active"} | ({"amended"} if row.revision > 1 else set())
        if rstatus in (monthly.SUSPENDED, monthly.ABOLISHED):
            tags.add(rstatus)
        if row.ticket_key in first_checks:
            tags.add("late")
        counts["all"] += 1
        for tag in tags:
            counts[tag] += 1
        if (status and status not in tags) or (late and "late" not in tags):
            continue
        d = ticket_dict(row, payer_number=row.payer_number, recipient_number=row.recipient_number)
        d.update(
            name=row.name,
            name_kana=row.name_kana,
            state="cancelled" if row.status == CANCELLED else ("amended" if row.revision > 1 else "active"),
            recipient_status=rstatus,
            recipient_status_date=rdate.isoformat() if rdate else None,
            late="late" in tags,
            first_checked_at=first_checks.get(row.ticket_key),
        )
        matched.append(d)
    offset, limit = max(offset, 0), min(max(limit, 1), 500)
    return {
        "month": m,
        "total": len(matched),
        "counts": counts,
        "facilities": [{"code": c, "name": n, "count": k} for c, (n, k) in sorted(designated.items())],
        "rows": matched[offset : offset + limit],
        "offset": offset,
        "limit": limit,
    }
