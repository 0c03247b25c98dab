"""委託先資格情報一括取得: every 医療券/調剤券 designated to a facility for a month, with the linked
qualification data — and the incremental form, "what changed since cursor N", through which
tickets the welfare office registered after the visit reach the レセコン without a revisit.

Every row carries the qualification status of the month (有効 / 停止 / 廃止 with the date, see
fujo.core.monthly); a person who is not billable that month is withheld exactly as in a check.
Each ticket carries ``RegisteredAt``, the time that ticket was first registered."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import groupby

from sqlalchemy import ColumnElement, Connection, and_, bindparam, or_, select, union_all

from ..audit.service import record_check, record_many
from ..auth.principal import FACILITY, Principal
from ..core import codes, monthly, notices
from ..core.dates import required_month
from ..core.eligibility import AssistanceDecision, assistance_result
from ..core.errors import FieldProblem, Problems
from ..core.rows import WireDict
from ..db import schema as s
from ..db.database import Database, DbRow, aware, current_value, one_of
from ..facility.service import require_assistance
from ..registry.queries import ACTIVE, RECIPIENT_COLUMNS, current_tickets, latest_revision, with_office

t, r, o = s.tickets, s.recipients, s.organisations
nxt = s.tickets.alias("next_revision")
STREAM_ROWS = 500  # rows fetched from the server-side cursor at a time
RECORD_EVERY = 500  # recipients of a month download recorded (one commit) before they are sent

_SELECT = select(
    t,
    *RECIPIENT_COLUMNS,
    r.c.person_id,
    r.c.post_number,
    r.c.qualification_date,
    r.c.disqualification_date,
    r.c.disqualification_kind,
    s.reference_numbers.c.reference_number,
).select_from(
    with_office(t.join(r, r.c.id == t.c.recipient_id)).outerjoin(
        # this facility's 照会番号 for the person: the receipt computer files the row under its chart
        s.reference_numbers,
        and_(
            s.reference_numbers.c.person_id == r.c.person_id,
            s.reference_numbers.c.facility_id == bindparam("fid"),
        ),
    )
)


def _results(rows: Iterable[DbRow], principal: Principal) -> list[WireDict]:
    """One ResultOfQualificationConfirmation per recipient, carrying that recipient's tickets."""
    by_recipient: dict[int, tuple[DbRow, list[DbRow]]] = {}
    for row in rows:
        by_recipient.setdefault(row.recipient_id, (row, []))[1].append(row)
    out = []
    for first, tickets in by_recipient.values():
        billable = [x for x in tickets if monthly.billable(first, x)]
        # not billable this month: withheld as in a check of a lost qualification (no numbers, no tickets)
        decision = (
            AssistanceDecision(codes.VALID, "designated", billable)
            if billable
            else AssistanceDecision(codes.INVALID, "lost")
        )
        res = assistance_result(first, first.office_name or "", decision, principal.code, first.reference_number)
        res.update(monthly.status_fields(*monthly.month_status(first, tickets[0].treatment_month)))
        if not billable:  # the same notice as a check of a lost qualification (FJ0201, whom to call)
            notices.annotate(
                {"ResultList": [res], "Contact": {"OfficeName": first.office_name or "", "Phone": first.office_phone}}
            )
        for info, x in zip((res.get("PublicExpenseResultList") or {}).get("MedicalTicketInfo", []), billable):
            info["RegisteredAt"] = aware(x.registered_at).isoformat()  # this ticket's own registration
        out.append(res)
    return out


# the download's order: by 公費負担者番号, 受給者番号, then revision (a recipient's tickets together)
MONTH_ORDER = (r.c.payer_number, r.c.recipient_number, t.c.id)


