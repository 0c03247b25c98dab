"""Tickets by treatment month on PostgreSQL (fujo.db.partitions, migration 0014): a ticket lands in its
month's partition (the default one until `fujo db maintain` makes a month it lacks), an amendment to
another month moves it, a check reads one month's partition only, and old months are detached — never
those of the last twelve months. On SQLite tickets are one table."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import text
from sqlalchemy.dialects import postgresql

from fujo.core.dates import JST
from fujo.db import partitions
from fujo.eligibility import queries as Q
from fujo.eligibility.service import check_by_numbers
from fujo.registry.service import amend_ticket
from tests.db.test_partitions import _maintain, _month
from tests.factories import CLINIC

T = partitions.TICKETS


def _where(db) -> dict[str, int]:
    """Which table holds the tickets' rows: partition name → rows."""
    with db.read() as c:
        rows = c.exec_driver_sql("SELECT tableoid::regclass::text, count(*) FROM tickets GROUP BY 1").all()
    return {str(name): int(n) for name, n in rows}


@pytest.fixture
def pg(postgresql_database, ca, tmp_path):
    """PostgreSQL's database with the world; the ticket partitions a test makes (or detaches) are
    dropped after it, so the next test finds the migrated schema."""
    from tests.conftest import _empty
    from tests.factories import World

    db = postgresql_database
    _empty(db)
    with db.read() as c:
        before = set(partitions.existing(c, T))
    yield db, World(db, ca, tmp_path)
    with db.write() as c:
        attached = set(partitions.existing(c, T))
        family = set(
            c.execute(text("SELECT relname FROM pg_class WHERE relkind = 'r' AND relname LIKE 'tickets_y%'")).scalars()
        )
        for name in family - attached:  # detached by the test: the suite's own months go back
            if name in before:
                ym = T.month_of(name)
                assert ym is not None
                c.exec_driver_sql(f"DELETE FROM {name}")
                c.exec_driver_sql(f"ALTER TABLE {T.parent} ATTACH PARTITION {name} {T.bounds(*ym)}")
            else:
                c.exec_driver_sql(f"DROP TABLE {name}")
        for name in attached - before - {T.default}:
            c.exec_driver_sql(f"DROP TABLE {name}")
    _empty(db)


def _check(db, world, r: dict, on: dt.date) -> dict:
    return check_by_numbers(
        db,
        world.principal("clinic"),
        insurer_number=r["payer_number"],
        identification_number=r["recipient_number"],
        birthdate=r["birthdate"],
        confirmation_date=on.isoformat(),
    )


def _tickets(answer: dict) -> list[dict]:
    """The MedicalTicketInfo of a check's answer (none: an empty list)."""
    results = answer.get("ResultList") or [{}]
    return results[0].get("PublicExpenseResultList", {}).get("MedicalTicketInfo", [])


def test_tickets_land_in_their_months_partition_and_maintain_moves_a_month_it_lacked(pg, monkeypatch):
    db, world = pg
    now = db.now().astimezone(JST)
    r = world.recipient()
    world.ticket(r, on=now.date())  # this month: its partition exists (made ahead)
    old = world.ticket(r, on=dt.date(2022, 7, 1))  # before the partitions began: the default one holds it
    assert _where(db) == {T.name_of(now.year, now.month): 1, T.default: 1}
    with db.read() as c:
        made = partitions.existing(c, T)
    coming = [T.name_of(*ym) for ym in partitions.months((now.year, now.month), partitions.ahead(now))]
    assert set(coming) <= set(made)
    out = _maintain(db, monkeypatch)
    assert out.exit_code == 0, out.output
    assert T.name_of(2022, 7) in out.output and "rows moved out of the default partitions: 1" in out.output
    assert _where(db) == {T.name_of(now.year, now.month): 1, T.name_of(2022, 7): 1}
    # the moved ticket is the same ticket: the check finds it in its month
    answer = _check(db, world, r, dt.date(2022, 7, 10))
    assert [t["IssueNumber"] for t in _tickets(answer)] == [old["issue_number"]]
    assert "partitions made: none" in _maintain(db, monkeypatch).output


