"""check_log by month on PostgreSQL (fujo.db.partitions, migration 0013): entries land in their
month's partition, a month without one is held by the default partition until `fujo db maintain`
makes it, and old months are detached only while the chain that stays still verifies. On SQLite
check_log is one table and `fujo db maintain` says so."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from fujo.audit.service import record_many
from fujo.audit.verify import verify
from fujo.cli.main import app as cli
from fujo.core.dates import JST
from fujo.db import partitions


def _where(db) -> dict[str, int]:
    """Which table holds check_log's rows: partition name → rows."""
    with db.read() as c:
        rows = c.exec_driver_sql("SELECT tableoid::regclass::text, count(*) FROM check_log GROUP BY 1").all()
    return {str(name): int(n) for name, n in rows}


def _record(db, world, at: dt.datetime, n: int = 1) -> None:
    with db.write() as conn:
        record_many(conn, world.principal("clinic"), "bulk", [{"detail": f"e{i}"} for i in range(n)], at)


def _month(d: dt.datetime, shift: int) -> dt.datetime:
    y, m = d.year, d.month + shift
    while m < 1:
        y, m = y - 1, m + 12
    while m > 12:
        y, m = y + 1, m - 12
    return dt.datetime(y, m, 10, 12, tzinfo=JST)


def _maintain(db, monkeypatch, *args: str):
    monkeypatch.setenv("FUJO_DATABASE_URL", db.url)
    return CliRunner().invoke(cli, ["db", "maintain", *args])


@pytest.fixture
def pg(postgresql_database, ca, tmp_path):
    """PostgreSQL's database with the world; the partitions a test makes or detaches are dropped after
    it (those the migration made stay), so the next test finds the migrated schema."""
    from tests.conftest import _empty
    from tests.factories import World

    db = postgresql_database
    _empty(db)
    with db.read() as c:
        before = set(partitions.existing(c))
    yield db, World(db, ca, tmp_path)
    with db.write() as c:
        family = c.execute(
            text("SELECT relname FROM pg_class WHERE relkind = 'r' AND relname LIKE :like"), {"like": "check_log_y%"}
        ).scalars()
        for name in set(family) - before:
            c.exec_driver_sql(f"DROP TABLE {name}")


def test_an_entry_lands_in_its_months_partition_and_the_coming_months_exist(pg):
    db, world = pg
    now = db.now()
    _record(db, world, now)
    this = partitions.name_of(now.year, now.month)
    assert _where(db) == {this: 1}
    with db.read() as c:
        made = partitions.existing(c)
    coming = [partitions.name_of(*ym) for ym in partitions.months((now.year, now.month), partitions.ahead(now))]
    assert len(coming) == partitions.AHEAD + 1 and set(coming) <= set(made)
    assert partitions.DEFAULT in made


def test_maintain_moves_a_month_without_partition_out_of_the_default_one(pg, monkeypatch):
    db, world = pg
    far = _month(db.now(), 30)  # a clock set years ahead: no partition yet, the default one holds it
    _record(db, world, db.now())
    _record(db, world, far, 2)
    assert _where(db)[partitions.DEFAULT] == 2
    out = _maintain(db, monkeypatch)
    assert out.exit_code == 0, out.output
    target = partitions.name_of(far.year, far.month)
    assert target in out.output and "rows moved out of the default partitions: 2" in out.output
    assert _where(db)[target] == 2 and partitions.DEFAULT not in _where(db)
    assert verify(db).ok and verify(db).entries == 3  # moving rows keeps the chain
    again = _maintain(db, monkeypatch)  # nothing left to do: run it as often as wanted
    assert again.exit_code == 0 and "partitions made: none" in again.output


