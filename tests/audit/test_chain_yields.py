"""A check's audit record goes in between the batches of a chaining (fujo.audit.chain.chain_pending),
not after all of them. On SQLite the chaining leaves the write lock free after each batch for as long
as it held it: SQLite's busy handler polls (1, 2, 5, … 100 ms) instead of queueing, and batches back
to back left the lock free for microseconds, so the check's writer kept missing it until the chaining
ended. Asserted on the chain's order, never on time."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from fujo.audit import chain
from fujo.audit.service import record_check
from fujo.audit.verify import verify
from fujo.core.dates import JST
from fujo.db import schema as s

STAGED = 3000  # 30 batches
ROOT = Path(__file__).resolve().parents[2]
CHAIN = "import sys; from fujo.db.database import Database; from fujo.audit.chain import chain_pending; print(chain_pending(Database(sys.argv[1])))"


def _pending(db) -> int:
    with db.read() as conn:
        return chain.pending_count(conn)


# SQLite's: on PostgreSQL the chaining does not pause (the head's row lock queues its waiters), batches
# go back to back, and more of them can pass between a check's asking and its lock request
@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_a_check_s_record_goes_in_between_the_batches_of_a_chaining(world, db):
    """The chaining runs in another process, as an import's does (a job's child process, ``fujo
    worker``): no interpreter lock of ours paces it. From its first batch to its end, checks record
    their entries one after the other (through the process's group-commit writer, as a check does).
    Each record is in the chain at most a batch or two after the staged entries chained when it
    asked: it waited for the batch under way, not for the chaining. Without the pauses the first
    came after every staged entry (or, by luck of the handler's polling, thousands later)."""
    clinic = world.principal("clinic")
    record_check(db, clinic, "numbers", "1")  # the writer thread is running, as in a server
    entry = {
        "at": dt.datetime.now(JST),
        "organisation_id": world.orgs["office"]["id"],
        "method": "registry",
        "category": "registry",
        "outcome": "-",
        "reason": "recipient.create",
        "detail": "import",
    }
    with db.write() as conn:  # as an import stages its rows' entries
        chain.stage_alike(conn, entry, [(10_000 + i, None) for i in range(STAGED)])

    chainer = subprocess.Popen([sys.executable, "-c", CHAIN, db.url], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    asked: list[tuple[int, int]] = []  # (entries chained when the check asked, its record's id)
    try:
        while _pending(db) == STAGED and chainer.poll() is None:  # until its first batch is in
            time.sleep(0.001)
        while (left := _pending(db)) > 0 and chainer.poll() is None:
            # waits for the write lock (the writer thread's BEGIN IMMEDIATE), then for its commit
            asked.append((STAGED - left, record_check(db, clinic, "numbers", "1")))
            time.sleep(0.004)  # some ask while a batch holds the lock, some in between
    finally:
        out, _ = chainer.communicate(timeout=120)
    assert chainer.returncode == 0 and out.split() == [str(STAGED)]
    assert _pending(db) == 0

    with db.read() as conn:
        log = conn.execute(select(s.check_log.c.id, s.check_log.c.recipient_id).order_by(s.check_log.c.seq)).all()
    assert [r.recipient_id for r in log if r.recipient_id is not None] == [10_000 + i for i in range(STAGED)]
    chained_before, n = {}, 0  # record id -> staged entries ahead of it in the chain
    for r in log:
        if r.recipient_id is not None:
            n += 1
        else:
            chained_before[r.id] = n
    waited = [chained_before[i] - then for then, i in asked]
    assert asked and chained_before[asked[0][1]] < STAGED  # the first went in between two batches
    # none waited for more than the batch under way (and the next, if it asked as that one began)
    assert max(waited) <= 2 * chain.PENDING_BATCH
    assert verify(db).ok
