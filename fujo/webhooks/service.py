"""Webhooks: a facility registers a URL, and every change of a ticket designated to it (registered —
late or not —, amended, cancelled, moved away) is pushed there as a signed event.

The bulk change feed (:func:`fujo.bulk.service.changes_since`) stays the source of truth: events
are never produced in the request path of a registration. ``fujo worker`` (worker.py) reads the
feed from each endpoint's ``fetched_cursor`` *as the facility* (so the feed's rules apply
unchanged: only tickets designated to it, 未委託 and 停止・廃止 masking, the access log), and stores
the changes as events in the outbox together with the new cursor, in one transaction — so no change
is lost across restarts, and a retried event carries the same id and the same body. Events of an
endpoint are delivered one at a time in outbox order (the feed's order), each until it is answered
2xx; every attempt is a row of the delivery log (status, duration, error — no URL, no body).

The body of an event carries the ticket as the feed does (the facility may see it); it is erased
from the outbox once delivered, or when the endpoint is deleted.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import secrets
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection, func, or_, select, update

from ..audit.service import CHANNEL
from ..auth.principal import FACILITY, MANAGER, RECEPTION, Principal
from ..bulk.service import changes_since
from ..core.errors import Conflict, FieldProblem, NotFound, Problems, ValidationFailed
from ..db import schema as s
from ..db.database import Database, DbRow, aware, current_value
from ..facility.service import require_assistance
from ..registry.queries import ACTIVE

ep_, ev_, dl_, t_ = s.webhook_endpoints, s.webhook_events, s.webhook_deliveries, s.tickets

MAX_ENDPOINTS = 5  # per facility
URL_MAX = 500
SECRET_MIN, SECRET_MAX = 16, 128
CHANNEL_NAME = "webhook"  # the access log's channel of what the worker reads for a facility
WORKER_ACTOR = "webhook"

# the headers of every delivery (docs/API.md, "Webhooks")
EVENT_ID_HEADER = "Fujo-Event-Id"
EVENT_TYPE_HEADER = "Fujo-Event-Type"
TIMESTAMP_HEADER = "Fujo-Timestamp"
SIGNATURE_HEADER = "Fujo-Signature"
ATTEMPT_HEADER = "Fujo-Delivery-Attempt"
SIGNATURE_VERSION = "v1"
TOLERANCE = 300  # s: a receiver refuses a timestamp further from its clock (replay)

REGISTERED, AMENDED, CANCELLED, REMOVED, TEST = (
    "ticket.registered",
    "ticket.amended",
    "ticket.cancelled",
    "ticket.removed",
    "webhook.test",
)
EVENT_TYPES = {
    REGISTERED: "医療券/調剤券の登録",
    AMENDED: "医療券/調剤券の変更",
    CANCELLED: "医療券/調剤券の取消",
    REMOVED: "委託先の変更（他の医療機関・薬局へ）",
    TEST: "テスト送信",
}
DELIVERED, HTTP_ERROR, TIMEOUT, ERROR = "delivered", "http_error", "timeout", "error"
OUTCOMES = {DELIVERED: "送信済み", HTTP_ERROR: "受信側のエラー応答", TIMEOUT: "タイムアウト", ERROR: "接続できません"}


# --- pure parts: validation, event identity and type, signature ---------------------------------


def _problem(field: str, code: str, ja: str, en: str) -> FieldProblem:
    return FieldProblem(field, code, ja, en)


def check_url(url: object, field: str = "url") -> FieldProblem | None:
    """An http(s) URL with a host, without user:password and fragment, at most 500 characters.
    Addresses that are never a facility's receiver (link-local — the cloud metadata service —,
    multicast, unspecified) are refused; loopback and private networks are allowed (a receiver on
    the facility's closed network, tests)."""
    if not isinstance(url, str) or not url.strip():
        return _problem(field, "required", "URLを入力してください。", "url is required.")
    url = url.strip()
    if len(url) > URL_MAX:
        return _problem(
            field,
            "too_long",
            f"URLは{URL_MAX}文字以内です（入力は{len(url)}文字）。",
            f"url is at most {URL_MAX} characters.",
        )
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in url):
        return _problem(
            field,
            "url_format",
            "URLに空白や制御文字は使えません。",
            "url must not contain spaces or control characters.",
        )
    try:
        parts = urlsplit(url)
        port = parts.port  # ValueError when not a number in 0-65535
    except ValueError:
        return _problem(field, "url_format", "URLの形式が正しくありません。", "url is not a valid URL.")
    if parts.scheme.lower() not in ("http", "https"):
        return _problem(
            field,
            "url_scheme",
            "URLは http:// または https:// で始めてください。",
            "url must start with http:// or https://.",
        )
    if not parts.hostname:
        return _problem(field, "url_host", "URLにホスト名がありません。", "url has no host.")
    if parts.username is not None or parts.password is not None:
        return _problem(
            field,
            "url_credentials",
            "URLに利用者名・パスワードを含めないでください（署名で認証します）。",
            "url must not carry user:password (deliveries are authenticated by the signature).",
        )
    if parts.fragment or url.endswith("#"):
        return _problem(field, "url_fragment", "URLに # 以降は指定できません。", "url must not have a fragment.")
    if port == 0:
        return _problem(field, "url_format", "ポート番号0は使えません。", "port 0 is not allowed.")
    try:
        ip = ipaddress.ip_address(parts.hostname)
    except ValueError:
        return None
    if ip.is_link_local or ip.is_multicast or ip.is_unspecified:
        return _problem(
            field,
            "url_address",
            "このアドレスには送信できません（リンクローカル・マルチキャスト・未指定）。",
            "url points to an address deliveries are never sent to (link-local, multicast, unspecified).",
        )
    return None


