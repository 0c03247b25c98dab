"""The tickets a facility may see, one at a time, for the FHIR Coverage resources (GET /fhir/Coverage).

One rule set: every ticket is read and turned into its result by the bulk download's own
:func:`fujo.bulk.service.ticket_results` (the same 未委託/停止・廃止 masking, the download's order), from
the download's snapshot (:func:`fujo.bulk.service.as_of`); this module only pages through it and
keeps each ticket's key, which the download does not carry, so that a Coverage has a stable id.
Checks by numbers need no service of their own: the FHIR views call
:func:`fujo.eligibility.service.check_by_numbers_async` and ``check_numbers_batch_async``; 薬剤情報等
and the consent are :func:`fujo.medinfo.service.view` and :func:`fujo.medinfo.service.consent_of`.

Paging (docs/FHIR.md). The first page reads the change counter: that is the walk's snapshot (the
download's ``Cursor``), carried from page to page in the continuation, with the position (the last
ticket revision served). Every page is read from that snapshot in the download's order after that
position, so tickets registered or amended while a client walks the pages neither shift nor repeat
anything (they come with the next walk, or through the changes feed from ``Cursor``). A page serves
only tickets that are still designated to the facility now: a ticket cancelled or moved away
meanwhile is not served on a later page, and an old or hand-made continuation never shows what the
facility may no longer see. Each page records, before it is returned, one ``bulk`` entry per
recipient on it (as the download records the recipients of the month)."""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, tuple_

from ..audit.service import record_check, record_many
from ..auth.principal import FACILITY, Principal
from ..bulk import service as bulk
from ..core.dates import required_month
from ..core.errors import FieldProblem, NotFound, ValidationFailed
from ..core.rows import WireDict
from ..db import schema as s
from ..db.database import Database, current_value
from ..facility.service import require_assistance
from ..registry.queries import ACTIVE, current_tickets

t, r = s.tickets, s.recipients
now_revision = s.tickets.alias("now_revision")
TICKET_KEY = re.compile(r"[0-9A-Za-z-]{1,36}")  # ticket keys are UUIDs (36 characters)

COUNT_DEFAULT = 500  # Coverage resources a page holds when the client does not say (_count)
COUNT_MAX = 1000  # the most a page holds (a larger _count is refused)
_TOKEN = re.compile(r"([0-9]{1,18})-([0-9]{1,18})")


class BadSearchParameter(ValidationFailed):
    """A search parameter that cannot be read (``_count``, ``_cursor``): 400, naming it."""

    status = 400
    code = "invalid_parameter"


def bad_parameter(name: str, ja: str, en: str) -> BadSearchParameter:
    return BadSearchParameter(problems=[FieldProblem(name, "invalid", ja, en)])


@dataclass(frozen=True)
class PagePosition:
    """Where the next page starts: the walk's snapshot and the last ticket revision served."""

    snapshot: int  # the change counter the walk reads at (the download's Cursor)
    after: int  # tickets.id of the last ticket of the previous page

    @property
    def token(self) -> str:
        """The continuation as the next link carries it (``_cursor``); opaque to clients."""
        return f"{self.snapshot}-{self.after}"

    @classmethod
    def parse(cls, token: str) -> PagePosition:
        m = _TOKEN.fullmatch(token)
        if m is None:
            raise bad_cursor()
        return cls(int(m.group(1)), int(m.group(2)))


def bad_cursor() -> BadSearchParameter:
    return bad_parameter(
        "_cursor",
        "_cursor は前のページの next リンクの値をそのまま指定してください。",
        "_cursor must be the value of the previous page's next link, unchanged.",
    )


@dataclass
class CoveragePage:
    month: str  # yyyyMM
    snapshot: int  # the download's Cursor
    total: int | None  # the first page: the tickets of the month in the snapshot (later pages: None)
    tickets: list[tuple[str, WireDict]]  # (ticket key, result carrying that one ticket), in order
    next: PagePosition | None  # None on the last page
    recipients: dict[int, int] = field(default_factory=dict)  # recipient id → person id, to record
    seen: int = 0  # the change counter when the page was read (page_unchanged)