def test_old_months_are_detached_and_the_chain_that_stays_verifies(pg, monkeypatch):
    db, world = pg
    now = db.now()
    old, older = _month(now, -2), _month(now, -3)
    _record(db, world, older, 3)  # chained first: seq 1–3
    _record(db, world, old, 2)  # seq 4–5
    _record(db, world, now, 1)  # seq 6
    assert _maintain(db, monkeypatch).exit_code == 0  # makes the two old months' partitions
    cut = _month(now, -1)
    out = _maintain(db, monkeypatch, "--detach-before", f"{cut.year}-{cut.month:02d}")
    assert out.exit_code == 0, out.output
    gone = {partitions.name_of(older.year, older.month), partitions.name_of(old.year, old.month)}
    assert all(n in out.output for n in gone)
    assert _where(db) == {partitions.name_of(now.year, now.month): 1}
    with db.read() as c:  # each detached month is a table of its own, whole, for export and archive
        for name in gone:
            assert c.exec_driver_sql(f"SELECT count(*) FROM {name}").scalar_one() in (2, 3)
        archive = c.exec_driver_sql("SELECT up_to_seq, tables FROM audit_archive").one()
    assert archive.up_to_seq == 5 and set(archive.tables.split(",")) == gone
    report = verify(db)
    assert report.ok, report.problem
    assert report.entries == 1  # the one that stays, from where the archive ends
    # a later entry goes on the same chain, and a late one of a detached month (an import's entry
    # chained after the cut) waits in the default partition: maintain leaves it there, the chain verifies
    _record(db, world, now)
    _record(db, world, old)
    assert _where(db)[partitions.DEFAULT] == 1
    again = _maintain(db, monkeypatch)
    assert again.exit_code == 0, again.output
    assert _where(db)[partitions.DEFAULT] == 1 and verify(db).ok


def test_a_second_detach_keeps_a_late_entry_of_the_first_in_the_chain(pg, monkeypatch):
    db, world = pg
    now = db.now()
    m3, m2, m1 = _month(now, -3), _month(now, -2), _month(now, -1)
    _record(db, world, m3)  # seq 1
    _record(db, world, m2)  # seq 2
    assert _maintain(db, monkeypatch).exit_code == 0
    first = _maintain(db, monkeypatch, "--detach-before", f"{m2.year}-{m2.month:02d}")
    assert first.exit_code == 0 and partitions.name_of(m3.year, m3.month) in first.output
    _record(db, world, m2)  # seq 3
    _record(db, world, m3)  # seq 4: late, of the month detached: it waits in the default partition
    _record(db, world, now)  # seq 5
    second = _maintain(db, monkeypatch, "--detach-before", f"{m1.year}-{m1.month:02d}")
    assert second.exit_code == 0, second.output
    assert _where(db) == {partitions.DEFAULT: 1, partitions.name_of(now.year, now.month): 1}
    report = verify(db)
    assert report.ok and report.entries == 2  # seq 4 and 5, after the archive's seq 3


def test_a_detach_that_would_break_the_chain_is_refused_and_changes_nothing(pg, monkeypatch):
    db, world = pg
    now = db.now()
    stays, leaves = _month(now, -1), _month(now, -2)
    _record(db, world, stays)  # seq 1 is an entry of the month that stays …
    _record(db, world, leaves)  # … seq 2 of the month to detach (an import chained across the month's end)
    assert _maintain(db, monkeypatch).exit_code == 0
    before = _where(db)
    out = _maintain(db, monkeypatch, "--detach-before", f"{stays.year}{stays.month:02d}")
    assert out.exit_code == 2
    assert "seq 1" in out.output and "seq 2" in out.output
    assert _where(db) == before and verify(db).ok
    with db.write() as c:  # an import's entries waiting to be chained may belong to the months to detach
        c.execute(text("INSERT INTO audit_pending (entry) VALUES ('{}')"))
    out = _maintain(db, monkeypatch, "--detach-before", f"{now.year}{now.month:02d}")
    assert out.exit_code == 2 and "wait to be chained" in out.output
    assert _where(db) == before


def test_maintain_refuses_a_month_that_is_not_one_and_sqlite_has_nothing_to_do(db, monkeypatch):
    out = _maintain(db, monkeypatch, "--detach-before", "2024-13")
    assert out.exit_code == 2 and "--detach-before" in out.output
    if db.is_sqlite:
        out = _maintain(db, monkeypatch)
        assert out.exit_code == 0 and "not partitioned here" in out.output
        with db.read() as c:
            assert c.execute(text("SELECT count(*) FROM sqlite_master WHERE name LIKE 'check_log_%'")).scalar() == 0
    else:
        later = _month(db.now(), 1)
        out = _maintain(db, monkeypatch, "--detach-before", f"{later.year}-{later.month:02d}")
        assert out.exit_code == 2 and "current month" in out.output


def test_two_maintains_at_once_make_each_partition_once(pg):
    import threading

    db, _ = pg
    far = _month(db.now(), 40)  # months no partition exists for yet, made by both at once
    later = dt.datetime(far.year, far.month, 1, tzinfo=JST)
    errors: list[Exception] = []

    def run() -> None:
        try:
            partitions.maintain(db, later)
        except Exception as e:  # the test reports any
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(30)
    assert errors == []
    with db.read() as c:
        made = partitions.existing(c)
    assert partitions.name_of(far.year, far.month) in made