def ticket_results(
    conn: Connection, principal: Principal, *where: ColumnElement[bool], limit: int | None = None
) -> list[tuple[DbRow, WireDict]]:
    """The ticket revisions designated to the facility that match ``where``, in the download's order,
    each with its result as the download shows that one ticket (the same masking): for readers of one
    ticket at a time (the FHIR Coverage resources; the row keeps ``ticket_key``, ``recipient_id`` and
    ``person_id``). Records nothing: the caller records what it reveals."""
    query = _SELECT.where(t.c.designated_facility_code == principal.code, *where).order_by(*MONTH_ORDER)
    if limit is not None:
        query = query.limit(limit)
    rows = conn.execute(query, {"fid": principal.organisation_id}).all()  # one fetch, not one a row
    return [(x, _results([x], principal)[0]) for x in rows]


def as_of(cursor: int) -> ColumnElement[bool]:
    """Condition: the ticket revisions in force when the change counter stood at ``cursor`` — a
    snapshot that a later read reproduces exactly, whatever was registered or amended since (those
    changes reach the facility through :func:`changes_since` from that cursor on)."""
    later = select(nxt.c.id).where(nxt.c.id == t.c.superseded_by, nxt.c.seq > cursor).exists()
    return and_(t.c.seq <= cursor, or_(t.c.superseded_by.is_(None), later), t.c.status == ACTIVE)


@dataclass
class MonthStream:
    """A facility's month, ready to be sent: the header, and the results one recipient at a time,
    read from a server-side cursor when iterated (memory stays flat for any size of month)."""

    header: WireDict  # MedicalInstitutionCode, MedicalTreatmentMonth, Cursor
    results: Iterator[WireDict]


def open_month(db: Database, principal: Principal, month: str) -> MonthStream:
    """The facility's tickets of ``month`` as they stood at ``Cursor`` (one snapshot, read row by row
    from a server-side cursor). Every recipient is recorded (and committed) before it is sent, a
    batch of ``RECORD_EVERY`` at a time: the first batch before this returns — so a refusal or a
    database fault comes before any byte — and each next one before its results are handed out.
    Before, the whole month was recorded first: the first byte of an 18,925-ticket month waited 1.2 s
    for its 18,925 entries (docs/PERFORMANCE.md)."""
    principal.require(FACILITY)
    m = required_month(month)
    require_assistance(principal)
    mine = and_(t.c.designated_facility_code == principal.code, t.c.treatment_month == m)
    with db.read() as conn:
        # the counter is read committed: every ticket revision up to it has committed (next_values)
        cursor = current_value(conn, "ticket_seq")
    query = _SELECT.where(mine, as_of(cursor)).order_by(*MONTH_ORDER)
    detail = f"month={m}"

    def recorded_batches() -> Iterator[list[tuple[DbRow, WireDict]]]:
        with db.read() as conn:
            rows = conn.execution_options(stream_results=True, yield_per=STREAM_ROWS).execute(
                query, {"fid": principal.organisation_id}
            )
            batch: list[tuple[DbRow, WireDict]] = []
            for _, group in groupby(rows, key=lambda x: x.recipient_id):
                tickets = list(group)
                batch.append((tickets[0], _results(tickets, principal)[0]))
                if len(batch) >= RECORD_EVERY:
                    yield _recorded(db, principal, batch, detail)
                    batch = []
            if batch:
                yield _recorded(db, principal, batch, detail)

    batches = recorded_batches()
    head = next(batches, [])  # recorded before the caller answers anything

    def results() -> Iterator[WireDict]:
        yield from (res for _, res in head)
        for batch in batches:
            yield from (res for _, res in batch)

    return MonthStream(
        {"MedicalInstitutionCode": principal.code, "MedicalTreatmentMonth": m, "Cursor": cursor}, results()
    )


def _recorded(
    db: Database, principal: Principal, batch: list[tuple[DbRow, WireDict]], detail: str
) -> list[tuple[DbRow, WireDict]]:
    """The batch, once one ``bulk`` entry per recipient in it is committed (the audit trail)."""
    with db.write() as conn:
        entries = [{"person_id": x.person_id, "recipient_id": x.recipient_id, "detail": detail} for x, _ in batch]
        record_many(conn, principal, "bulk", entries, db.now())
    return batch


