"""Monthly partitions of the audit trail (``check_log``) and of the tickets on PostgreSQL (issue 12).

Every check writes one ``check_log`` entry: ≈ 2.3 億 a month nationally, 36 GB of indexes a month. As
one table its indexes outgrow memory within months and old entries can only go by a DELETE of
billions of rows. Partitioned by month of ``at`` (JST months, as every month of the domain), the
current month's indexes stay small, vacuum and inserts touch one month, and a month that is no longer
kept online is exported (``fujo audit export``) and *detached* whole — a table of its own, to dump to
the archive and drop — without touching the others.

- The partitions of the coming months are made ahead: by migration 0013, at every server start and
  by ``fujo db maintain`` (run daily from cron; it makes ``AHEAD`` months). A ``DEFAULT`` partition
  takes what falls outside them, so no check ever fails for a missing month; ``maintain`` moves
  such rows into their month's partition when it makes it.
- Detaching keeps the chain verifiable: the detached months' entries must be the chain's first ones
  (every one of them before every entry that stays, by ``seq``); the point where the chain now starts
  (the last detached ``seq`` and its hash) is recorded in ``audit_archive``, from which
  ``fujo audit verify`` starts. Otherwise the detach is refused and nothing changes.
- PostgreSQL wants the partition key in every unique index: the primary key is (``id``, ``at``) and
  ``seq`` is unique with ``at`` (the chain's appenders, serialised by the head's lock, give each
  ``seq`` once; ``fujo audit verify`` finds a position given twice).

Tickets (``tickets``, every revision of every 医療券/調剤券) are partitioned the same way by their
``treatment_month`` (診療年月, a LIST partition a month; migration 0014): 1.7 million tickets a month
nationally, and every check, bulk download and duplicate rule reads one month, so a month's partition
is all a check's index probe touches however many years are kept. Their unique keys hold the month:
``(id, treatment_month)``, ``(ticket_key, revision, treatment_month)``, ``(seq, treatment_month)`` —
what made them unique before still does (ids come from a sequence, ``seq`` from the ``ticket_seq``
counter, and a ticket's next revision is written under the row lock of its current one,
``registry.service._revise``). Old months
can be detached (``--detach-tickets-before``); the last twelve months before the current one cannot
(late registrations, amendments and claims are for them).

SQLite has no partitions (one file, one host): there both are one table and ``maintain`` says so.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlalchemy import Connection, text

from ..core.dates import JST
from ..core.errors import FujoError
from .database import Database

AHEAD = 3  # months made ahead of the current one
TICKETS_KEPT = 12  # months before the current one whose tickets cannot be detached


@dataclass(frozen=True)
class Family:
    """A table partitioned by month: ``parent``'s monthly partitions ``{parent}_yYYYYmMM`` and its
    ``{parent}_default``, keyed on ``key`` — a timestamp (RANGE of JST months) or a 診療年月 text
    ``YYYYMM`` (LIST, one value a month)."""

    parent: str
    key: str
    by_range: bool

    @property
    def default(self) -> str:
        return f"{self.parent}_default"

    def name_of(self, year: int, month: int) -> str:
        return f"{self.parent}_y{year:04d}m{month:02d}"

    def month_of(self, name: str) -> tuple[int, int] | None:
        m = re.match(rf"^{self.parent}_y(\d{{4}})m(\d{{2}})$", name)
        return (int(m.group(1)), int(m.group(2))) if m else None

    def bounds(self, year: int, month: int) -> str:
        """The partition's ``FOR VALUES`` clause."""
        if not self.by_range:
            return f"FOR VALUES IN ('{year:04d}{month:02d}')"
        lo, hi = _start(year, month), _start(*_next(year, month))
        return f"FOR VALUES FROM ('{lo.isoformat()}') TO ('{hi.isoformat()}')"

    def in_month(self, year: int, month: int) -> tuple[str, dict[str, object]]:
        """A condition on ``key`` for the month's rows, with its parameters."""
        if not self.by_range:
            return f"{self.key} = :ym", {"ym": f"{year:04d}{month:02d}"}
        return f"{self.key} >= :lo AND {self.key} < :hi", {"lo": _start(year, month), "hi": _start(*_next(year, month))}

    def months_sql(self) -> str:
        """The months (year, month) of the rows of the default partition."""
        if not self.by_range:
            return f"SELECT DISTINCT substr({self.key}, 1, 4)::int, substr({self.key}, 5, 2)::int FROM {self.default}"  # noqa: S608
        local = f"{self.key} AT TIME ZONE 'Asia/Tokyo'"
        return f"SELECT DISTINCT extract(year FROM {local})::int, extract(month FROM {local})::int FROM {self.default}"  # noqa: S608