def check_secret(secret: object, field: str = "secret") -> FieldProblem | None:
    if not isinstance(secret, str) or not SECRET_MIN <= len(secret) <= SECRET_MAX:
        return _problem(
            field,
            "secret_length",
            f"署名鍵は{SECRET_MIN}〜{SECRET_MAX}文字です。",
            f"secret must be {SECRET_MIN}-{SECRET_MAX} characters.",
        )
    if not all(0x21 <= ord(c) <= 0x7E for c in secret):
        return _problem(
            field,
            "secret_characters",
            "署名鍵は半角英数字・記号（空白を除く）で指定してください。",
            "secret must be printable ASCII without spaces.",
        )
    return None


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def event_id(facility_code: str, seq: int) -> str:
    """The id of the change ``seq`` for a facility: the same on every attempt, on the screen and in
    the feed (``Seq``), so a receiver drops repeats by it."""
    return f"evt_{facility_code}_{seq}"


def event_type(revision: Any, facility_code: str) -> str:
    """What a ticket revision (status, revision, designated_facility_code, previous_facility_code)
    means to ``facility_code``."""
    if revision.designated_facility_code != facility_code:
        return REMOVED  # moved to another facility
    if revision.status != ACTIVE:
        return CANCELLED
    if revision.revision == 1 or revision.previous_facility_code is not None:
        return REGISTERED  # new, or moved here from another facility
    return AMENDED


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``v1=`` + hex HMAC-SHA256 of ``timestamp`` + ``.`` + the body's bytes, keyed by the secret."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_VERSION}={mac}"


def verify_signature(
    secret: str, headers: Mapping[str, str], body: bytes, now: float | None = None, tolerance: int = TOLERANCE
) -> bool:
    """What a receiver does (docs/API.md): the signature matches (constant-time) and the timestamp is
    within ``tolerance`` seconds of its clock. ``headers`` is looked up case-insensitively."""
    low = {k.lower(): v for k, v in headers.items()}
    ts, sent = low.get(TIMESTAMP_HEADER.lower(), ""), low.get(SIGNATURE_HEADER.lower(), "")
    if not ts.isdigit():
        return False
    if now is not None and abs(now - int(ts)) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, ts, body), sent)