def tickets_for_month(db: Database, principal: Principal, month: str) -> WireDict:
    """The whole month as one document (the screens and the CLI; the API streams it)."""
    stream = open_month(db, principal, month)
    results = list(stream.results)
    return {**stream.header, "Count": len(results), "ResultList": results}


def _was_in_month(conn: Connection, key: str, month: str, cursor: int) -> bool:
    """Was the ticket, as of ``cursor``, in ``month`` (so a follower of that month holds it)?"""
    return (
        conn.execute(
            select(t.c.id).where(t.c.ticket_key == key, t.c.treatment_month == month, t.c.seq <= cursor).limit(1)
        ).first()
        is not None
    )


def _touched(conn: Connection, code: str, cursor: int, top: int, n: int) -> list[DbRow]:
    """The first ``n`` ticket revisions after ``cursor`` (up to ``top``) designated to the facility
    ``code`` or moved away from it, in ``seq`` order. Each side is its own index range —
    (facility, seq) — merged: asked as one OR, the planners walked the ``seq`` index through every
    facility's changes (57,000 rows for 1,000), and on PostgreSQL's monthly partitions did that in
    each month (0.5 s)."""
    sides = [
        select(t.c.seq, t.c.ticket_key, t.c.treatment_month)
        .where(col == code, t.c.seq > cursor, t.c.seq <= top)
        .order_by(t.c.seq)
        .limit(n)
        .subquery()
        for col in (t.c.designated_facility_code, t.c.previous_facility_code)
    ]
    both = union_all(*(select(side) for side in sides)).subquery()
    rows = conn.execute(select(both).order_by(both.c.seq).limit(n)).all()
    # a revision is on one side only (previous_facility_code is set when the facility changed)
    return list({x.seq: x for x in rows}.values())


def _latest_revisions(conn: Connection, principal: Principal, keys: list[str], months: set[str]) -> list[DbRow]:
    """The newest revision of each ticket of ``keys`` (read with :data:`_SELECT`), looked for first in
    ``months`` — those of the revisions the feed found — and only for the keys not found there in
    every month. On PostgreSQL the tickets are partitioned by month (fujo.db.partitions): a look-up by
    key alone probes every month's partition (500 keys × 17 months: +35 % on the feed); a ticket's
    newest revision lies outside those months only if a later change moved it to a month where it is
    no longer this facility's (rare), and is then found by the second read."""
    rows: list[DbRow] = []
    for within in (True, False):
        for i in range(0, len(keys), 500):
            q = _SELECT.where(one_of(conn, t.c.ticket_key, keys[i : i + 500]), latest_revision())
            if within:
                q = q.where(one_of(conn, t.c.treatment_month, sorted(months)))
            rows += conn.execute(q, {"fid": principal.organisation_id}).all()
        found = {x.ticket_key for x in rows}
        keys = [k for k in keys if k not in found]
        if not keys:
            break
    return rows


