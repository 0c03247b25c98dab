"""Recording of every check and download (who asked, about whom, when, how, the outcome), every
change of the registry (recipients, tickets, card links), and the recipient's own access log built
on it. Every row goes through :func:`fujo.audit.chain.append` (the hash chain): checks through the
group-commit writer (writer.py), the rest inside the transaction of what they record."""

from __future__ import annotations

import datetime as dt
import itertools
from contextvars import ContextVar
from typing import Any, TypedDict, Unpack

from sqlalchemy import Connection, or_, select

from ..auth.principal import Principal
from ..db import schema as s
from ..db.database import Database, aware
from .chain import append, default_channel, stage_alike
from .writer import LogRow, writer_for

METHOD_JA = {
    "card": "マイナンバーカードで資格確認",
    "numbers": "番号で資格確認",
    "bulk": "委託先一括取得",
    "medinfo": "薬剤情報等の閲覧",
    "link": "マイナンバーカードとのひも付け（初回ひも付け）",
    "unlink": "マイナンバーカードとのひも付けの解除",
    "print": "医療券/調剤券の印刷（福祉事務所）",
    "pin_reset": "マイナンバーカードの暗証番号ロック解除コードの発行",
    "registry": "受給者情報・医療券の登録・変更（福祉事務所）",
    "claims": "レセプトの資格点検（請求前の照合）",
}

# registry changes (method "registry", category "registry"): the action goes into ``reason``
REGISTRY = "registry"
ACTION_JA = {
    "recipient.create": "受給者の登録",
    "recipient.update": "受給者情報の変更",
    "recipient.suspend": "保護の停止",
    "recipient.abolish": "保護の廃止",
    "ticket.register": "医療券/調剤券の発行",
    "ticket.amend": "医療券/調剤券の変更",
    "ticket.cancel": "医療券/調剤券の取消",
    "card.link": "マイナンバーカードとのひも付け",
    "card.unlink": "マイナンバーカードとのひも付けの解除",
    "recipient.restrict": "閲覧制限の設定",
    "recipient.unrestrict": "閲覧制限の解除",
}
CATEGORY_JA = {
    "medication": "薬剤情報",
    "diagnosis": "診療情報",
    "clinical": "診療情報",
    "checkups": "特定健診情報",
    "surgery": "手術情報",
    "operations": "手術情報",
    "registry": "登録情報",
}
CHANNEL_JA = {
    "web": "画面",
    "api": "API",
    "terminal": "資格確認端末",
    "fhir": "FHIR",
    "cli": "運用コマンド",
    "print": "印刷",
    "webhook": "更新通知（医療機関へのWebhook）",
}


# The channel of the request being served when the principal alone would name it wrongly: the FHIR
# interface (fujo/fhir/views.py) answers the same API tokens, and sets "fhir" here for the length of a
# request, so its checks and downloads are entries of channel fhir. Follows asyncio.to_thread.
CHANNEL: ContextVar[str | None] = ContextVar("fujo_audit_channel", default=None)


def channel_of(principal: Principal) -> str:
    """How the principal reached us when the caller does not say: :data:`CHANNEL` when set, else
    :func:`chain.default_channel`."""
    return CHANNEL.get() or default_channel(principal.user_id, principal.credential_id)


class CheckDetails(TypedDict, total=False):
    """What a check_log row says besides who asked and the outcome (all optional)."""

    person_id: int | None
    recipient_id: int | None
    reason: str | None
    consent: str | None
    detail: str | None
    at: dt.datetime | None
    category: str | None
    channel: str | None
    flags: str | None


def _who(principal: Principal, at: dt.datetime) -> LogRow:
    """When, and who: the organisation, its credential or web user, and the role they acted in."""
    return dict(
        at=at,
        organisation_id=principal.organisation_id,
        credential_id=principal.credential_id,
        user_id=principal.user_id,
        role=principal.role,
    )


def check_row(db: Database, principal: Principal, method: str, outcome: str, **details: Unpack[CheckDetails]) -> LogRow:
    """The check_log row for one check (who asked, about whom, when, how, the outcome)."""
    return dict(
        _who(principal, details.get("at") or db.now()),
        method=method,
        category=details.get("category"),
        # None: filled in by chain.append from user/credential, so a caller may still set it on the row
        channel=details.get("channel") or CHANNEL.get(),
        person_id=details.get("person_id"),
        recipient_id=details.get("recipient_id"),
        outcome=outcome,
        reason=details.get("reason"),
        consent=details.get("consent"),
        detail=details.get("detail"),
        flags=details.get("flags"),
    )