def signed_headers(secret: str, event: str, kind: str, timestamp: str, body: bytes, attempt: int) -> dict[str, str]:
    return {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "fujo-webhooks/1",
        EVENT_ID_HEADER: event,
        EVENT_TYPE_HEADER: kind,
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: signature(secret, timestamp, body),
        ATTEMPT_HEADER: str(attempt),
    }


def _iso(v: dt.datetime | None) -> str | None:
    return aware(v).isoformat() if v is not None else None


def _body(event: str, kind: str, code: str, created: dt.datetime, seq: int | None, data: Mapping[str, Any]) -> str:
    envelope = {
        "id": event,
        "type": kind,
        "created_at": created.isoformat(),
        "facility_code": code,
        "seq": seq,
        "data": data,
    }
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":"), default=str)


# --- the facility's endpoints (API and screens) -------------------------------------------------


def _endpoint_dict(row: DbRow, pending: int) -> dict[str, Any]:
    return {
        "id": row.id,
        "url": row.url,
        "created_at": _iso(row.created_at),
        "created_by": row.created_by,
        "cursor": row.delivered_cursor,
        "pending_events": pending,
        "failures": row.failures,
        "next_attempt_at": _iso(row.next_attempt_at),
        "last_success_at": _iso(row.last_success_at),
        "last_error": row.last_error,
    }


def _pending_counts(conn: Connection, ids: Sequence[int]) -> dict[int, int]:
    if not ids:
        return {}
    rows = conn.execute(
        select(ev_.c.endpoint_id, func.count())
        .where(ev_.c.endpoint_id.in_(ids), ev_.c.delivered_at.is_(None), ev_.c.body.is_not(None))
        .group_by(ev_.c.endpoint_id)
    ).all()
    return {int(r[0]): int(r[1]) for r in rows}


def _own(conn: Connection, principal: Principal, webhook_id: int, *, deleted_ok: bool = False) -> DbRow:
    q = select(ep_).where(ep_.c.id == webhook_id, ep_.c.organisation_id == principal.organisation_id)
    if not deleted_ok:
        q = q.where(ep_.c.deleted_at.is_(None))
    row = conn.execute(q).first()
    if row is None:
        raise NotFound("Webhookが見つかりません。", f"No webhook {webhook_id} for this facility.")
    return row