def test_an_amendment_to_another_month_moves_the_ticket_and_the_check_follows(pg, monkeypatch):
    db, world = pg
    r = world.recipient()
    t = world.ticket(r, on=dt.date(2024, 7, 1))
    assert _maintain(db, monkeypatch).exit_code == 0  # July 2024's partition (the default one held it)
    moved = world.ticket_data(r, on=dt.date(2022, 8, 1), issue_number=t["issue_number"])
    for k in ("payer_number", "recipient_number"):
        moved.pop(k)
    amend_ticket(db, world.principal("office"), key=t["ticket_key"], data=moved, reason="月の誤り")
    where = _where(db)
    assert where[T.name_of(2024, 7)] == 1  # revision 1, superseded, stays in its month
    assert where.get(T.default) == 1  # revision 2: 2022-08 has no partition
    assert [t["IssueNumber"] for t in _tickets(_check(db, world, r, dt.date(2022, 8, 10)))] == [t["issue_number"]]
    assert _tickets(_check(db, world, r, dt.date(2024, 7, 10))) == []


def test_a_check_reads_one_months_partition_only(pg, monkeypatch):
    db, world = pg
    for months_back in range(1, 4):  # months with partitions, tickets in each
        m = _month(db.now(), -months_back)
        world.ticket(world.recipient(), on=m.date())
    assert _maintain(db, monkeypatch).exit_code == 0
    with db.read() as c:
        clinic = c.execute(text("SELECT id FROM organisations WHERE code = :c"), {"c": CLINIC}).scalar_one()
        month = _month(db.now(), -2)
        sql = Q.RECIPIENT_WITH_TICKETS.params(
            payer="12130019", rn="1234567", fid=clinic, month=f"{month.year:04d}{month.month:02d}"
        ).compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
        plan = "\n".join(c.exec_driver_sql(f"EXPLAIN (COSTS OFF) {sql}").scalars())
    read = set(re.findall(r"\btickets_(?:y\d{4}m\d{2}|default)\b", plan))
    assert read == {T.name_of(month.year, month.month)}, plan


def test_old_months_are_detached_but_never_the_last_twelve(pg, monkeypatch):
    db, world = pg
    now = db.now().astimezone(JST)
    r = world.recipient()
    world.ticket(r, on=dt.date(2022, 7, 1))
    world.ticket(r, on=now.date())
    assert _maintain(db, monkeypatch).exit_code == 0  # 2022-07's partition
    recent = _month(now, -11)  # every month before it: the twelfth month before this one among them
    refused = _maintain(db, monkeypatch, "--detach-tickets-before", f"{recent.year}-{recent.month:02d}")
    assert refused.exit_code == 2 and "12 months" in refused.output
    assert T.name_of(2022, 7) in _where(db)
    out = _maintain(db, monkeypatch, "--detach-tickets-before", "2022-08")  # the months before it
    assert out.exit_code == 0, out.output
    assert f"detached: {T.name_of(2022, 7)}" in out.output
    assert _where(db) == {T.name_of(now.year, now.month): 1}  # what stays
    with db.read() as c:  # a table of its own, whole, to dump and drop
        assert c.exec_driver_sql(f"SELECT count(*) FROM {T.name_of(2022, 7)}").scalar_one() == 1
    assert _tickets(_check(db, world, r, dt.date(2022, 7, 10))) == []  # gone from the registry
    assert len(_tickets(_check(db, world, r, now.date()))) == 1


def test_sqlite_has_one_tickets_table(db, monkeypatch):
    out = _maintain(db, monkeypatch, "--detach-tickets-before", "2024-13")
    assert out.exit_code == 2 and "--detach-tickets-before" in out.output
    if db.is_sqlite:
        out = _maintain(db, monkeypatch, "--detach-tickets-before", "2020-01")
        assert out.exit_code == 0 and "not partitioned here" in out.output
        with db.read() as c:
            assert c.execute(text("SELECT count(*) FROM sqlite_master WHERE name LIKE 'tickets_%'")).scalar() == 0
