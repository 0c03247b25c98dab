"""Monthly partitions of the audit trail (``check_log``) on PostgreSQL (issue 12).

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

SQLite has no partitions (one file, one host): there ``check_log`` is one table and ``maintain`` says so.
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

PARENT = "check_log"
DEFAULT = "check_log_default"
AHEAD = 3  # months made ahead of the current one
_MONTHLY = re.compile(r"^check_log_y(\d{4})m(\d{2})$")


class DetachRefused(FujoError):
    status = 409
    code = "detach_refused"


@dataclass
class Maintained:
    partitioned: bool
    created: list[str] = field(default_factory=list)
    moved: int = 0  # rows moved from the default partition into their month's
    detached: list[str] = field(default_factory=list)


def name_of(year: int, month: int) -> str:
    return f"{PARENT}_y{year:04d}m{month:02d}"


def is_partition_name(name: str) -> bool:
    """A partition of ``check_log``: not a table of the declared schema (Alembic leaves it alone)."""
    return name == DEFAULT or _MONTHLY.match(name) is not None


def include_name(name: str | None, type_: str, _parents: object = None) -> bool:
    """Alembic's ``include_name`` hook: the partitions are made by :func:`ensure`, not declared."""
    return not (type_ == "table" and name is not None and is_partition_name(name))


def _start(year: int, month: int) -> dt.datetime:
    return dt.datetime(year, month, 1, tzinfo=JST)


def _next(year: int, month: int) -> tuple[int, int]:
    return (year + 1, 1) if month == 12 else (year, month + 1)


def months(first: tuple[int, int], last: tuple[int, int]) -> Iterator[tuple[int, int]]:
    ym = first
    while ym <= last:
        yield ym
        ym = _next(*ym)


def is_partitioned(conn: Connection) -> bool:
    if conn.dialect.name != "postgresql":
        return False
    kind = conn.execute(
        text("SELECT c.relkind FROM pg_class c WHERE c.oid = to_regclass(:t)"), {"t": PARENT}
    ).scalar_one_or_none()
    return kind == "p"


def existing(conn: Connection) -> dict[str, tuple[int, int] | None]:
    """The partitions of ``check_log``: name → (year, month), None for the default one."""
    rows = conn.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = to_regclass(:t)"
        ),
        {"t": PARENT},
    ).scalars()
    out: dict[str, tuple[int, int] | None] = {}
    for name in rows:
        m = _MONTHLY.match(name)
        out[name] = (int(m.group(1)), int(m.group(2))) if m else None
    return out


def _bounds(year: int, month: int) -> str:
    lo, hi = _start(year, month), _start(*_next(year, month))
    return f"FOR VALUES FROM ('{lo.isoformat()}') TO ('{hi.isoformat()}')"


def ensure(conn: Connection, first: tuple[int, int], last: tuple[int, int]) -> tuple[list[str], int]:
    """Make the monthly partitions from ``first`` to ``last`` that do not exist yet (in the caller's
    transaction); the names made and the rows moved into them from the default partition."""
    have = existing(conn)
    created, moved = [], 0
    for ym in months(first, last):
        name = name_of(*ym)
        if name in have:
            continue
        if conn.execute(text("SELECT to_regclass(:n)"), {"n": name}).scalar() is not None:
            continue  # a month detached earlier (a table of its own now): its late rows stay in the default one
        lo, hi = _start(*ym), _start(*_next(*ym))
        stray = conn.execute(
            text(f"SELECT count(*) FROM {DEFAULT} WHERE at >= :lo AND at < :hi"),  # noqa: S608 - constants
            {"lo": lo, "hi": hi},
        ).scalar_one()
        if stray:  # PostgreSQL refuses a partition whose rows sit in the default one: move them with it
            conn.exec_driver_sql(f"ALTER TABLE {PARENT} DETACH PARTITION {DEFAULT}")
            conn.exec_driver_sql(f"CREATE TABLE {name} PARTITION OF {PARENT} {_bounds(*ym)}")
            move = f"WITH m AS (DELETE FROM {DEFAULT} WHERE at >= :lo AND at < :hi RETURNING *) INSERT INTO {name} SELECT * FROM m"  # noqa: S608 - constants
            conn.execute(text(move), {"lo": lo, "hi": hi})
            conn.exec_driver_sql(f"ALTER TABLE {PARENT} ATTACH PARTITION {DEFAULT} DEFAULT")
            moved += int(stray)
        else:
            conn.exec_driver_sql(f"CREATE TABLE {name} PARTITION OF {PARENT} {_bounds(*ym)}")
        created.append(name)
    return created, moved


def maintain(db: Database, now: dt.datetime, before: tuple[int, int] | None = None, ahead_n: int = AHEAD) -> Maintained:
    """Make the partitions up to ``ahead_n`` months ahead of ``now`` (moving stray rows out of the
    default partition), then detach the months before ``before`` if asked; one transaction."""
    if db.is_sqlite:  # one table; and no write lock taken for nothing
        return Maintained(partitioned=False)
    with db.write() as conn:
        if not is_partitioned(conn):
            return Maintained(partitioned=False)
        # two processes at once (servers starting together, cron): one after the other, the second
        # finding the first one's partitions. audit_archive is written by this alone: no check waits.
        conn.exec_driver_sql("LOCK TABLE audit_archive IN EXCLUSIVE MODE")
        created, moved = ensure(conn, current_month(now), ahead(now, ahead_n))
        for ym in stray_months(conn):  # e.g. a clock set wrong, or months before the partitions began
            more, n = ensure(conn, ym, ym)
            created, moved = created + more, moved + n
        detached = detach_before(conn, before, now) if before is not None else []
    return Maintained(True, created, moved, detached)


def stray_months(conn: Connection) -> list[tuple[int, int]]:
    """The months (JST) of the rows in the default partition."""
    local = "at AT TIME ZONE 'Asia/Tokyo'"
    months_sql = f"SELECT DISTINCT extract(year FROM {local})::int, extract(month FROM {local})::int FROM {DEFAULT}"  # noqa: S608
    rows = conn.exec_driver_sql(months_sql).all()
    return sorted((int(y), int(m)) for y, m in rows)


def current_month(now: dt.datetime) -> tuple[int, int]:
    local = now.astimezone(JST)
    return local.year, local.month


def ahead(now: dt.datetime, n: int = AHEAD) -> tuple[int, int]:
    ym = current_month(now)
    for _ in range(n):
        ym = _next(*ym)
    return ym


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