def _still_designated(principal: Principal) -> ColumnElement[bool]:
    """Condition: the ticket (of a snapshot) is, in its current revision, active and designated to
    the facility — true at once for a revision that is itself current (the snapshot took only active
    revisions designated here)."""
    now_here = (
        select(now_revision.c.id)
        .where(
            now_revision.c.ticket_key == t.c.ticket_key,
            now_revision.c.superseded_by.is_(None),
            now_revision.c.status == ACTIVE,
            now_revision.c.designated_facility_code == principal.code,
        )
        .exists()
    )
    return or_(t.c.superseded_by.is_(None), now_here)


class WalkOrders:
    """Each recent walk's tickets in the download's order (their ids), kept in this process for the
    walk's later pages. Why: the order is the recipients' (公費負担者番号, 受給者番号), which no index of
    the tickets holds, so a page read by position sorts the facility's whole month again — every page,
    one sort more per page (12 ms a page of a 10,000-ticket month here; a 100-ticket page size made the
    walk twice as slow as the download, docs/PERFORMANCE.md). With the order kept, a later page reads
    just its own tickets by id. A hint, as the read-ahead: a walk not held here (another process,
    evicted, older than :attr:`max_age`) is read by position, with the same answer. The ids are those
    of the snapshot (which never changes); whether each is still designated here is read with the page."""

    def __init__(self, *, entries: int = 16, max_age: float = 600.0) -> None:
        self.entries, self.max_age = entries, max_age
        self._held: OrderedDict[tuple[int, str, int], tuple[float, list[int], dict[int, int]]] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, key: tuple[int, str, int], ids: list[int]) -> None:
        with self._lock:
            self._held[key] = (time.monotonic(), ids, {x: i for i, x in enumerate(ids)})
            self._held.move_to_end(key)
            while len(self._held) > self.entries:
                self._held.popitem(last=False)

    def after(self, key: tuple[int, str, int], ticket_id: int, count: int) -> tuple[list[int], bool] | None:
        """The ids of the page after ``ticket_id`` (at most ``count``) and whether more follow, or None
        when the walk is not held (or ``ticket_id`` is not one of its tickets)."""
        with self._lock:
            held = self._held.get(key)
            if held is None or time.monotonic() - held[0] > self.max_age:
                return None
            _, ids, where = held
        i = where.get(ticket_id)
        if i is None:
            return None
        return ids[i + 1 : i + 1 + count], i + 1 + count < len(ids)


def coverage_page(
    db: Database,
    principal: Principal,
    month: str,
    *,
    count: int = COUNT_DEFAULT,
    position: PagePosition | None = None,
) -> CoveragePage:
    """One page of the facility's tickets of ``month`` (at most ``count``), from ``position`` (None:
    the first page, which takes the snapshot): :func:`read_page`, then :func:`record_page` — the
    recipients on the page are recorded (committed) before it is returned."""
    page = read_page(db, principal, month, count=count, position=position)
    record_page(db, principal, page)
    return page


def read_page(
    db: Database,
    principal: Principal,
    month: str,
    *,
    count: int = COUNT_DEFAULT,
    position: PagePosition | None = None,
    orders: WalkOrders | None = None,
) -> CoveragePage:
    """The reads of :func:`coverage_page`, recording nothing (the caller records the page with
    :func:`record_page` before revealing it). Refused as the download is (not a facility, 「医療扶助」
    利用しない, not a month); a continuation that does not belong to this walk is a 400 naming
    ``_cursor``. With ``orders``, the first page keeps the walk's order there and a later page of a
    walk held there reads its tickets by id (:class:`WalkOrders`)."""
    m = check_page_request(principal, month, count)
    mine = and_(t.c.designated_facility_code == principal.code, t.c.treatment_month == m)
    with db.read() as conn:
        top = current_value(conn, "ticket_seq")
        snapshot = top if position is None else position.snapshot
        where = [mine, bulk.as_of(snapshot), _still_designated(principal)]
        walk = (principal.organisation_id, m, snapshot)
        total: int | None = None
        held = orders.after(walk, position.after, count) if orders and position and snapshot <= top else None
        if held is not None:  # a later page of a walk held here: its own tickets, by id
            ids, more = held
            rows = bulk.ticket_results(conn, principal, t.c.id.in_(ids), *where) if ids else []
            return _page(m, snapshot, None, rows, PagePosition(snapshot, ids[-1]) if more else None, top)
        if position is None and orders is not None:  # the walk's order, kept; its length is the total
            ids = list(
                conn.execute(
                    select(t.c.id)
                    .select_from(t.join(r, r.c.id == t.c.recipient_id))
                    .where(*where)
                    .order_by(*bulk.MONTH_ORDER)
                ).scalars()
            )
            orders.put(walk, ids)
            rows = bulk.ticket_results(conn, principal, t.c.id.in_(ids[:count]), *where) if ids else []
            more = len(ids) > count
            return _page(m, snapshot, len(ids), rows, PagePosition(snapshot, ids[count - 1]) if more else None, top)
        if position is None:  # counted once, on the first page (a count a page would cost as much again)
            total = conn.execute(select(func.count()).select_from(t).where(*where)).scalar_one()
        else:
            last = conn.execute(
                select(*bulk.MONTH_ORDER)
                .select_from(t.join(r, r.c.id == t.c.recipient_id))
                .where(t.c.id == position.after, mine)
            ).first()
            if snapshot > top or last is None:  # not a continuation this facility was given for this month
                raise bad_cursor()
            where.append(tuple_(*bulk.MONTH_ORDER) > tuple_(*last))
        rows = bulk.ticket_results(conn, principal, *where, limit=count + 1)
    more = len(rows) > count
    rows = rows[:count]
    return _page(m, snapshot, total, rows, PagePosition(snapshot, rows[-1][0].id) if more else None, top)


