"""Migration 0004 chains the check_log rows already there (in id order), so ``fujo audit verify``
passes right after the upgrade and new entries continue the chain; on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, text

from fujo.audit.service import record_check
from fujo.audit.verify import head, verify
from fujo.auth.principal import Principal
from fujo.db import schema as s
from fujo.db.migrate import upgrade
from tests.db.test_migration_0002 import _upgrade, fresh  # noqa: F401  (the fixture)


def test_0004_chains_the_old_rows(fresh):  # noqa: F811
    db = fresh
    _upgrade(db, "0003")
    at = dt.datetime(2024, 7, 10, 9, 30, 15, 123456, tzinfo=dt.UTC)
    with db.engine.begin() as c:
        for i, (method, outcome) in enumerate([("numbers", "1"), ("card", "6"), ("bulk", "-"), ("link", "-")]):
            c.execute(
                text(
                    "INSERT INTO check_log (at, organisation_id, credential_id, method, person_id, recipient_id, "
                    "outcome, consent, detail) VALUES (:at, 1, 2, :m, 3, 4, :o, '1000', :d)"
                ),
                {"at": at + dt.timedelta(seconds=i), "m": method, "o": outcome, "d": f"old {i}"},
            )
    upgrade(db)
    with db.read() as conn:
        rows = conn.execute(select(s.check_log).order_by(s.check_log.c.id)).all()
    assert [r.seq for r in rows] == [1, 2, 3, 4]
    report = verify(db)
    assert report.ok, report.problem
    assert report.entries == 4 and head(db).seq == 4 and head(db).hash == rows[-1].hash
    record_check(db, Principal(1, "facility", "1311234569", "x", credential_id=2), "numbers", "1", recipient_id=4)
    assert verify(db).ok and head(db).seq == 5
    with db.engine.begin() as c:  # an old row edited after the migration is named like any other
        c.execute(text("UPDATE check_log SET detail = 'edited' WHERE seq = 2"))
    report = verify(db)
    assert (report.problem.kind, report.problem.seq) == ("changed", 2)
