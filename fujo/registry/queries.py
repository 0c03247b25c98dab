"""What the registry's tables mean, said once for every query that reads them.

Tickets are append-only revisions (amend and cancel insert a revision and mark the previous one
``superseded_by``), so "the ticket" is its newest revision, and a ticket counts — for checks, bulk
retrieval, the duplicate rules, the screens — only while that revision is not cancelled. A
recipient's 福祉事務所 is the organisation owning the recipient's 公費負担者番号."""

from __future__ import annotations

from sqlalchemy import ColumnElement, FromClause, Join, and_

from ..db import schema as s

ACTIVE, CANCELLED = "active", "cancelled"  # tickets.status

_t, _r, _o, _op = s.tickets, s.recipients, s.organisations, s.office_payers


# Who the recipient is and which 福祉事務所 to call: the columns every listing of tickets shows.
RECIPIENT_COLUMNS = (
    _r.c.payer_number,
    _r.c.recipient_number,
    _r.c.name,
    _r.c.name_kana,
    _r.c.sex,
    _r.c.birthdate,
    _r.c.address,
    _r.c.restricted,  # 閲覧制限 (core.eligibility.restricted_view)
    _o.c.name.label("office_name"),
    _o.c.phone.label("office_phone"),
)


def latest_revision() -> ColumnElement[bool]:
    """Condition: the ticket's newest revision (cancelled or not) — what a ticket says now."""
    newest: ColumnElement[bool] = _t.c.superseded_by.is_(None)  # (Column[Any] operators answer Any)
    return newest


def current_tickets() -> ColumnElement[bool]:
    """Condition: tickets in force — the newest revision of each, not cancelled."""
    return and_(latest_revision(), _t.c.status == ACTIVE)


def with_office(from_: FromClause = _r) -> Join:
    """``recipients`` (or a join holding it) outer-joined to the 福祉事務所 that owns each recipient's
    公費負担者番号, so the query can select the office's name and phone (whom to call)."""
    return from_.outerjoin(_op, _op.c.payer_number == _r.c.payer_number).outerjoin(_o, _o.c.id == _op.c.organisation_id)
