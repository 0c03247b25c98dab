"""What the claims check reads from the registry: typed query functions (no SQL elsewhere in the
package). The meaning of "current ticket" and "the recipient's office" is the registry's
(:mod:`fujo.registry.queries`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import Connection, and_, or_, select, tuple_

from ..core.fields import TICKET_FIELDS
from ..db import schema as s
from ..registry.queries import ACTIVE, current_tickets, latest_revision, with_office

t, r, o, op = s.tickets, s.recipients, s.organisations, s.office_payers
T = TypeVar("T")
CHUNK = 500  # keys per IN (…): well under every driver's parameter limit


@dataclass(frozen=True)
class RecipientRow:
    id: int
    person_id: int | None
    payer_number: str
    recipient_number: str
    name: str
    sex: str
    birthdate: dt.date
    qualification_date: dt.date
    disqualification_date: dt.date | None
    disqualification_kind: str | None
    office_name: str | None
    office_phone: str | None


@dataclass(frozen=True)
class TicketRow:
    """A revision of a ticket, as the check needs it."""

    ticket_key: str
    revision: int
    recipient_id: int
    status: str
    treatment_month: str
    valid_from: dt.date
    valid_to: dt.date
    designated_facility_code: str
    designated_facility_name: str
    previous_facility_code: str | None
    single_or_combined: str
    registered_at: dt.datetime
    changed_at: dt.datetime
    superseded: bool

    @property
    def active(self) -> bool:
        return self.status == ACTIVE and not self.superseded


_RECIPIENT = select(
    r.c.id,
    r.c.person_id,
    r.c.payer_number,
    r.c.recipient_number,
    r.c.name,
    r.c.sex,
    r.c.birthdate,
    r.c.qualification_date,
    r.c.disqualification_date,
    r.c.disqualification_kind,
    o.c.name.label("office_name"),
    o.c.phone.label("office_phone"),
).select_from(with_office(r))

_TICKET = select(
    t.c.ticket_key,
    t.c.revision,
    t.c.recipient_id,
    t.c.status,
    t.c.treatment_month,
    t.c.valid_from,
    t.c.valid_to,
    t.c.designated_facility_code,
    t.c.designated_facility_name,
    t.c.previous_facility_code,
    t.c.single_or_combined,
    t.c.registered_at,
    t.c.changed_at,
    t.c.superseded_by.is_not(None).label("superseded"),
)


def _chunks(items: Sequence[T]) -> Iterable[Sequence[T]]:
    for i in range(0, len(items), CHUNK):
        yield items[i : i + CHUNK]


def known_payers(conn: Connection, numbers: Iterable[str]) -> dict[str, tuple[str, str | None]]:
    """公費負担者番号 registered to a 福祉事務所 → (office name, phone)."""
    wanted = sorted(set(numbers))
    out: dict[str, tuple[str, str | None]] = {}
    for part in _chunks(wanted):
        q = select(op.c.payer_number, o.c.name, o.c.phone).join(o, o.c.id == op.c.organisation_id)
        for row in conn.execute(q.where(op.c.payer_number.in_(part))):
            out[row.payer_number] = (row.name, row.phone)
    return out


def recipients_by_numbers(conn: Connection, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], RecipientRow]:
    """Recipients by (公費負担者番号, 受給者番号)."""
    wanted = sorted(set(pairs))
    out: dict[tuple[str, str], RecipientRow] = {}
    for part in _chunks(wanted):
        for row in conn.execute(_RECIPIENT.where(tuple_(r.c.payer_number, r.c.recipient_number).in_(part))):
            out[(row.payer_number, row.recipient_number)] = RecipientRow(**row._mapping)
    return out


def facility_tickets(conn: Connection, facility_code: str, recipient_ids: Iterable[int]) -> list[TicketRow]:
    """The newest revision of every ticket that designates — or designated, before an amendment moved
    it — the facility, for these recipients: the facility's own tickets, nobody else's."""
    ids = sorted(set(recipient_ids))
    keys: set[str] = set()
    for part in _chunks(ids):
        q = select(t.c.ticket_key).where(
            t.c.recipient_id.in_(part),
            or_(t.c.designated_facility_code == facility_code, t.c.previous_facility_code == facility_code),
        )
        keys.update(conn.execute(q.distinct()).scalars())
    return _latest(conn, sorted(keys))


def office_tickets(conn: Connection, recipient_ids: Iterable[int], months: Iterable[str]) -> list[TicketRow]:
    """The newest revision of every ticket of these recipients in these months (the office's own)."""
    ids, ms = sorted(set(recipient_ids)), sorted(set(months))
    out: list[TicketRow] = []
    for part in _chunks(ids):
        q = _TICKET.where(t.c.recipient_id.in_(part), t.c.treatment_month.in_(ms), latest_revision())
        out.extend(TicketRow(**row._mapping) for row in conn.execute(q))
    return out


def _latest(conn: Connection, keys: Sequence[str]) -> list[TicketRow]:
    out: list[TicketRow] = []
    for part in _chunks(keys):
        q = _TICKET.where(t.c.ticket_key.in_(part), latest_revision())
        out.extend(TicketRow(**row._mapping) for row in conn.execute(q))
    return out


@dataclass(frozen=True)
class Revision:
    """One revision of a ticket as it was written: when, and every field of the ticket then."""

    ticket_key: str
    revision: int
    status: str
    changed_at: dt.datetime
    values: dict[str, object]


_REVISION_COLUMNS = [t.c[f.name] for f in TICKET_FIELDS]


def ticket_revisions(conn: Connection, keys: Iterable[str]) -> dict[str, list[Revision]]:
    """Every revision of these tickets, oldest first (the history an amendment is judged by)."""
    wanted = sorted(set(keys))
    out: dict[str, list[Revision]] = {}
    for part in _chunks(wanted):
        q = (
            select(t.c.ticket_key, t.c.revision, t.c.status, t.c.changed_at, *_REVISION_COLUMNS)
            .where(t.c.ticket_key.in_(part))
            .order_by(t.c.ticket_key, t.c.revision)
        )
        for row in conn.execute(q):
            m = row._mapping
            out.setdefault(row.ticket_key, []).append(
                Revision(
                    row.ticket_key, row.revision, row.status, row.changed_at, {f.name: m[f.name] for f in TICKET_FIELDS}
                )
            )
    return out


@dataclass(frozen=True)
class UnbilledRow:
    ticket_key: str
    revision: int
    recipient_id: int
    payer_number: str
    recipient_number: str
    name: str
    treatment_month: str
    designated_facility_code: str
    designated_facility_name: str


def office_month_tickets(
    conn: Connection, payer_numbers: Iterable[str], months: Iterable[str]
) -> Iterable[UnbilledRow]:
    """Every ticket in force of the office's 公費負担者番号 in these months (streamed)."""
    q = (
        select(
            t.c.ticket_key,
            t.c.revision,
            t.c.recipient_id,
            r.c.payer_number,
            r.c.recipient_number,
            r.c.name,
            t.c.treatment_month,
            t.c.designated_facility_code,
            t.c.designated_facility_name,
        )
        .select_from(t.join(r, r.c.id == t.c.recipient_id))
        .where(
            and_(
                r.c.payer_number.in_(sorted(set(payer_numbers))),
                t.c.treatment_month.in_(sorted(set(months))),
                current_tickets(),
            )
        )
        .order_by(t.c.treatment_month, r.c.payer_number, r.c.recipient_number, t.c.id)
    )
    for row in conn.execution_options(stream_results=True, yield_per=CHUNK).execute(q):
        yield UnbilledRow(**row._mapping)
