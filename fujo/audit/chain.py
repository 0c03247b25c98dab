"""The hash chain over ``check_log`` (issue 11): every entry is tamper-evident.

Each row carries ``seq`` (its position, 1, 2, 3, … without gaps), ``prev_hash`` (the hash of the
entry at ``seq - 1``; :data:`GENESIS` for the first) and ``hash`` = SHA-256 over a canonical
encoding of the row's fields followed by ``prev_hash``. Changing a field, removing a row or
slipping one in breaks the chain at that place, and :func:`fujo.audit.verify.verify` names it.

There is one order even with several server processes: :func:`append` is the only way a row gets
into ``check_log`` (with :func:`chain_pending` for the entries a bulk change staged, below); it runs
inside the caller's write transaction and first locks the single ``audit_head`` row (SELECT … FOR UPDATE on PostgreSQL; on SQLite ``Database.write()`` already holds
the database's write lock from BEGIN IMMEDIATE). The lock is held to commit, so the next appender
sees this head only once it is committed, and a rolled-back transaction leaves no gap.

The canonical encoding is JSON of the fields in :data:`HASHED` order (no ``id``: the database gives
it after the hash is fixed; ``seq`` is the position). ``at`` is written in JST with microseconds,
so SQLite (naive wall time) and PostgreSQL (timestamptz) hash the same value.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, func, insert, select, text, update
from sqlalchemy.engine import Connection

from ..core.dates import JST
from ..db import schema as s

GENESIS = "0" * 64
"""``prev_hash`` of the first entry."""

HASHED = (
    "seq",
    "at",
    "organisation_id",
    "credential_id",
    "user_id",
    "role",
    "method",
    "category",
    "channel",
    "person_id",
    "recipient_id",
    "outcome",
    "reason",
    "consent",
    "detail",
    "flags",
)
"""The fields the hash covers, in this order (every column except ``id``, ``prev_hash``, ``hash``)."""

COLUMNS = (*HASHED, "prev_hash", "hash")
"""Every column :func:`append` writes: each row gets all of them, so a batch is one executemany."""

LogRow = dict[str, Any]  # the column values of one check_log row


def canonical_at(at: dt.datetime) -> str:
    """``at`` as hashed: JST wall time with microseconds (naive values are JST, as SQLite returns them)."""
    if at.tzinfo is not None:
        at = at.astimezone(JST).replace(tzinfo=None)
    return at.isoformat(timespec="microseconds")  # = strftime("%Y-%m-%dT%H:%M:%S.%f"), faster


_INTS = frozenset(k for k in HASHED if k == "seq" or k.endswith("_id"))


def canonical(row: Any) -> bytes:
    """The bytes hashed for one entry (a dict or a Row with the :data:`HASHED` fields): JSON of the
    values in :data:`HASHED` order; ids and seq as numbers, ``at`` by :func:`canonical_at`, the
    rest as strings, None as null."""
    return _encode(_values(row, HASHED))


def _values(row: Any, fields: Sequence[str]) -> list[Any]:
    m = row if isinstance(row, dict) else row._mapping
    values: list[Any] = []
    for k in fields:
        v = m.get(k)
        if v is not None:
            v = canonical_at(v) if k == "at" else int(v) if k in _INTS else str(v)
        values.append(v)
    return values


def _encode(values: list[Any]) -> bytes:
    return json.dumps(values, ensure_ascii=False, separators=(",", ":")).encode()


def entry_hash(row: Any, prev_hash: str) -> str:
    """SHA-256 (hex) over the canonical encoding of ``row`` followed by ``prev_hash``."""
    return _hash(canonical(row), prev_hash)


def _hash(encoded: bytes, prev_hash: str) -> str:
    h = hashlib.sha256(encoded)
    h.update(b"\n")
    h.update(prev_hash.encode())
    return h.hexdigest()


_HEAD = select(s.audit_head.c.seq, s.audit_head.c.hash).where(s.audit_head.c.id == 1)
_HEAD_LOCKED = _HEAD.with_for_update()
# Built once: a statement constructed per call costs more Python time than the database spends on it
# (the audit entry is on every check's path).
_MOVE_HEAD = (
    update(s.audit_head)
    .where(s.audit_head.c.id == 1)
    .values(seq=bindparam("head_seq"), hash=bindparam("head_hash"), at=bindparam("head_at"))
)


def _lock_head(conn: Connection) -> tuple[int, str]:
    q = _HEAD if conn.dialect.name == "sqlite" else _HEAD_LOCKED
    head = conn.execute(q).first()
    if head is None:  # a database created from the schema (tests, create_all) starts here; two first
        # appenders on PostgreSQL: the second waits for the first's row and then locks it
        conn.execute(
            text("INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, :g) ON CONFLICT DO NOTHING"), {"g": GENESIS}
        )
        head = conn.execute(q).first()
        assert head is not None
    return int(head.seq), str(head.hash)


def default_channel(user_id: int | None, credential_id: int | None) -> str:
    """How the caller reached us when the entry does not say: a signed-in user is the web screens,
    a token the API, neither the operator's command line."""
    if user_id is not None:
        return "web"
    if credential_id is not None:
        return "api"
    return "cli"


