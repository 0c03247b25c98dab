"""The audit trail of a period as CSV, for the auditor (``fujo audit export``, ``GET /api/v1/audit/export``).

One row per ``check_log`` entry whose time falls in [from 00:00, to+1 00:00) JST, in chain order, with
who (organisation code, name and kind; credential, user and role), whom (recipient and person ids, the
recipient's 公費負担者番号 and 受給者番号), what (method, category, channel, flags, outcome, reason,
consent, detail) and the chain fields (seq, prev_hash, hash) so that the file can be checked against
``fujo audit verify`` and an anchor. UTF-8 with a BOM (Excel opens it), CRLF line ends (RFC 4180).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator

from sqlalchemy import select

from ..auth.principal import Principal
from ..core.dates import JST
from ..db import schema as s
from ..db.database import Database, aware

HEADER = (
    "seq",
    "id",
    "at",
    "organisation_code",
    "organisation_name",
    "organisation_kind",
    "credential_id",
    "user_id",
    "user_login",
    "role",
    "method",
    "category",
    "channel",
    "flags",
    "outcome",
    "reason",
    "consent",
    "person_id",
    "recipient_id",
    "payer_number",
    "recipient_number",
    "detail",
    "prev_hash",
    "hash",
)
MAX_DAYS = 366


def period(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[start 00:00, end+1 00:00) in JST."""
    return (
        dt.datetime.combine(start, dt.time(), JST),
        dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), JST),
    )


def rows(db: Database, principal: Principal, start: dt.date, end: dt.date, batch: int = 5000) -> Iterator[tuple]:
    """The CSV rows (without the header) of the period, in chain order."""
    principal.require_auditor()
    cl, o, u, r = s.check_log, s.organisations, s.users, s.recipients
    lo, hi = period(start, end)
    q = (
        select(
            cl.c.seq,
            cl.c.id,
            cl.c.at,
            o.c.code,
            o.c.name,
            o.c.kind,
            cl.c.credential_id,
            cl.c.user_id,
            u.c.login,
            cl.c.role,
            cl.c.method,
            cl.c.category,
            cl.c.channel,
            cl.c.flags,
            cl.c.outcome,
            cl.c.reason,
            cl.c.consent,
            cl.c.person_id,
            cl.c.recipient_id,
            r.c.payer_number,
            r.c.recipient_number,
            cl.c.detail,
            cl.c.prev_hash,
            cl.c.hash,
        )
        .select_from(
            cl.outerjoin(o, o.c.id == cl.c.organisation_id)
            .outerjoin(u, u.c.id == cl.c.user_id)
            .outerjoin(r, r.c.id == cl.c.recipient_id)
        )
        .where(cl.c.at >= lo, cl.c.at < hi)
        .order_by(cl.c.seq, cl.c.id)
    )
    with db.read() as conn:
        result = conn.execution_options(yield_per=batch).execute(q)
        for row in result:
            out = list(row)
            out[2] = aware(row.at).isoformat()
            yield tuple("" if v is None else v for v in out)


def chunks(db: Database, principal: Principal, start: dt.date, end: dt.date) -> Iterator[str]:
    """The CSV text in pieces (header first), for a streamed HTTP answer or a file."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    buf.write("\ufeff")
    w.writerow(HEADER)
    for n, row in enumerate(rows(db, principal, start, end), 1):
        w.writerow(row)
        if n % 1000 == 0:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


def check_period(start: dt.date, end: dt.date) -> str | None:
    """Why a period is refused (None when it is fine)."""
    if end < start:
        return "to is before from"
    if (end - start).days >= MAX_DAYS:
        return f"at most {MAX_DAYS} days at a time"
    return None


def record_export(db: Database, principal: Principal, start: dt.date, end: dt.date, channel: str) -> int:
    """The export itself is an entry of the chain (who took the trail of which period), recorded
    before the first row is read."""
    from .service import record_check

    principal.require_auditor()
    return record_check(
        db, principal, "export", "-", category="audit", channel=channel, detail=f"audit from={start} to={end}"
    )
