"""A bulk change's audit entries are staged with it and chained after its commit (fujo.audit.chain:
stage, chain_pending): none is lost — not even when the process dies between the two —, each is
chained once, and the chain verifies. On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from fujo.audit import chain
from fujo.audit.verify import verify
from fujo.core.dates import JST
from fujo.db import schema as s
from fujo.jobs.runner import JobRunner


def _entry(org_id: int, i: int, at: dt.datetime) -> dict:
    return {
        "at": at,
        "organisation_id": org_id,
        "method": "registry",
        "category": "registry",
        "recipient_id": 1000 + i,
        "outcome": "-",
        "reason": "recipient.create",
        "detail": f"import 受給者{i}",
    }


def _log(db) -> list:
    with db.read() as conn:
        return conn.execute(select(s.check_log).order_by(s.check_log.c.seq)).all()


def _pending(db) -> int:
    with db.read() as conn:
        return chain.pending_count(conn)


def test_staged_entries_are_chained_in_order_in_batches_once(world, db):
    at = dt.datetime(2024, 7, 10, 9, 30, 0, 123456, tzinfo=JST)
    before = len(_log(db))
    with db.write() as conn:
        chain.stage(conn, [_entry(world.orgs["office"]["id"], i, at) for i in range(7)])
    assert len(_log(db)) == before and _pending(db) == 7  # staged: committed, not yet in the chain
    assert chain.chain_pending(db, batch=3) == 7
    assert chain.chain_pending(db) == 0  # nothing twice
    log = _log(db)
    mine = log[before:]
    assert [r.recipient_id for r in mine] == [1000 + i for i in range(7)]
    assert [r.seq for r in mine] == list(range(before + 1, before + 8))
    assert {r.detail for r in mine} == {f"import 受給者{i}" for i in range(7)}
    assert all(chain.canonical_at(r.at) == "2024-07-10T09:30:00.123456" for r in mine)  # the import's time kept
    assert _pending(db) == 0
    assert verify(db).ok


def test_a_staged_entry_rolled_back_with_its_change_never_appears(world, db):
    at = dt.datetime.now(JST)
    try:
        with db.write() as conn:
            chain.stage(conn, [_entry(world.orgs["office"]["id"], 1, at)])
            raise RuntimeError("the import is refused")
    except RuntimeError:
        pass
    assert _pending(db) == 0 and chain.chain_pending(db) == 0


def test_entries_left_staged_by_a_dead_process_are_chained_by_the_next_job_pass(world, db):
    """The import committed, then its process died before chaining: the next server start (its job
    runner's first pass) or ``fujo worker`` chains them."""
    before = len(_log(db))
    with db.write() as conn:
        chain.stage(conn, [_entry(world.orgs["office"]["id"], i, dt.datetime.now(JST)) for i in range(3)])
    JobRunner(db).run_once()
    assert _pending(db) == 0
    assert len(_log(db)) == before + 3
    assert verify(db).ok


def test_verify_says_how_many_entries_wait_to_be_chained(world, db, fujo):
    with db.write() as conn:
        chain.stage(conn, [_entry(world.orgs["office"]["id"], i, dt.datetime.now(JST)) for i in range(4)])
    res = fujo("audit", "verify")
    assert res.exit_code == 0, res.output
    assert "4 entries of an import wait to be chained" in res.stdout
    chain.chain_pending(db)
    res = fujo("audit", "verify")
    assert res.exit_code == 0 and "wait to be chained" not in res.stdout


def test_an_import_whose_chaining_fails_after_its_commit_still_succeeds_and_leaves_them_staged(world, db, monkeypatch):
    """The rows have committed: the import says so (not an error the clerk would retry into
    duplicates), and its entries wait, staged, for the next pass."""
    from sqlalchemy.exc import OperationalError

    from fujo.registry import csv_import
    from tests.factories import World
    from tests.jobs.test_import_jobs import _csv

    def down(db_):
        raise OperationalError("SELECT", {}, Exception("server closed the connection"))

    monkeypatch.setattr(csv_import, "chain_pending", down)
    report = csv_import.import_csv(
        db, world.principal("office"), "recipients", _csv([World.recipient_data() for _ in range(2)])
    )
    assert report.written == 2
    assert _pending(db) == 2
    assert chain.chain_pending(db) == 2 and verify(db).ok


def test_entries_alike_are_staged_as_stage_writes_them_and_chain_so(world, db):
    """A bulk change's entries (alike but for whom they are about) are staged by stage_alike: the very
    text stage writes for each, in order; chained, the chain verifies."""
    at = dt.datetime(2024, 7, 10, 9, 30, 0, 5, tzinfo=JST)
    office = world.orgs["office"]["id"]
    base = _entry(office, 0, at) | {"detail": 'import「受給者」\\"と\n改行'}  # text JSON must escape
    ids = [(2000 + i, 3000 + i if i % 2 else None) for i in range(5)] + [(None, None)]
    with db.write() as conn:
        chain.stage_alike(conn, base, ids)
    with db.write() as conn:
        chain.stage(conn, [base | {"recipient_id": r, "person_id": p} for r, p in ids])
    with db.read() as conn:
        texts = [r.entry for r in conn.execute(select(s.audit_pending.c.entry).order_by(s.audit_pending.c.id))]
    assert texts[: len(ids)] == texts[len(ids) :] and len(texts) == 2 * len(ids)
    before = len(_log(db))
    assert chain.chain_pending(db) == 2 * len(ids)
    mine = _log(db)[before:]
    assert [(r.recipient_id, r.person_id) for r in mine[: len(ids)]] == ids
    assert all(r.detail == base["detail"] for r in mine)
    assert verify(db).ok
