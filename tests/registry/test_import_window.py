"""A recipients import holds SQLite's write lock only for its inserts (issue 13): the "already
registered?" look-ups run before the write, and on SQLite the new rows' ids are known without
reading them back. What keeps that exact: a number registered between the look-ups and the write is
refused by the UNIQUE constraint and the file is then written the way that looks it up under the
lock (same report, nothing written); ids are taken as the rowids SQLite gives only when verified,
else looked up. Both databases (``world``)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from fujo.core.numbers import with_check_digit
from fujo.db import schema as s
from fujo.registry import csv_import
from fujo.registry.csv_import import ImportFailed, import_csv
from fujo.registry.service import register_recipient
from tests.factories import PAYER
from tests.helpers import snapshot
from tests.registry.test_csv_import import RECIPIENT_HEADER, csv_bytes, recipient_line

# more than one insert batch (1,000 rows): the raced number falls in the second one, so a batch
# already inserted must be rolled back too
NUMBERS = [with_check_digit(str(300000 + i)) for i in range(1500)]


def ids_by_number(db) -> dict[str, int]:
    r = s.recipients
    with db.read() as c:
        return {n: i for n, i in c.execute(select(r.c.recipient_number, r.c.id).where(r.c.payer_number == PAYER))}


def created_entries(db) -> list[tuple[int, int | None]]:
    """(recipient_id, person_id) of every recipient.create entry of the audit trail, in the chain's order."""
    log = s.check_log
    with db.read() as c:
        return [
            (x.recipient_id, x.person_id)
            for x in c.execute(
                select(log.c.recipient_id, log.c.person_id)
                .where(log.c.reason == "recipient.create")
                .order_by(log.c.seq)
            )
        ]


def test_a_number_registered_after_the_precheck_is_refused_per_row_and_nothing_is_written(world, monkeypatch):
    office = world.principal("office")
    raced = NUMBERS[1200]  # line 1202 of the file (the header is line 1)
    precheck = csv_import._registered
    state: dict[str, object] = {}

    def and_meanwhile(db, keys):
        found = precheck(db, keys)
        assert (PAYER, raced) not in found  # the pre-check saw it free
        # another connection registers it (and commits) before the import takes the write lock
        register_recipient(db, office, world.recipient_data(recipient_number=raced))
        state["before"] = snapshot(db)
        return found

    monkeypatch.setattr(csv_import, "_registered", and_meanwhile)
    progress: list[int] = []
    data = csv_bytes(RECIPIENT_HEADER, [recipient_line(rn) for rn in NUMBERS])
    with pytest.raises(ImportFailed) as e:
        import_csv(world.db, office, "recipients", data, progress=lambda done, total: progress.append(done))
    # the report an import meets when the number is registered before it starts (today's)
    assert [x.as_dict() for x in e.value.report.errors] == [
        {
            "row": 1202,
            "field": "recipient_number",
            "message_ja": f"受給者番号{raced}は既に登録されています。",
            "message_en": f"Recipient {raced} is already registered.",
        }
    ]
    assert e.value.report.written == 0
    assert snapshot(world.db) == state["before"]  # not one row of the file (the first batch went in, rolled back)
    assert set(ids_by_number(world.db)) == {raced}
    assert progress == sorted(progress)  # the second attempt did not report progress backwards
    # and the same file without the race meets the same report, from the look-ups before the write
    monkeypatch.setattr(csv_import, "_registered", precheck)
    with pytest.raises(ImportFailed) as again:
        import_csv(world.db, office, "recipients", data)
    assert again.value.report.as_dict() == e.value.report.as_dict()


def test_the_new_recipients_ids_are_their_own(world):
    """The ids the import gives the audit entries (on SQLite: counted, not read back) are the rows' ids."""
    office = world.principal("office")
    earlier = [world.recipient() for _ in range(3)]  # the table does not start empty
    data = csv_bytes(RECIPIENT_HEADER, [recipient_line(rn) for rn in NUMBERS])
    assert import_csv(world.db, office, "recipients", data).written == len(NUMBERS)
    ids = ids_by_number(world.db)
    entries = created_entries(world.db)
    assert entries[: len(earlier)] == [(ids[r["recipient_number"]], None) for r in earlier]
    # one entry a row, in the file's order, each naming that row's recipient
    assert entries[len(earlier) :] == [(ids[rn], None) for rn in NUMBERS]


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)  # PostgreSQL returns the ids (INSERT … RETURNING)
def test_ids_are_looked_up_when_sqlite_gives_other_rowids(world):
    """A trigger that inserts another recipient before each row: the rows' rowids are then not the
    largest before + 1, 2, …; the import sees that (last_insert_rowid, max(id)) and looks the ids up."""
    db = world.db
    with db.write() as c:
        c.exec_driver_sql(
            "CREATE TRIGGER test_shadow_recipient BEFORE INSERT ON recipients WHEN NEW.payer_number <> 'shadow' "
            "BEGIN INSERT INTO recipients (payer_number, recipient_number, name, name_kana, sex, birthdate, "
            "qualification_date, created_at, updated_at) VALUES ('shadow', NEW.recipient_number, NEW.name, "
            "NEW.name_kana, NEW.sex, NEW.birthdate, NEW.qualification_date, NEW.created_at, NEW.updated_at); END"
        )
    try:
        world.recipient()  # not empty before the import
        data = csv_bytes(RECIPIENT_HEADER, [recipient_line(rn) for rn in NUMBERS[:1200]])
        import_csv(db, world.principal("office"), "recipients", data)
        ids = ids_by_number(db)
        assert created_entries(db)[1:] == [(ids[rn], None) for rn in NUMBERS[:1200]]
    finally:
        with db.write() as c:
            c.exec_driver_sql("DROP TRIGGER test_shadow_recipient")
            c.exec_driver_sql("DELETE FROM recipients WHERE payer_number = 'shadow'")