def register_webhook(
    db: Database, principal: Principal, *, url: object, secret: object = None, from_cursor: object = None
) -> dict[str, Any]:
    """Register a receiver (the facility's 管理者). ``secret``: the HMAC key, generated when not
    given; answered once, here, and never again. Events start after ``from_cursor`` (a ``Cursor`` of
    the bulk retrieval), by default after the current position: changes from now on."""
    principal.require(FACILITY)
    principal.require_role(MANAGER)
    problems = Problems()
    problems.add(check_url(url))
    if secret is not None:
        problems.add(check_secret(secret))
    if from_cursor is not None and (
        not isinstance(from_cursor, int) or isinstance(from_cursor, bool) or from_cursor < 0
    ):
        problems.add(
            _problem("from_cursor", "cursor", "開始カーソルは0以上の整数です。", "from_cursor must be an integer >= 0.")
        )
    problems.raise_if_any()
    assert isinstance(url, str)  # else check_url refused it
    url = url.strip()
    key = secret if isinstance(secret, str) else new_secret()
    now = db.now()
    with db.write() as conn:
        # registrations of one facility take turns (PostgreSQL; SQLite writers are serial): the
        # limit and the duplicate check below hold under concurrent requests
        o = s.organisations
        conn.execute(select(o.c.id).where(o.c.id == principal.organisation_id).with_for_update())
        urls = list(
            conn.execute(
                select(ep_.c.url).where(ep_.c.organisation_id == principal.organisation_id, ep_.c.deleted_at.is_(None))
            ).scalars()
        )
        if url in urls:
            raise Conflict("このURLは既に登録されています。", "This URL is already registered for this facility.")
        if len(urls) >= MAX_ENDPOINTS:
            raise Conflict(
                f"Webhookは1医療機関あたり{MAX_ENDPOINTS}件までです。",
                f"At most {MAX_ENDPOINTS} webhooks per facility.",
            )
        top = current_value(conn, "ticket_seq")
        if isinstance(from_cursor, int) and from_cursor > top:
            raise ValidationFailed(
                problems=[
                    _problem(
                        "from_cursor",
                        "cursor",
                        f"開始カーソルは現在の位置（{top}）以下です。",
                        f"from_cursor must not exceed the current position ({top}).",
                    )
                ]
            )
        start = from_cursor if isinstance(from_cursor, int) else top
        wid = conn.execute(
            ep_.insert()
            .values(
                organisation_id=principal.organisation_id,
                url=url,
                secret=key,
                created_at=now,
                created_by=(principal.actor or principal.role)[:100],  # as the setting changes record it
                fetched_cursor=start,
                delivered_cursor=start,
                failures=0,
            )
            .returning(ep_.c.id)
        ).scalar_one()
        row = conn.execute(select(ep_).where(ep_.c.id == wid)).one()
    return {**_endpoint_dict(row, 0), "secret": key}


def list_webhooks(db: Database, principal: Principal) -> dict[str, Any]:
    """The facility's receivers (never their secrets), with where delivery stands."""
    principal.require(FACILITY)
    with db.read() as conn:
        rows = conn.execute(
            select(ep_)
            .where(ep_.c.organisation_id == principal.organisation_id, ep_.c.deleted_at.is_(None))
            .order_by(ep_.c.id)
        ).all()
        pending = _pending_counts(conn, [r.id for r in rows])
    return {"webhooks": [_endpoint_dict(r, pending.get(r.id, 0)) for r in rows]}


def delete_webhook(db: Database, principal: Principal, webhook_id: int) -> None:
    """Stop sending to a receiver (管理者): the events not yet delivered are erased, the log stays."""
    principal.require(FACILITY)
    principal.require_role(MANAGER)
    now = db.now()
    with db.write() as conn:
        row = _own(conn, principal, webhook_id)
        conn.execute(update(ep_).where(ep_.c.id == row.id).values(deleted_at=now, lease_owner=None, lease_until=None))
        conn.execute(update(ev_).where(ev_.c.endpoint_id == row.id, ev_.c.delivered_at.is_(None)).values(body=None))


def deliveries(
    db: Database, principal: Principal, webhook_id: int, *, limit: int = 100, before: int | None = None
) -> dict[str, Any]:
    """The delivery log of a receiver, newest first (``before``: the ``id`` of the last row seen)."""
    principal.require(FACILITY)
    problems = Problems()
    if not isinstance(limit, int) or not 1 <= limit <= 1000:
        problems.add(_problem("limit", "limit", "件数は1〜1000です。", "limit must be 1-1000."))
    problems.raise_if_any()
    with db.read() as conn:
        row = _own(conn, principal, webhook_id, deleted_ok=True)
        q = select(dl_).where(dl_.c.endpoint_id == row.id).order_by(dl_.c.id.desc()).limit(limit)
        if before is not None:
            q = q.where(dl_.c.id < before)
        rows = conn.execute(q).all()
    return {
        "webhook_id": row.id,
        "deliveries": [
            {
                "id": r.id,
                "event_id": r.event_id,
                "event_type": r.event_type,
                "attempt": r.attempt,
                "at": _iso(r.at),
                "duration_ms": r.duration_ms,
                "status_code": r.status_code,
                "outcome": r.outcome,
                "error": r.error,
            }
            for r in rows
        ],
    }