def record_check(db: Database, principal: Principal, method: str, outcome: str, **details: Unpack[CheckDetails]) -> int:
    """Record one check; returns once the record is committed (group commit, see writer.py)."""
    return writer_for(db).record(check_row(db, principal, method, outcome, **details))


def record_many(
    conn: Connection, principal: Principal, method: str, rows: list[dict[str, Any]], at: dt.datetime
) -> None:
    """One entry per person a bulk download (or a print, a card link) revealed, appended to the chain
    in the caller's transaction (one executemany): they commit together with what they record.
    Their ids are not asked for: RETURNING made it one INSERT a row on SQLite (68 → 45 ms for the
    1,000 entries of a FHIR page) and halved the native month download on PostgreSQL (docs/PERFORMANCE.md)."""
    if rows:
        append(
            conn,
            [dict(_who(principal, at), channel=channel_of(principal), method=method, outcome="-") | r for r in rows],
            want_ids=False,
        )


def record_change(
    conn: Connection,
    principal: Principal,
    action: str,
    *,
    recipient_id: int | None,
    person_id: int | None = None,
    detail: str | None = None,
    at: dt.datetime | None = None,
    channel: str | None = None,
) -> int:
    """One registry change (``action``: a key of :data:`ACTION_JA`), appended to the chain in the
    transaction of the change itself: the change never commits without its entry."""
    (entry,) = record_changes(
        conn, principal, action, [(recipient_id, person_id, detail)], at or Database.now(), channel
    )
    return entry


def record_changes(
    conn: Connection,
    principal: Principal,
    action: str,
    changes: list[tuple[int | None, int | None, str | None]],
    at: dt.datetime,
    channel: str | None = None,
    want_ids: bool = True,
    staged: bool = False,
) -> list[int]:
    """:func:`record_change` for many (recipient_id, person_id, detail) at once (one executemany), e.g.
    the rows of a CSV import, in the import's transaction; the entries' ids (none with ``want_ids=False``).
    ``staged``: written to ``audit_pending`` instead, for :func:`fujo.audit.chain.chain_pending` to
    append after the commit (no ids) — what a bulk change does, so as not to hold the chain's lock."""
    if not changes:
        return []
    base = dict(
        _who(principal, at),
        method=REGISTRY,
        category=REGISTRY,
        channel=channel or channel_of(principal),
        outcome="-",
        reason=action,
    )
    if staged:  # alike but for whom each is about: the text is built once (chain.stage_alike)
        # runs of the same detail, in the changes' order (the chain's order)
        for detail, run in itertools.groupby(changes, key=lambda c: (c[2] or None) and c[2][:200]):
            stage_alike(conn, {**base, "detail": detail}, [(rid, pid) for rid, pid, _ in run])
        return []
    rows = [
        dict(base, person_id=person_id, recipient_id=recipient_id, detail=(detail or None) and detail[:200])
        for recipient_id, person_id, detail in changes
    ]
    return append(conn, rows, want_ids=want_ids)


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
        select(
            cl.c.at,
            cl.c.method,
            cl.c.outcome,
            cl.c.consent,
            cl.c.reason,
            cl.c.category,
            cl.c.channel,
            cl.c.flags,
            o.c.name,
            o.c.code,
            o.c.kind,
        )
        .select_from(cl.outerjoin(o, o.c.id == cl.c.organisation_id))  # the operator (id 0) has no row
        .where(or_(*cond))
        .order_by(cl.c.at.desc(), cl.c.id.desc())
        .limit(limit)
    )
    with db.read() as conn:
        return [
            {
                "at": aware(r.at).isoformat(),
                "method": r.method,
                "method_ja": _what_ja(r),
                "outcome": r.outcome,
                "consent": r.consent,
                "category": r.category,
                "category_ja": CATEGORY_JA.get(r.category or "", r.category) if r.category != REGISTRY else None,
                "channel": r.channel,
                "channel_ja": CHANNEL_JA.get(r.channel or "", r.channel),
                "disaster": "disaster" in (r.flags or ""),
                "change": r.method == REGISTRY,
                "organisation_name": r.name or "運用管理者",
                "organisation_code": r.code or "-",
            }
            for r in conn.execute(q)
        ]


def _what_ja(r: Any) -> str:
    if r.method == REGISTRY:
        return ACTION_JA.get(r.reason or "", "登録情報の変更")
    return METHOD_JA.get(r.method, str(r.method))
