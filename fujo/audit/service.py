"""Recording of every check and download (who asked, about whom, when, how, the outcome), and
the recipient's own access log built on it."""

from __future__ import annotations

import datetime as dt
from typing import Any, TypedDict, Unpack

from sqlalchemy import Connection, or_, select

from ..auth.principal import Principal
from ..db import schema as s
from ..db.database import Database, aware
from .writer import LogRow, writer_for

METHOD_JA = {
    "card": "マイナンバーカードで資格確認",
    "numbers": "番号で資格確認",
    "bulk": "委託先一括取得",
    "medinfo": "薬剤情報等の閲覧",
    "link": "マイナンバーカードとのひも付け（初回ひも付け）",
    "unlink": "マイナンバーカードとのひも付けの解除",
    "print": "医療券/調剤券の印刷（福祉事務所）",
}


class CheckDetails(TypedDict, total=False):
    """What a check_log row says besides who asked and the outcome (all optional)."""

    person_id: int | None
    recipient_id: int | None
    reason: str | None
    consent: str | None
    detail: str | None
    at: dt.datetime | None


def check_row(db: Database, principal: Principal, method: str, outcome: str, **details: Unpack[CheckDetails]) -> LogRow:
    """The check_log row for one check (who asked, about whom, when, how, the outcome)."""
    return dict(
        at=details.get("at") or db.now(),
        organisation_id=principal.organisation_id,
        credential_id=principal.credential_id,
        method=method,
        person_id=details.get("person_id"),
        recipient_id=details.get("recipient_id"),
        outcome=outcome,
        reason=details.get("reason"),
        consent=details.get("consent"),
        detail=details.get("detail"),
    )


def record_check(db: Database, principal: Principal, method: str, outcome: str, **details: Unpack[CheckDetails]) -> int:
    """Record one check; returns once the record is committed (group commit, see writer.py)."""
    return writer_for(db).record(check_row(db, principal, method, outcome, **details))


def record_many(
    conn: Connection, principal: Principal, method: str, rows: list[dict[str, Any]], at: dt.datetime
) -> None:
    """One entry per person a bulk download revealed (executemany, same transaction)."""
    if rows:
        conn.execute(
            s.check_log.insert(),
            [
                dict(
                    at=at,
                    organisation_id=principal.organisation_id,
                    credential_id=principal.credential_id,
                    method=method,
                    outcome="-",
                    **r,
                )
                for r in rows
            ],
        )


def access_log(db: Database, person_id: int | None, recipient_ids: list[int], limit: int = 200) -> list[dict[str, Any]]:
    """Who looked at this person's data, when and how (newest first)."""
    cl, o = s.check_log, s.organisations
    cond = []
    if person_id is not None:
        cond.append(cl.c.person_id == person_id)
    if recipient_ids:
        cond.append(cl.c.recipient_id.in_(recipient_ids))
    if not cond:
        return []
    q = (
        select(cl.c.at, cl.c.method, cl.c.outcome, cl.c.consent, o.c.name, o.c.code, o.c.kind)
        .select_from(cl.join(o, o.c.id == cl.c.organisation_id))
        .where(or_(*cond))
        .order_by(cl.c.at.desc(), cl.c.id.desc())
        .limit(limit)
    )
    with db.read() as conn:
        return [
            {
                "at": aware(r.at).isoformat(),
                "method": r.method,
                "method_ja": METHOD_JA.get(r.method, r.method),
                "outcome": r.outcome,
                "consent": r.consent,
                "organisation_name": r.name,
                "organisation_code": r.code,
            }
            for r in conn.execute(q)
        ]