def _page(
    month: str, snapshot: int, total: int | None, rows: list[tuple[Any, WireDict]], after: PagePosition | None, top: int
) -> CoveragePage:
    return CoveragePage(
        month=month,
        snapshot=snapshot,
        total=total,
        tickets=[(str(x.ticket_key), res) for x, res in rows],
        next=after,
        recipients={x.recipient_id: x.person_id for x, _ in rows},
        seen=top,
    )


def page_unchanged(db: Database, principal: Principal, page: CoveragePage) -> bool:
    """Whether no ticket revision concerning this facility (designated here, or moved away from here)
    has been committed since ``page`` was read: then the page's tickets are, ticket for ticket, what a
    read now would give (fujo.fhir.read_ahead). Two probes of the change feed's own indexes."""
    since = [t.c.seq > page.seen]
    here = select(t.c.id).where(t.c.designated_facility_code == principal.code, *since).exists()
    away = select(t.c.id).where(t.c.previous_facility_code == principal.code, *since).exists()
    with db.read() as conn:
        return not conn.execute(select(or_(here, away))).scalar_one()


def check_page_request(principal: Principal, month: str, count: int) -> str:
    """What every page asks of its caller and its parameters, before anything is read or handed
    out (also for a page read ahead, fujo.fhir.read_ahead): a facility with 「医療扶助」 利用する, a
    month, ``_count`` 1–COUNT_MAX. Answers the month as ``yyyyMM``."""
    principal.require(FACILITY)
    m = required_month(month)
    if not 1 <= count <= COUNT_MAX:
        raise bad_parameter("_count", f"_count は1〜{COUNT_MAX}です。", f"_count must be 1-{COUNT_MAX}.")
    require_assistance(principal)
    return m


def record_page(db: Database, principal: Principal, page: CoveragePage) -> None:
    """One ``bulk`` entry per recipient on the page (as the download records the recipients of the
    month), committed: called before the page is returned."""
    if page.recipients:
        with db.write() as conn:
            record_many(
                conn,
                principal,
                "bulk",
                [
                    {"person_id": p, "recipient_id": rid, "detail": f"month={page.month}"}
                    for rid, p in page.recipients.items()
                ],
                db.now(),
            )


def ticket_coverage(db: Database, principal: Principal, key: str) -> WireDict:
    """One ticket designated to this facility (its current revision, not cancelled), as the bulk
    download shows it; recorded (method ``bulk``) before it is returned. A ticket of another facility,
    cancelled, moved away or unknown is not found — the same answer, so nothing is revealed."""
    principal.require(FACILITY)
    require_assistance(principal)
    missing = NotFound("この医療券/調剤券はありません。", "No such ticket designated to this facility.")
    if not TICKET_KEY.fullmatch(key):
        raise missing
    with db.read() as conn:
        found = bulk.ticket_results(conn, principal, t.c.ticket_key == key, current_tickets(), limit=1)
    if not found:
        raise missing
    row, result = found[0]
    record_check(
        db,
        principal,
        "bulk",
        "-",
        person_id=row.person_id,
        recipient_id=row.recipient_id,
        detail=f"ticket={key}",
    )
    return result