def send_test_event(db: Database, principal: Principal, webhook_id: int) -> dict[str, Any]:
    """Queue a ``webhook.test`` event (管理者); the worker sends it after any event still waiting,
    right away: the wait of a backoff is cut short (the receiver may just have been repaired)."""
    principal.require(FACILITY)
    principal.require_role(MANAGER)
    now = db.now()
    eid = f"evt_{principal.code}_test_{secrets.token_hex(8)}"
    data = {"message": "fujo webhook test / テスト送信", "webhook_id": webhook_id}
    with db.write() as conn:
        row = _own(conn, principal, webhook_id)
        conn.execute(
            ev_.insert().values(
                endpoint_id=row.id,
                event_id=eid,
                event_type=TEST,
                body=_body(eid, TEST, principal.code, now, None, data),
                created_at=now,
                attempts=0,
            )
        )
        conn.execute(update(ep_).where(ep_.c.id == row.id).values(next_attempt_at=None, failures=0))
    return {"webhook_id": row.id, "event_id": eid, "queued": True}


# --- what the screens show: the facility's ticket events, live -----------------------------------


def recent_events(db: Database, principal: Principal, *, after: int | None = None, limit: int = 50) -> dict[str, Any]:
    """The facility's ticket events — the feed's changes, one per revision, with the event ids the
    webhooks use — newest first, or with ``after`` (a ``seq``) those after it, oldest first (what a
    screen polls for). What changed and when, never who: the person is seen, and recorded, in
    委託先一括取得. With each, how its webhook delivery stands."""
    principal.require(FACILITY)
    require_assistance(principal)
    limit = min(max(limit, 1), 200)
    code = principal.code
    q = select(
        t_.c.seq,
        t_.c.ticket_key,
        t_.c.revision,
        t_.c.status,
        t_.c.designated_facility_code,
        t_.c.previous_facility_code,
        t_.c.ticket_type,
        t_.c.treatment_month,
        t_.c.changed_at,
    ).where(or_(t_.c.designated_facility_code == code, t_.c.previous_facility_code == code))
    if after is not None:
        q = q.where(t_.c.seq > after).order_by(t_.c.seq).limit(limit)
    else:
        q = q.order_by(t_.c.seq.desc()).limit(limit)
    with db.read() as conn:
        rows = conn.execute(q).all()
        endpoints = conn.execute(
            select(ep_.c.id, ep_.c.fetched_cursor).where(
                ep_.c.organisation_id == principal.organisation_id, ep_.c.deleted_at.is_(None)
            )
        ).all()
        ids = [event_id(code, r.seq) for r in rows]
        outbox: dict[str, list[DbRow]] = {}
        if ids and endpoints:
            for e in conn.execute(
                select(ev_.c.event_id, ev_.c.delivered_at, ev_.c.attempts).where(
                    ev_.c.endpoint_id.in_([x.id for x in endpoints]), ev_.c.event_id.in_(ids)
                )
            ):
                outbox.setdefault(e.event_id, []).append(e)
        latest = current_value(conn, "ticket_seq")
    fetched = max((x.fetched_cursor for x in endpoints), default=None)
    events = []
    for r, eid in zip(rows, ids):
        sent = outbox.get(eid, [])
        if sent:
            state = "delivered" if all(e.delivered_at is not None for e in sent) else "pending"
        elif fetched is not None and r.seq > fetched:
            state = "pending"
        else:
            state = None  # no webhook, before it was registered, or sent within a later event of the ticket
        kind = event_type(r, code)
        events.append(
            {
                "event_id": eid,
                "event_type": kind,
                "event_type_ja": EVENT_TYPES[kind],
                "seq": r.seq,
                "ticket_key": r.ticket_key,
                "ticket_type": r.ticket_type,
                "treatment_month": r.treatment_month,
                "changed_at": _iso(r.changed_at),
                "webhook": state,
                "attempts": max((e.attempts for e in sent), default=0),
            }
        )
    return {"facility_code": code, "latest": latest, "events": events}