CHECK_LOG = Family("check_log", "at", by_range=True)
TICKETS = Family("tickets", "treatment_month", by_range=False)
FAMILIES = (CHECK_LOG, TICKETS)
PARENT, DEFAULT = CHECK_LOG.parent, CHECK_LOG.default  # the audit trail's, as the chain's code names them


class DetachRefused(FujoError):
    status = 409
    code = "detach_refused"


@dataclass
class Maintained:
    partitioned: bool
    created: list[str] = field(default_factory=list)
    moved: int = 0  # rows moved from the default partitions into their month's
    detached: list[str] = field(default_factory=list)


def name_of(year: int, month: int) -> str:
    """The name of check_log's partition of a month."""
    return CHECK_LOG.name_of(year, month)


def is_partition_name(name: str) -> bool:
    """A partition of a partitioned table: not a table of the declared schema (Alembic leaves it alone)."""
    return any(name == f.default or f.month_of(name) is not None for f in FAMILIES)


def include_name(name: str | None, type_: str, _parents: object = None) -> bool:
    """Alembic's ``include_name`` hook: the partitions are made by :func:`ensure`, not declared."""
    return not (type_ == "table" and name is not None and is_partition_name(name))


def _start(year: int, month: int) -> dt.datetime:
    return dt.datetime(year, month, 1, tzinfo=JST)


def _next(year: int, month: int) -> tuple[int, int]:
    return (year + 1, 1) if month == 12 else (year, month + 1)


def _back(ym: tuple[int, int], n: int) -> tuple[int, int]:
    y, m = ym[0], ym[1] - n
    while m < 1:
        y, m = y - 1, m + 12
    return y, m


def months(first: tuple[int, int], last: tuple[int, int]) -> Iterator[tuple[int, int]]:
    ym = first
    while ym <= last:
        yield ym
        ym = _next(*ym)


def is_partitioned(conn: Connection, family: Family = CHECK_LOG) -> bool:
    if conn.dialect.name != "postgresql":
        return False
    kind = conn.execute(
        text("SELECT c.relkind FROM pg_class c WHERE c.oid = to_regclass(:t)"), {"t": family.parent}
    ).scalar_one_or_none()
    return kind == "p"


def existing(conn: Connection, family: Family = CHECK_LOG) -> dict[str, tuple[int, int] | None]:
    """The partitions of ``family``'s table: name → (year, month), None for the default one."""
    rows = conn.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = to_regclass(:t)"
        ),
        {"t": family.parent},
    ).scalars()
    return {name: family.month_of(name) for name in rows}