def normalise(row: LogRow) -> LogRow:
    """The row as :func:`append` writes it: every hashed column (None when not given), ``at`` in JST,
    ``channel`` filled in. ValueError for a row that cannot be an entry (no time, unknown columns);
    the group-commit writer calls it in the caller's thread, so a bad row fails alone, not its batch."""
    out = {k: row.get(k) for k in HASHED if k != "seq"}
    if out["channel"] is None:
        out["channel"] = default_channel(out["user_id"], out["credential_id"])
    at = out["at"]
    if at is None:
        raise ValueError("a check_log row needs 'at'")
    out["at"] = at.replace(tzinfo=JST) if at.tzinfo is None else at.astimezone(JST)
    unknown = set(row) - set(COLUMNS) - {"id"}
    if unknown:
        raise ValueError(f"not check_log columns: {sorted(unknown)}")
    return out


_INSERT = insert(s.check_log).returning(s.check_log.c.id, sort_by_parameter_order=True)
_INSERT_ONE = insert(s.check_log).returning(s.check_log.c.id)
_INSERT_PLAIN = insert(s.check_log)


def append(conn: Connection, rows: Sequence[LogRow], want_ids: bool = True) -> list[int]:
    """Append ``rows`` to the chain inside the caller's write transaction; returns their ids in order
    (``want_ids=False``: nothing — a plain executemany, for the thousands of entries of an import).

    The only function that inserts into ``check_log``. The rows become visible (and the head
    moves) when the caller's transaction commits; if it rolls back, neither happens."""
    if not rows:
        return []
    seq, prev = _lock_head(conn)
    params: list[LogRow] = []
    for row in rows:
        p = normalise(row)
        seq += 1
        p["seq"] = seq
        p["prev_hash"] = prev
        p["hash"] = prev = entry_hash(p, prev)
        params.append(p)
    ids: list[int] = []
    if not want_ids:
        conn.execute(_INSERT_PLAIN, params)
    elif len(params) == 1:  # the common case of a quiet moment: no executemany bookkeeping
        ids = [int(conn.execute(_INSERT_ONE, params[0]).scalar_one())]
    else:
        ids = [int(i) for i in conn.execute(_INSERT, params).scalars().all()]
    conn.execute(_MOVE_HEAD, {"head_seq": seq, "head_hash": prev, "head_at": params[-1]["at"]})
    return ids


# --- entries of a bulk change: staged with it, chained after its commit ------------------------------
#
# An import writes thousands of entries. Appended in its own transaction they held the head's lock
# until the import committed — seconds in which every check's audit record (and so the check) waited.
# Instead they are *staged*: written to ``audit_pending`` in the import's transaction (no lock: they
# commit or roll back with its rows), then appended to the chain by :func:`chain_pending` in batches
# of a hundred, each its own short transaction that moves them from ``audit_pending`` to
# ``check_log``. A crash between the two leaves them staged, never lost: every server start and
# ``fujo worker`` chain what they find. Until then they are not in ``check_log`` (after an import of
# 50,000: ≈ 9 s on PostgreSQL, ≈ 10 s on SQLite with the pauses below).

_STAGE = insert(s.audit_pending)
_AFTER_SEQ = HASHED[1:]  # what a staged entry holds: every hashed field but its position
PENDING_BATCH = 100  # entries a chaining transaction moves: the head's lock is held ~10 ms for them
# SQLite keeps no queue for its write lock: a connection that finds it taken waits in SQLite's busy
# handler, which sleeps 1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100, 100 … ms and retries only then.
# Batches back to back left the lock free for microseconds between them, and a check's audit record
# kept missing it for the whole chaining (0.8–1.1 s after an import of 50,000). So on SQLite each
# batch is followed by a pause as long as it held the lock, plus PENDING_GAP: a writer that began
# waiting during the batch has waited w ≤ that long, and the handler's next step after w is at most
# w + 2 ms (each step ≤ the time slept before it + 2), so its retry falls in the pause and it goes in
# before the next batch (measured: a check's record asked during the chaining, max 33–54 ms). The
# price: chaining 50,000 takes ≈ 10 s instead of ≈ 3 (the checks' records also take their turns in
# the pauses); 200 a batch saved little (8.4 s). PostgreSQL queues the waiters for the head's row
# lock (a check's record meanwhile: max 28–42 ms), so there it chains back to back.
PENDING_GAP = 0.003  # s: the handler's + 2 ms, and a millisecond for the waiter's thread to be woken