# --- the worker's side: leases, the outbox, the log ----------------------------------------------


def worker_principal(db: Database, organisation_id: int) -> Principal:
    """The facility as the worker reads the change feed for it: its least role that may (受付), no
    token and no web user; the access log names the channel ``webhook``."""
    from ..orgs.service import principal_for

    with db.read() as conn:
        code = conn.execute(select(s.organisations.c.code).where(s.organisations.c.id == organisation_id)).scalar_one()
    return principal_for(db, kind=FACILITY, code=code, role=RECEPTION, actor=WORKER_ACTOR)


def due_endpoints(db: Database, now: dt.datetime, limit: int = 1000) -> list[int]:
    """Endpoints to serve now: not deleted, not waiting for a retry, not claimed by a live worker."""
    with db.read() as conn:
        return list(
            conn.execute(
                select(ep_.c.id)
                .where(
                    ep_.c.deleted_at.is_(None),
                    or_(ep_.c.next_attempt_at.is_(None), ep_.c.next_attempt_at <= now),
                    or_(ep_.c.lease_until.is_(None), ep_.c.lease_until < now),
                )
                .order_by(ep_.c.id)
                .limit(limit)
            ).scalars()
        )


def claim(db: Database, endpoint_id: int, owner: str, now: dt.datetime, lease: dt.timedelta) -> DbRow | None:
    """Take the endpoint for ``lease`` (one worker at a time: events go out in order); None when
    another worker holds it, it waits for a retry, or it was deleted. Renew by claiming again."""
    with db.write() as conn:
        res = conn.execute(
            update(ep_)
            .where(
                ep_.c.id == endpoint_id,
                ep_.c.deleted_at.is_(None),
                or_(ep_.c.lease_owner == owner, ep_.c.lease_until.is_(None), ep_.c.lease_until < now),
                or_(ep_.c.next_attempt_at.is_(None), ep_.c.next_attempt_at <= now),
            )
            .values(lease_owner=owner, lease_until=now + lease)
        )
        if res.rowcount != 1:
            return None
        return conn.execute(select(ep_).where(ep_.c.id == endpoint_id)).one()


def release(db: Database, endpoint_id: int, owner: str) -> None:
    with db.write() as conn:
        conn.execute(
            update(ep_)
            .where(ep_.c.id == endpoint_id, ep_.c.lease_owner == owner)
            .values(lease_owner=None, lease_until=None)
        )


def next_event(db: Database, endpoint_id: int) -> DbRow | None:
    """The oldest event of the endpoint not delivered yet."""
    with db.read() as conn:
        return conn.execute(
            select(ev_)
            .where(ev_.c.endpoint_id == endpoint_id, ev_.c.delivered_at.is_(None), ev_.c.body.is_not(None))
            .order_by(ev_.c.id)
            .limit(1)
        ).first()