def ensure(
    conn: Connection, first: tuple[int, int], last: tuple[int, int], family: Family = CHECK_LOG
) -> tuple[list[str], int]:
    """Make ``family``'s monthly partitions from ``first`` to ``last`` that do not exist yet (in the
    caller's transaction); the names made and the rows moved into them from the default partition."""
    have = existing(conn, family)
    parent, default = family.parent, family.default
    created, moved = [], 0
    for ym in months(first, last):
        name = family.name_of(*ym)
        if name in have:
            continue
        if conn.execute(text("SELECT to_regclass(:n)"), {"n": name}).scalar() is not None:
            continue  # a month detached earlier (a table of its own now): its late rows stay in the default one
        cond, params = family.in_month(*ym)
        stray = conn.execute(text(f"SELECT count(*) FROM {default} WHERE {cond}"), params).scalar_one()  # noqa: S608 - constants
        if stray:  # PostgreSQL refuses a partition whose rows sit in the default one: move them with it
            # The month's table is made on its own, the rows moved into it straight out of the default
            # partition, and then it is attached (which needs only a SHARE UPDATE EXCLUSIVE lock of the
            # parent). Detaching and re-attaching the default partition instead locked the parent and
            # the tables its foreign keys name in an order that deadlocked with a reader.
            conn.exec_driver_sql(f"CREATE TABLE {name} (LIKE {parent} INCLUDING DEFAULTS)")
            move = f"WITH m AS (DELETE FROM {default} WHERE {cond} RETURNING *) INSERT INTO {name} SELECT * FROM m"  # noqa: S608 - constants
            conn.execute(text(move), params)
            conn.exec_driver_sql(f"ALTER TABLE {parent} ATTACH PARTITION {name} {family.bounds(*ym)}")
            moved += int(stray)
        else:
            conn.exec_driver_sql(f"CREATE TABLE {name} PARTITION OF {parent} {family.bounds(*ym)}")
        created.append(name)
    return created, moved


def maintain(
    db: Database,
    now: dt.datetime,
    before: tuple[int, int] | None = None,
    ahead_n: int = AHEAD,
    tickets_before: tuple[int, int] | None = None,
) -> Maintained:
    """Make the partitions of check_log and of the tickets up to ``ahead_n`` months ahead of ``now``
    (moving stray rows out of the default partitions), then detach check_log's months before
    ``before`` and the tickets' before ``tickets_before`` if asked; one transaction a table, check_log
    first (a refusal of either detach is said before anything is changed)."""
    if db.is_sqlite:  # one table each; and no write lock taken for nothing
        return Maintained(partitioned=False)
    if tickets_before is not None:
        refuse_recent_tickets(tickets_before, now)
    done = Maintained(partitioned=False)
    for family in FAMILIES:
        # One transaction a table: holding one table's new partition while waiting for the other
        # table's lock deadlocked with a reader holding that table and wanting the first one's.
        with db.write() as conn:
            if not is_partitioned(conn, family):
                continue
            # two processes at once (servers starting together, cron): one after the other, the second
            # finding the first one's partitions. audit_archive is written by this alone: no check waits.
            conn.exec_driver_sql("LOCK TABLE audit_archive IN EXCLUSIVE MODE")
            done.partitioned = True
            strays = stray_months(conn, family)  # e.g. a clock set wrong, or months before the partitions began
            created, moved = ensure(conn, current_month(now), ahead(now, ahead_n), family)
            for ym in strays:
                more, n = ensure(conn, ym, ym, family)
                created, moved = created + more, moved + n
            done.created += created
            done.moved += moved
            if family is CHECK_LOG and before is not None:
                done.detached += detach_before(conn, before, now)
            if family is TICKETS and tickets_before is not None:
                done.detached += detach_tickets_before(conn, tickets_before, now)
    return done


def stray_months(conn: Connection, family: Family = CHECK_LOG) -> list[tuple[int, int]]:
    """The months (JST) of the rows in ``family``'s default partition."""
    rows = conn.exec_driver_sql(family.months_sql()).all()
    return sorted((int(y), int(m)) for y, m in rows)


def current_month(now: dt.datetime) -> tuple[int, int]:
    local = now.astimezone(JST)
    return local.year, local.month


def ahead(now: dt.datetime, n: int = AHEAD) -> tuple[int, int]:
    ym = current_month(now)
    for _ in range(n):
        ym = _next(*ym)
    return ym


def refuse_recent_tickets(before: tuple[int, int], now: dt.datetime) -> None:
    """:class:`DetachRefused` when detaching the tickets' months before ``before`` would take one of the
    last :data:`TICKETS_KEPT` months before the current one."""
    first_kept = _back(current_month(now), TICKETS_KEPT)
    if before > first_kept:
        y, m = first_kept
        raise DetachRefused(
            f"直近{TICKETS_KEPT}か月（{y}年{m}月以降）の医療券/調剤券は切り離せません。",
            f"The tickets of the last {TICKETS_KEPT} months ({y:04d}-{m:02d} on) cannot be detached: late "
            "registrations, amendments and claims are for them.",
        )


