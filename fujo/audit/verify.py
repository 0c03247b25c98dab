"""Walking the audit chain (``fujo audit verify``) and its head (``fujo audit anchor``).

:func:`verify` reads ``check_log`` in chain order and stops at the FIRST entry that is wrong:

* changed — the entry's fields no longer give its ``hash`` (a field was edited), or its hash was
  recomputed after an edit, so the next entry's ``prev_hash`` no longer points at it;
* removed — a position (``seq``) is missing, or entries after the last one are missing (the
  ``audit_head`` row says the chain is longer);
* inserted — a row without a position (``seq`` NULL), a position given twice, or rows after the
  recorded head.

Months detached from ``check_log`` (PostgreSQL, ``fujo db maintain --detach-before``) are left out:
the chain then starts after the last detached entry, whose position and hash ``audit_archive`` keeps
(the detached tables can be verified on their own before they are archived).

An attacker who can write the database could rebuild the whole chain and the head. That is what the
anchor is for: :func:`head` prints (seq, hash, time) to keep somewhere else (a cron job mailing it,
a printout); ``verify(anchor=(seq, hash))`` then checks that this entry is still in the chain with
that hash.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from ..db import schema as s
from ..db.database import Database, aware
from .chain import GENESIS, HASHED, entry_hash

CHANGED, REMOVED, INSERTED, ANCHOR = "changed", "removed", "inserted", "anchor"


@dataclass(frozen=True)
class Problem:
    kind: str  # changed | removed | inserted | anchor
    seq: int | None
    id: int | None
    message: str

    def __str__(self) -> str:
        where = ", ".join(
            x
            for x in (f"seq {self.seq}" if self.seq is not None else "", f"id {self.id}" if self.id is not None else "")
            if x
        )
        return f"{self.kind}: {where}: {self.message}" if where else f"{self.kind}: {self.message}"


@dataclass(frozen=True)
class Head:
    seq: int
    hash: str
    at: dt.datetime | None

    def anchor(self) -> str:
        """``SEQ:HASH``, the form ``fujo audit verify --anchor`` takes."""
        return f"{self.seq}:{self.hash}"


@dataclass(frozen=True)
class Report:
    entries: int  # entries checked
    head: Head
    problem: Problem | None

    @property
    def ok(self) -> bool:
        return self.problem is None


def head(db: Database) -> Head:
    """The chain's head as recorded in ``audit_head`` (seq 0 and the genesis hash when empty)."""
    with db.read() as conn:
        row = conn.execute(select(s.audit_head).where(s.audit_head.c.id == 1)).first()
    if row is None:
        return Head(0, GENESIS, None)
    return Head(int(row.seq), str(row.hash), aware(row.at))


def parse_anchor(text: str) -> tuple[int, str]:
    """``SEQ:HASH`` → (seq, hash); ValueError when it is not that."""
    seq, _, h = text.strip().partition(":")
    h = h.strip().lower()
    if not seq.strip().isdigit() or len(h) != 64 or any(c not in "0123456789abcdef" for c in h):
        raise ValueError("anchor must be SEQ:HASH (the output of `fujo audit anchor`)")
    return int(seq), h


_COLS = [s.check_log.c.id, s.check_log.c.prev_hash, s.check_log.c.hash] + [
    s.check_log.c[k] for k in HASHED if k != "id"
]


def verify(db: Database, anchor: tuple[int, str] | None = None, batch: int = 5000) -> Report:
    """Walk the whole chain; the report names the first wrong entry (or none)."""
    hd = head(db)
    cl = s.check_log
    problem: Problem | None = None
    n = 0
    expected, prev, prev_id = 1, GENESIS, None
    anchor_seen = False
    with db.read() as conn:
        # months detached from check_log (fujo.db.partitions): the chain that stays starts after them
        archived = conn.execute(
            select(s.audit_archive.c.up_to_seq, s.audit_archive.c.last_hash).order_by(
                s.audit_archive.c.up_to_seq.desc()
            )
        ).first()
        if archived is not None:
            expected, prev = int(archived.up_to_seq) + 1, str(archived.last_hash)
        unchained = conn.execute(select(func.min(cl.c.id)).where(cl.c.seq.is_(None))).scalar()
        last_seq = 0
        while problem is None:
            raw = conn.execute(
                select(*_COLS)
                .where(cl.c.seq.is_not(None), cl.c.seq >= last_seq)
                .order_by(cl.c.seq, cl.c.id)
                .limit(batch)
            ).all()
            # pages overlap by the last entry seen, so that a position given twice is seen across pages too
            rows = [r for r in raw if not (r.seq == last_seq and r.id == prev_id)]
            for r in rows:
                problem = _check(r, expected, prev, prev_id)
                if problem is not None:
                    break
                if anchor is not None and r.seq == anchor[0]:
                    anchor_seen = True
                    if r.hash != anchor[1]:
                        problem = Problem(
                            ANCHOR,
                            r.seq,
                            r.id,
                            f"the anchored hash {anchor[1]} is not this entry's "
                            f"hash {r.hash}: the chain up to the anchor was rewritten",
                        )
                        break
                n += 1
                expected, prev, prev_id, last_seq = r.seq + 1, r.hash, r.id, r.seq
            if len(raw) < batch:
                break
    if unchained is not None and (problem is None or problem.id is None or unchained < problem.id):
        problem = Problem(INSERTED, None, int(unchained), "a row outside the chain (no seq, prev_hash, hash)")
    if problem is None:
        last = expected - 1
        if hd.seq > last:
            problem = Problem(
                REMOVED,
                last + 1,
                None,
                f"entries {last + 1}…{hd.seq} are missing (the recorded head "
                f"is seq {hd.seq}; the last entry is seq {last})",
            )
        elif hd.seq < last:
            problem = Problem(
                INSERTED,
                hd.seq + 1,
                None,
                f"entries after the recorded head (seq {hd.seq}) up to seq {last}: appended without moving the head",
            )
        elif hd.hash != prev:
            problem = Problem(CHANGED, last, prev_id, f"the recorded head hash {hd.hash} is not this entry's hash")
    if problem is None and anchor is not None and not anchor_seen:
        problem = Problem(
            ANCHOR,
            anchor[0],
            None,
            f"the anchored entry seq {anchor[0]} is no longer in the chain (the chain ends at seq {expected - 1})",
        )
    return Report(n, hd, problem)


def _check(r: Any, expected: int, prev: str, prev_id: int | None) -> Problem | None:
    self_ok = entry_hash(r, r.prev_hash or "") == r.hash
    if r.seq < expected:
        return Problem(INSERTED, int(r.seq), int(r.id), f"position {r.seq} is taken twice")
    if r.seq > expected:
        missing = f"entry {expected}" if r.seq == expected + 1 else f"entries {expected}…{r.seq - 1}"
        return Problem(REMOVED, expected, None, f"{missing} missing (the next entry is seq {r.seq}, id {r.id})")
    if r.prev_hash != prev:
        if self_ok and prev_id is not None:  # this one is intact: the one before was edited and re-hashed
            return Problem(
                CHANGED,
                int(r.seq) - 1,
                prev_id,
                f"its hash was rewritten: entry seq {r.seq} (id {r.id}) still points at the original",
            )
        return Problem(CHANGED, int(r.seq), int(r.id), "prev_hash does not point at the previous entry")
    if not self_ok:
        return Problem(CHANGED, int(r.seq), int(r.id), "its fields do not give its hash (edited after it was written)")
    return None