def stage(conn: Connection, rows: Sequence[LogRow]) -> None:
    """Write ``rows`` (as :func:`append` takes them) to ``audit_pending`` in the caller's transaction,
    for :func:`chain_pending` to append once it has committed. Each is kept as its canonical encoding
    without ``seq`` — the JSON list :func:`canonical` hashes, less its first value — so that chaining,
    under the head's lock, only prefixes the position and hashes."""
    if rows:
        conn.execute(_STAGE, [{"entry": _encode(_values(normalise(r), _AFTER_SEQ)).decode()} for r in rows])


def stage_alike(conn: Connection, row: LogRow, ids: Sequence[tuple[int | None, int | None]]) -> None:
    """:func:`stage` for entries alike but for whom they are about — ``row`` with each (recipient_id,
    person_id) of ``ids`` — as a bulk change writes them (one for every row of an import). The text
    is the one :func:`stage` writes, built once and completed per entry: the import holds the write
    lock while it stages (50,000 entries: 0.5 s of encoding each, ≈ 30 ms so)."""
    if not ids:
        return
    values = _values(normalise({**row, "recipient_id": None, "person_id": None}), _AFTER_SEQ)
    # json.dumps of a list with these separators is its items' encodings, comma-joined, in brackets
    parts = [json.dumps(v, ensure_ascii=False) for v in values]
    ir, ip = _AFTER_SEQ.index("recipient_id"), _AFTER_SEQ.index("person_id")
    texts = []
    for rid, pid in ids:
        parts[ir] = "null" if rid is None else str(int(rid))
        parts[ip] = "null" if pid is None else str(int(pid))
        texts.append("[" + ",".join(parts) + "]")
    # the driver's own executemany: SQLAlchemy's per-row parameter work was most of the time
    conn.exec_driver_sql(_STAGE_SQL[conn.dialect.name], [(t,) for t in texts])


_STAGE_SQL = {  # each driver's parameter style
    "sqlite": "INSERT INTO audit_pending (entry) VALUES (?)",
    "postgresql": "INSERT INTO audit_pending (entry) VALUES (%s)",
}


def _chain_staged(conn: Connection, head: tuple[int, str], entries: Sequence[str]) -> None:
    """Append staged entries (oldest first) after ``head`` (locked by the caller, in its transaction):
    :func:`append`'s work with the canonical text already made (``[seq,`` + the staged list's values)."""
    seq, prev = head
    params: list[LogRow] = []
    for entry in entries:
        seq += 1
        p: LogRow = dict(zip(_AFTER_SEQ, json.loads(entry), strict=True))
        p["at"] = dt.datetime.fromisoformat(p["at"]).replace(tzinfo=JST)
        p["seq"], p["prev_hash"] = seq, prev
        p["hash"] = prev = _hash(f"[{seq},{entry[1:]}".encode(), prev)
        params.append(p)
    conn.execute(_INSERT_PLAIN, params)
    conn.execute(_MOVE_HEAD, {"head_seq": seq, "head_hash": prev, "head_at": params[-1]["at"]})


def chain_pending(db: Any, batch: int = PENDING_BATCH) -> int:
    """Append every staged entry to the chain, oldest first, ``batch`` a transaction (each takes the
    head's lock only for its own inserts, so checks' records go in between — on SQLite it then leaves
    the lock free for as long as it held it, :data:`PENDING_GAP`); the number chained. Several
    processes may run it at once: the head's lock orders them and each batch deletes what it chains,
    so an entry is chained once. It sleeps holding nothing and ends when a batch finds fewer than
    ``batch`` staged (entries staged after that are chained by the change that staged them)."""
    with db.read() as conn:  # the usual answer, without taking the lock
        if conn.execute(select(s.audit_pending.c.id).limit(1)).first() is None:
            return 0
    ap = s.audit_pending
    oldest = select(ap.c.id).order_by(ap.c.id).limit(batch).scalar_subquery()
    take = ap.delete().where(ap.c.id.in_(oldest)).returning(ap.c.id, ap.c.entry)
    done = 0
    while True:
        with db.write() as conn:
            held = time.monotonic()  # BEGIN IMMEDIATE has taken SQLite's write lock
            head = _lock_head(conn)  # first: whoever holds it sees the staged rows the one before left
            rows = sorted(conn.execute(take).all())
            if rows:
                _chain_staged(conn, head, [str(r.entry) for r in rows])
        done += len(rows)
        if len(rows) < batch:  # none left: anything staged since is its own committer's to chain
            return done
        if db.is_sqlite:  # committed: the lock is free, and no transaction is open while we wait
            time.sleep(time.monotonic() - held + PENDING_GAP)


def pending_count(conn: Connection) -> int:
    """Entries staged and not yet chained."""
    return int(conn.execute(select(func.count()).select_from(s.audit_pending)).scalar_one())


def append_one(conn: Connection, row: LogRow) -> int:
    """:func:`append` for one row; returns its id."""
    return append(conn, [row])[0]