def changes_since(
    db: Database, principal: Principal, cursor: int, limit: int = 1000, month: str | None = None
) -> WireDict:
    """Tickets that changed for this facility after ``cursor``: ``upsert`` for a ticket now
    designated to it (new, amended, registered late), ``removed`` for one cancelled or moved away.
    Returns the next cursor; ``HasMore`` says to call again."""
    principal.require(FACILITY)
    problems = Problems()
    if not isinstance(cursor, int) or cursor < 0:
        problems.add(FieldProblem("cursor", "cursor", "カーソルは0以上の整数です。", "cursor must be an integer >= 0."))
    if not isinstance(limit, int) or not 1 <= limit <= 10000:
        problems.add(FieldProblem("limit", "limit", "件数は1〜10000です。", "limit must be 1-10000."))
    problems.raise_if_any()
    m = required_month(month) if month not in (None, "") else None
    require_assistance(principal)
    now = db.now()
    with db.write() as conn:
        # Reading the counter first: every change with seq <= top has committed (the counter's
        # row lock is held to commit), so nothing below the returned cursor can appear later.
        top = current_value(conn, "ticket_seq")
        touched = _touched(conn, principal.code, cursor, top, limit + 1)
        has_more = len(touched) > limit
        touched = touched[:limit]
        next_cursor = touched[-1].seq if has_more else max(top, cursor)
        keys = list(dict.fromkeys(x.ticket_key for x in touched))
        months_touched: dict[str, set[str]] = {}
        for x in touched:
            months_touched.setdefault(x.ticket_key, set()).add(x.treatment_month)
        changes: list[WireDict] = []
        revealed: dict[int, int | None] = {}  # recipient id → person id
        for row in _latest_revisions(conn, principal, keys, {x.treatment_month for x in touched}):
            if m and row.treatment_month != m:
                # moved out of the month being followed: the follower must drop it
                if m in months_touched.get(row.ticket_key, ()) or _was_in_month(conn, row.ticket_key, m, cursor):
                    changes.append({"Change": "removed", "TicketKey": row.ticket_key, "Seq": row.seq})
                continue
            if row.status == ACTIVE and row.designated_facility_code == principal.code:
                res = _results([row], principal)[0]
                changes.append({"Change": "upsert", "TicketKey": row.ticket_key, "Seq": row.seq, "Result": res})
                revealed[row.recipient_id] = row.person_id
            else:
                changes.append({"Change": "removed", "TicketKey": row.ticket_key, "Seq": row.seq})
        changes.sort(key=lambda c: c["Seq"])
        record_many(
            conn,
            principal,
            "bulk",
            [{"person_id": p, "recipient_id": rid, "detail": f"since={cursor}"} for rid, p in revealed.items()],
            now,
        )
    return {"MedicalInstitutionCode": principal.code, "Cursor": next_cursor, "HasMore": has_more, "Changes": changes}


# --- the screen's CSV download: which rows are new since this facility's last download ----------

_CSV_MARK = "csv-download month={m} cursor={c}"


def record_csv_download(db: Database, principal: Principal, month: str, cursor: int) -> None:
    """Record that the facility downloaded ``month`` (yyyyMM) as CSV up to ``cursor``: a ``bulk``
    check_log row about nobody (the month's rows were recorded by :func:`tickets_for_month`)."""
    record_check(db, principal, "bulk", "-", detail=_CSV_MARK.format(m=month, c=cursor))


def last_csv_download(db: Database, principal: Principal, month: str) -> int | None:
    """The cursor of the facility's last CSV download of ``month`` (yyyyMM); None if there was none."""
    principal.require(FACILITY)
    cl = s.check_log
    with db.read() as conn:
        detail = conn.execute(
            select(cl.c.detail)
            .where(
                cl.c.organisation_id == principal.organisation_id,
                cl.c.method == "bulk",
                cl.c.person_id.is_(None),
                cl.c.detail.startswith(f"csv-download month={month} ", autoescape=True),
            )
            .order_by(cl.c.id.desc())
            .limit(1)
        ).scalar()
    if not detail:
        return None
    return int(detail.rsplit("=", 1)[1])


def recipients_changed_since(
    db: Database, principal: Principal, month: str, cursor: int | None
) -> set[tuple[str, str]]:
    """(公費負担者番号, 受給者番号) of the recipients with a ticket of ``month`` (yyyyMM) in force for
    this facility that was registered or changed after ``cursor`` (every one when ``cursor`` is None)."""
    principal.require(FACILITY)
    q = (
        select(r.c.payer_number, r.c.recipient_number)
        .select_from(t.join(r, r.c.id == t.c.recipient_id))
        .where(t.c.designated_facility_code == principal.code, t.c.treatment_month == month, current_tickets())
    )
    if cursor is not None:
        q = q.where(t.c.seq > cursor)
    with db.read() as conn:
        return {(x.payer_number, x.recipient_number) for x in conn.execute(q)}
