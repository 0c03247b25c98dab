"""The claims pre-check reports of the screens (issue 12): an upload's report is a row of
``claims_reports``, so its page and its CSV and JSON downloads are served by whichever server
process the request reaches (several workers, several hosts).

A report is kept for :data:`TTL` (30 minutes) under an opaque random id, for its owner only: the
same web user of the same organisation, on the same screen (facility or office). The session is not
part of the key — a user signed in twice (two browsers) reads their own report from either — but
another user, even of the same organisation, is answered 404 exactly like an unknown or expired id:
the report names recipients the uploader's check revealed (recorded in the audit trail for that
user), and another user has not asked. At most :data:`PER_USER` reports a user are kept (the oldest
go first), and every store deletes the expired rows of everyone (``expires_at`` is indexed), so the
table holds at most the last half hour's reports.

The row holds the report as its owner was shown it (JSON), nothing more: the personal data in it is
what the page and the downloads show that user."""

from __future__ import annotations

import datetime as dt
import json
import secrets
from typing import Any

from sqlalchemy import and_, delete, select

from ..auth.principal import Principal
from ..core.errors import NotFound
from ..db import schema as s
from ..db.database import Database

r_ = s.claims_reports

TTL = dt.timedelta(minutes=30)
PER_USER = 5  # a user's newest reports kept (an upload pushes the oldest out)
MODES = ("facility", "office")


def _not_found() -> NotFound:
    return NotFound(
        "点検結果が見つかりません（30分を過ぎたか、別の画面の結果です）。ファイルをもう一度点検してください。",
        "No such claims report (expired or not yours).",
    )


def store_report(
    db: Database, principal: Principal, mode: str, report: dict[str, Any], *, now: dt.datetime | None = None
) -> str:
    """Keep ``report`` for the web user ``principal`` on the ``mode`` screen; its id. Deletes the
    expired reports (everyone's) and this user's beyond the :data:`PER_USER` newest, in the same
    transaction."""
    if principal.user_id is None:
        raise ValueError("claims reports are kept for web users only")
    if mode not in MODES:
        raise ValueError(f"unknown claims report mode {mode!r}")
    now = now or db.now()
    rid = secrets.token_urlsafe(24)  # 32 characters, 192 bits
    body = json.dumps(report, ensure_ascii=False, separators=(",", ":"))
    with db.write() as conn:
        conn.execute(delete(r_).where(r_.c.expires_at <= now))
        older = (
            conn.execute(
                select(r_.c.id)
                .where(r_.c.user_id == principal.user_id)
                .order_by(r_.c.created_at.desc(), r_.c.id)
                .offset(PER_USER - 1)
            )
            .scalars()
            .all()
        )
        if older:
            conn.execute(delete(r_).where(r_.c.id.in_(older)))
        conn.execute(
            r_.insert().values(
                id=rid,
                organisation_id=principal.organisation_id,
                user_id=principal.user_id,
                mode=mode,
                created_at=now,
                expires_at=now + TTL,
                report=body,
            )
        )
    return rid


def load_report(
    db: Database, principal: Principal, rid: str, mode: str, *, now: dt.datetime | None = None
) -> dict[str, Any]:
    """The report ``rid`` if it is the caller's (same organisation and web user, same screen) and
    has not expired; else :class:`NotFound` (the same answer for each reason)."""
    if principal.user_id is None or mode not in MODES:
        raise _not_found()
    now = now or db.now()
    with db.read() as conn:
        body = conn.execute(
            select(r_.c.report).where(
                and_(
                    r_.c.id == rid[:40],
                    r_.c.organisation_id == principal.organisation_id,
                    r_.c.user_id == principal.user_id,
                    r_.c.mode == mode,
                    r_.c.expires_at > now,
                )
            )
        ).scalar_one_or_none()
    if body is None:
        raise _not_found()
    report: dict[str, Any] = json.loads(body)
    return report