def fetch_events(db: Database, endpoint: DbRow, principal: Principal, limit: int = 100) -> int:
    """Read the change feed after the endpoint's ``fetched_cursor`` as the facility and store the
    changes as events, with the new cursor, in one transaction; the number stored (0: nothing new,
    or another worker moved the cursor first). Raises what the feed raises (e.g. 「医療扶助」 off)."""
    token = CHANNEL.set(CHANNEL_NAME)
    try:
        feed = changes_since(db, principal, int(endpoint.fetched_cursor), limit)
    finally:
        CHANNEL.reset(token)
    changes = feed["Changes"]
    code = principal.code
    now = db.now()
    with db.write() as conn:
        revisions: dict[int, DbRow] = {}
        seqs = [int(c["Seq"]) for c in changes]
        for i in range(0, len(seqs), 500):
            for r in conn.execute(
                select(
                    t_.c.seq,
                    t_.c.revision,
                    t_.c.status,
                    t_.c.designated_facility_code,
                    t_.c.previous_facility_code,
                ).where(t_.c.seq.in_(seqs[i : i + 500]))
            ):
                revisions[int(r.seq)] = r
        rows = []
        for c in changes:
            seq = int(c["Seq"])
            kind = event_type(revisions[seq], code)
            eid = event_id(code, seq)
            rows.append(
                dict(
                    endpoint_id=endpoint.id,
                    event_id=eid,
                    event_type=kind,
                    seq=seq,
                    ticket_key=c["TicketKey"],
                    body=_body(eid, kind, code, now, seq, c),
                    created_at=now,
                    attempts=0,
                )
            )
        values: dict[str, Any] = {"fetched_cursor": feed["Cursor"]}
        if not rows:  # nothing waiting (the outbox is read before the feed): delivered up to here too
            values["delivered_cursor"] = feed["Cursor"]
        moved = conn.execute(
            update(ep_)
            .where(
                ep_.c.id == endpoint.id,
                ep_.c.fetched_cursor == endpoint.fetched_cursor,
                ep_.c.deleted_at.is_(None),
            )
            .values(**values)
        )
        if moved.rowcount != 1:
            return 0  # nothing else was written in this transaction
        if rows:
            conn.execute(ev_.insert(), rows)
    return len(rows)


def record_attempt(
    db: Database,
    *,
    endpoint_id: int,
    event: DbRow,
    outcome: str,
    status_code: int | None,
    duration_ms: int,
    error: str | None,
    at: dt.datetime,
    retry_at: dt.datetime | None = None,
) -> None:
    """One attempt, in one transaction: the log row; when delivered, the event is marked (its body
    erased) and the endpoint's ``delivered_cursor`` moves; otherwise the endpoint waits until
    ``retry_at``."""
    attempt = int(event.attempts) + 1
    with db.write() as conn:
        conn.execute(
            dl_.insert().values(
                endpoint_id=endpoint_id,
                event_id=event.event_id,
                event_type=event.event_type,
                attempt=attempt,
                at=at,
                duration_ms=max(0, duration_ms),
                status_code=status_code,
                outcome=outcome,
                error=(error or None) and error[:200],
            )
        )
        if outcome == DELIVERED:
            conn.execute(update(ev_).where(ev_.c.id == event.id).values(delivered_at=at, body=None, attempts=attempt))
            values: dict[str, Any] = {
                "failures": 0,
                "next_attempt_at": None,
                "last_success_at": at,
                "last_error": None,
            }
            left = conn.execute(
                select(ev_.c.id)
                .where(ev_.c.endpoint_id == endpoint_id, ev_.c.delivered_at.is_(None), ev_.c.body.is_not(None))
                .limit(1)
            ).first()
            if left is None:
                values["delivered_cursor"] = ep_.c.fetched_cursor
            elif event.seq is not None:
                values["delivered_cursor"] = event.seq  # events go out in the feed's order
            conn.execute(update(ep_).where(ep_.c.id == endpoint_id).values(**values))
        else:
            conn.execute(update(ev_).where(ev_.c.id == event.id).values(attempts=attempt))
            conn.execute(
                update(ep_)
                .where(ep_.c.id == endpoint_id)
                .values(failures=ep_.c.failures + 1, next_attempt_at=retry_at, last_error=(error or outcome)[:200])
            )


def hold(db: Database, endpoint_id: int, until: dt.datetime, reason: str) -> None:
    """Nothing can be sent for now (e.g. the facility switched 「医療扶助」 off): try again ``until``."""
    with db.write() as conn:
        conn.execute(update(ep_).where(ep_.c.id == endpoint_id).values(next_attempt_at=until, last_error=reason[:200]))


def failures_of(db: Database, endpoint_id: int) -> int:
    with db.read() as conn:
        return int(conn.execute(select(ep_.c.failures).where(ep_.c.id == endpoint_id)).scalar_one())
