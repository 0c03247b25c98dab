"""The queries of 薬剤情報等, said once: whose records, which consents, which disaster openings."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import Connection, and_, or_, select

from ..db import schema as s
from ..db.database import DbRow

r, m, cl, d, f = s.recipients, s.medinfo_records, s.check_log, s.disaster_openings, s.facilities

CONSENT_LOOKBACK = dt.timedelta(days=30)  # how far back the check log is read for the refusal's reason


def recipients_of(conn: Connection, *, person_id: int | None, recipient_id: int | None) -> Sequence[DbRow]:
    """Every recipient record of the person (all offices, before and after a move), or the one
    recipient when it is not linked to a card holder yet."""
    if person_id is not None:
        return conn.execute(select(r).where(r.c.person_id == person_id)).all()
    if recipient_id is not None:
        return conn.execute(select(r).where(r.c.id == recipient_id)).all()
    return []


def consent_rows(
    conn: Connection, *, person_id: int | None, recipient_ids: Sequence[int], now: dt.datetime
) -> Sequence[DbRow]:
    """The checks of the person (card and numbers) of the last :data:`CONSENT_LOOKBACK`."""
    who = []
    if person_id is not None:
        who.append(cl.c.person_id == person_id)
    if recipient_ids:
        who.append(cl.c.recipient_id.in_(list(recipient_ids)))
    if not who:
        return []
    return conn.execute(
        select(cl.c.organisation_id, cl.c.method, cl.c.at, cl.c.consent).where(
            or_(*who), cl.c.method.in_(("card", "numbers")), cl.c.at >= now - CONSENT_LOOKBACK
        )
    ).all()


def records(conn: Connection, recipient_ids: Sequence[int], category: str, since: dt.date) -> Sequence[DbRow]:
    """The served records of ``category`` (on or after ``since``: the retention), newest first."""
    if not recipient_ids:
        return []
    return conn.execute(
        select(m)
        .where(m.c.recipient_id.in_(list(recipient_ids)), m.c.category == category, m.c.on_date >= since)
        .order_by(m.c.on_date.desc(), m.c.id.desc())
    ).all()


def ingredients_of_codes(conn: Connection, codes: Sequence[str]) -> dict[str, str]:
    """drug code → 一般名 as the stored records name it (the records are the drug master here)."""
    if not codes:
        return {}
    rows = conn.execute(
        select(m.c.code, m.c.ingredient)
        .where(m.c.category == "medication", m.c.code.in_(list(codes)), m.c.ingredient.is_not(None))
        .distinct()
    ).all()
    return {x.code: x.ingredient for x in rows}


def openings_in_force(conn: Connection, now: dt.datetime) -> Sequence[DbRow]:
    return conn.execute(
        select(d).where(d.c.starts_at <= now, d.c.ends_at > now, or_(d.c.closed_at.is_(None), d.c.closed_at > now))
    ).all()


def facility_row(conn: Connection, code: str) -> DbRow | None:
    return conn.execute(select(f.c.code, f.c.prefecture, f.c.address).where(f.c.code == code)).first()


def candidates(conn: Connection, birthdate: dt.date, sex: str) -> Sequence[DbRow]:
    """Recipients born on ``birthdate`` with ``sex`` (the disaster search narrows them by name)."""
    return conn.execute(select(r).where(and_(r.c.birthdate == birthdate, r.c.sex == sex))).all()
