"""The hot-path queries of a check, built once at import (SQLAlchemy caches their compiled form).
Each is one indexed equality lookup returning plain rows; no ORM objects are loaded."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import and_, bindparam, select

from ..db import schema as s
from ..registry.queries import current_tickets, with_office

r, t, o, op, q, ref = (
    s.recipients,
    s.tickets,
    s.organisations,
    s.office_payers,
    s.insurance_qualifications,
    s.reference_numbers,
)

RECIPIENT_BY_NUMBERS = select(r).where(r.c.payer_number == bindparam("payer"), r.c.recipient_number == bindparam("rn"))
RECIPIENTS_OF_PERSON = select(r).where(r.c.person_id == bindparam("pid"))
TICKETS_OF_MONTH = select(t).where(
    t.c.recipient_id == bindparam("rid"), t.c.treatment_month == bindparam("month"), current_tickets()
)
INSURANCE_OF_PERSON = select(q).where(q.c.person_id == bindparam("pid")).order_by(q.c.qualification_date.desc())
INSURANCE_BY_NUMBERS = select(q).where(q.c.insurer_number == bindparam("ins"), q.c.card_number == bindparam("num"))
OFFICE_OF_PAYER = (
    select(o.c.name, o.c.phone)
    .select_from(op.join(o, o.c.id == op.c.organisation_id))
    .where(op.c.payer_number == bindparam("payer"))
)
REFERENCE = select(ref.c.reference_number).where(
    ref.c.facility_id == bindparam("fid"), ref.c.person_id == bindparam("pid")
)

# The recipient with what the answer needs besides tickets — the office to name (and call) and this
# facility's 照会番号 — in one round trip.
_WITH_CONTEXT = select(
    r, o.c.name.label("office_name"), o.c.phone.label("office_phone"), ref.c.reference_number.label("reference_number")
).select_from(
    with_office(r).outerjoin(ref, and_(ref.c.person_id == r.c.person_id, ref.c.facility_id == bindparam("fid")))
)
RECIPIENT_IN_CONTEXT = _WITH_CONTEXT.where(
    r.c.payer_number == bindparam("payer"), r.c.recipient_number == bindparam("rn")
)
RECIPIENTS_OF_PERSON_IN_CONTEXT = _WITH_CONTEXT.where(r.c.person_id == bindparam("pid"))

# The check by numbers' one read (issue 12: one round trip a check): the recipient in context and
# its tickets in force of the month, outer-joined — one row per ticket, or one row with no ticket.
# The ticket's columns come back as ``t_<column>`` and are turned back into ticket rows below.
_TICKET_AS = [c.label(f"t_{c.name}") for c in t.c]
_TICKET_LABELS = tuple(f"t_{c.name}" for c in t.c)
RECIPIENT_WITH_TICKETS = (
    select(
        r,
        o.c.name.label("office_name"),
        o.c.phone.label("office_phone"),
        ref.c.reference_number.label("reference_number"),
        *_TICKET_AS,
    )
    .select_from(
        with_office(r)
        .outerjoin(ref, and_(ref.c.person_id == r.c.person_id, ref.c.facility_id == bindparam("fid")))
        .outerjoin(t, and_(t.c.recipient_id == r.c.id, t.c.treatment_month == bindparam("month"), current_tickets()))
    )
    .where(r.c.payer_number == bindparam("payer"), r.c.recipient_number == bindparam("rn"))
    .order_by(t.c.id)
)

TicketRow = NamedTuple("TicketRow", [(c.name, Any) for c in t.c])  # type: ignore[misc]
"""A ticket read through :data:`RECIPIENT_WITH_TICKETS`, with the attributes of a ``tickets`` row."""


def split_tickets(rows: Sequence[Any]) -> tuple[Any | None, list[Any]]:
    """The recipient (the first row: it carries the recipient's columns) and its tickets, from the
    rows of :data:`RECIPIENT_WITH_TICKETS`; (None, []) when there are none."""
    if not rows:
        return None, []
    return rows[0], [TicketRow(*(getattr(x, n) for n in _TICKET_LABELS)) for x in rows if x.t_id is not None]