def detach_tickets_before(conn: Connection, before: tuple[int, int], now: dt.datetime) -> list[str]:
    """Detach the tickets' monthly partitions of the months before ``before`` (each becomes a table of
    its own: those months' tickets leave every check, download, change feed and screen);
    :class:`DetachRefused` for a month of the last :data:`TICKETS_KEPT` months or later."""
    refuse_recent_tickets(before, now)
    old = sorted((ym, name) for name, ym in existing(conn, TICKETS).items() if ym is not None and ym < before)
    for _, name in old:
        conn.exec_driver_sql(f"ALTER TABLE {TICKETS.parent} DETACH PARTITION {name}")
        # an archive stands alone: its foreign keys would tie it to the live recipients and organisations
        # (none of those it names could be deleted while it is kept; found when the tests emptied them)
        keys = conn.execute(
            text("SELECT conname FROM pg_constraint WHERE conrelid = to_regclass(:t) AND contype = 'f'"), {"t": name}
        ).scalars()
        for key in list(keys):
            conn.exec_driver_sql(f"ALTER TABLE {name} DROP CONSTRAINT {key}")
    return [name for _, name in old]


def detach_before(conn: Connection, before: tuple[int, int], now: dt.datetime) -> list[str]:
    """Detach the monthly partitions of the months before ``before`` (each becomes a table of its own)
    and record where the chain now starts; :class:`DetachRefused` (nothing changed) when that would
    leave the chain unverifiable."""
    from . import schema as s

    if before > current_month(now):
        raise DetachRefused(
            "今月以降の監査記録は切り離せません。",
            "The current month's (and later) audit entries cannot be detached.",
        )
    old = sorted((ym, name) for name, ym in existing(conn).items() if ym is not None and ym < before)
    if not old:
        return []
    names = [n for _, n in old]
    parts = " UNION ALL ".join(f"SELECT seq, hash FROM {n}" for n in names)  # noqa: S608 - partition names
    top = conn.execute(text(f"SELECT max(seq) FROM ({parts}) o")).scalar_one()  # noqa: S608 - partition names
    lo = _start(*before)
    # what stays: the later months, and the default partition's rows (late entries of a month detached
    # earlier stay there, chained after the cut)
    stays = f"SELECT seq FROM {PARENT} WHERE at >= :lo UNION ALL SELECT seq FROM {DEFAULT} WHERE at < :lo"  # noqa: S608
    after = conn.execute(text(f"SELECT min(seq) FROM ({stays}) o"), {"lo": lo}).scalar_one()  # noqa: S608
    waiting = conn.execute(text("SELECT count(*) FROM audit_pending")).scalar_one()
    if waiting:  # an import's entries, chained after its commit: they may belong to a month to detach
        raise DetachRefused(
            f"連鎖待ちの監査記録が{waiting}件あります。連鎖の後に実行してください。",
            f"{waiting} audit entries of an import wait to be chained; detach after they are.",
        )
    if top is not None and after is not None and after <= top:
        raise DetachRefused(
            "切り離す月の監査記録の後に、残る記録が連鎖しています（月の境目の取込、既定の区画の記録など）。"
            "fujo db maintain の後、またはもう1か月前までで実行してください。",
            f"An entry that stays (seq {after}) is chained before the last one detached (seq {top}): run `fujo db "
            "maintain` first (it moves the default partition's rows into their months), or detach one month less, so "
            "that the chain that stays begins after every detached entry.",
        )
    if top is not None:
        last_hash = conn.execute(
            text(f"SELECT hash FROM ({parts}) o WHERE seq = :seq"),  # noqa: S608 - partition names
            {"seq": top},
        ).scalar_one()
        conn.execute(
            s.audit_archive.insert().values(
                up_to_seq=int(top),
                last_hash=last_hash,
                before_month=f"{before[0]:04d}{before[1]:02d}",
                tables=",".join(names),
                detached_at=now,
            )
        )
    for n in names:
        conn.exec_driver_sql(f"ALTER TABLE {PARENT} DETACH PARTITION {n}")
    return names
