"""One chain order with several writers: two Database objects (as two server processes would have),
each with its own group-commit writer, plus registry changes in their own transactions, all at once.
On SQLite the write lock orders them; on PostgreSQL the audit_head row lock (SELECT … FOR UPDATE)."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from fujo.audit.service import check_row, record_change
from fujo.audit.verify import head, verify
from fujo.audit.writer import AuditWriter
from fujo.db import schema as s
from fujo.db.database import Database

THREADS_PER_WRITER, CHECKS_PER_THREAD, CHANGES = 4, 60, 40


def test_chain_stays_valid_with_concurrent_writers(world, db):
    r = world.recipient()
    clinic, office = world.principal("clinic"), world.principal("office")
    other = Database(db.url)  # a second process's handle: its own engine, connections and writer
    writers = [AuditWriter(db), AuditWriter(other)]
    errors: list[BaseException] = []
    start = threading.Barrier(len(writers) * THREADS_PER_WRITER + 1)

    def checks(w: AuditWriter) -> None:
        try:
            start.wait()
            futs = [
                w.submit(check_row(w.db, clinic, "numbers", "1", recipient_id=r["id"], detail=f"t{i}"))
                for i in range(CHECKS_PER_THREAD)
            ]
            for f in futs:
                f.result(timeout=60)
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    def changes() -> None:
        try:
            start.wait()
            for i in range(CHANGES):
                with other.write() as conn:
                    record_change(conn, office, "recipient.update", recipient_id=r["id"], detail=f"c{i}")
        except BaseException as e:  # pragma: no cover
            errors.append(e)

    threads = [threading.Thread(target=checks, args=(w,)) for w in writers for _ in range(THREADS_PER_WRITER)]
    threads.append(threading.Thread(target=changes))
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    finally:
        other.dispose()
    assert not errors, errors
    total = 1 + len(writers) * THREADS_PER_WRITER * CHECKS_PER_THREAD + CHANGES  # 1: the recipient's creation
    with db.read() as conn:
        n, lo, hi = conn.execute(select(func.count(), func.min(s.check_log.c.seq), func.max(s.check_log.c.seq))).one()
    assert (n, lo, hi) == (total, 1, total)
    report = verify(db)
    assert report.ok, report.problem
    assert report.entries == total and head(db).seq == total
    # group commit still works next to the registry's own transactions: batches hold many checks
    assert sum(w.rows for w in writers) == total - 1 - CHANGES
    assert sum(w.batches for w in writers) < (total - 1 - CHANGES) / 4
