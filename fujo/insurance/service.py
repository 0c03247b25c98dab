"""Health-insurance qualifications (医療保険の資格) registered by insurers, so that one card check
returns both qualifications for a person who has both (the 併用 case)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import Connection, select

from ..auth.principal import ADMIN, INSURER, Principal
from ..core.errors import FieldProblem, Forbidden, NotFound, Problems, ValidationFailed
from ..core.fields import INSURANCE_FIELDS, check_insurance_rules, check_period, clean_record
from ..core.rows import Record
from ..db import schema as s
from ..db.database import Database, DbRow, InTx, aware
from ..eligibility.queries import INSURANCE_OF_PERSON

q_ = s.insurance_qualifications
COLUMNS = [f.name for f in INSURANCE_FIELDS]


def clean_insurance(data: Record) -> Record:
    problems = Problems()
    data = dict(data)
    data.pop("card_serial", None)
    rec = clean_record(INSURANCE_FIELDS, data, problems)
    check_period(rec, problems)
    check_insurance_rules(rec, problems)
    problems.raise_if_any()
    return rec


def _dict(row: DbRow) -> Record:
    d = {c: (getattr(row, c).isoformat() if isinstance(getattr(row, c), dt.date) else getattr(row, c)) for c in COLUMNS}
    d.update(id=row.id, card_linked=row.person_id is not None, updated_at=aware(row.updated_at).isoformat())
    return d


def insert_qualification(
    conn: Connection, principal: Principal, rec: Record, person_id: int | None, now: dt.datetime
) -> int:
    principal.require(INSURER, ADMIN)
    if principal.kind == INSURER and rec["insurer_number"] != principal.code:
        raise Forbidden(
            f"保険者番号{rec['insurer_number']}はこの保険者の番号ではありません。",
            f"Insurer number {rec['insurer_number']} is not yours.",
        )
    qid: int = conn.execute(
        q_.insert()
        .values(
            **rec, person_id=person_id, registered_by=principal.organisation_id or 0, created_at=now, updated_at=now
        )
        .returning(q_.c.id)
    ).scalar_one()
    return qid


def card_holder(conn: Connection, serial: str | None) -> int | None:
    """The person holding the card with this certificate serial (None when no serial is given)."""
    serial = (serial or "").strip().lower()
    if not serial:
        return None
    person_id: int | None = conn.execute(select(s.cards.c.person_id).where(s.cards.c.serial == serial)).scalar()
    if person_id is None:
        raise ValidationFailed(
            problems=[
                FieldProblem(
                    "card_serial", "unknown_card", "カードが見つかりません。", f"No card with serial {serial}."
                )
            ]
        )
    return person_id


def register_qualification(db: Database, principal: Principal, data: Record, in_tx: InTx = None) -> Record:
    """Register a qualification; ``card_serial`` (optional) links it to the card holder."""
    rec = clean_insurance(data)
    with db.write() as conn:
        qid = insert_qualification(conn, principal, rec, card_holder(conn, data.get("card_serial")), db.now())
        out = _dict(conn.execute(select(q_).where(q_.c.id == qid)).one())
        if in_tx:
            in_tx(conn, out)
    return out


def get_qualification(db: Database, principal: Principal, qid: int) -> Record:
    principal.require(INSURER, ADMIN)
    with db.read() as conn:
        row = conn.execute(select(q_).where(q_.c.id == qid)).first()
    if not row or (principal.kind == INSURER and row.insurer_number != principal.code):
        raise NotFound("資格が見つかりません。", f"No qualification {qid}.")
    return _dict(row)


def qualifications_of_person(db: Database, person_id: int) -> Sequence[DbRow]:
    """A card holder's own health-insurance qualifications, newest first (the recipient portal)."""
    with db.read() as conn:
        return conn.execute(INSURANCE_OF_PERSON, {"pid": person_id}).all()
