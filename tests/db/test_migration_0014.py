"""Migration 0014 (issue 12) on a database holding tickets from before it, on SQLite and PostgreSQL:
every revision stays with its id, on PostgreSQL each in its month's partition, the id sequence goes
on, and the schema equals fujo.db.schema — also after a downgrade (tickets one table again, rows
kept) and again an upgrade."""

from __future__ import annotations

from alembic import command
from sqlalchemy import text

from fujo.db.migrate import alembic_config, differences
from tests.db.test_migration_0002 import _upgrade, fresh  # noqa: F401  (the fixture)

COLUMNS = "id, ticket_key, revision, recipient_id, status, treatment_month, seq, superseded_by"


def _tickets(db) -> list[tuple]:
    with db.engine.begin() as c:
        return [tuple(r) for r in c.execute(text(f"SELECT {COLUMNS} FROM tickets ORDER BY id"))]


def _where(db) -> dict[str, int]:
    with db.engine.begin() as c:
        rows = c.execute(text("SELECT tableoid::regclass::text, count(*) FROM tickets GROUP BY 1")).all()
    return {str(n): int(k) for n, k in rows}


def _insert(c, id_: int, key: str, revision: int, month: str, seq: int, superseded_by: int | None) -> None:
    c.execute(
        text(
            "INSERT INTO tickets (id, ticket_key, revision, recipient_id, status, ticket_type, treatment_month, "
            "valid_from, valid_to, designated_facility_code, designated_facility_name, treatment_type, "
            "single_or_combined, superseded_by, seq, registered_at, changed_at) VALUES (:id, :key, :rev, 1, "
            "'active', '01', :month, '2024-07-01', '2024-07-31', '1311234569', '●●医療機関', '02', '01', :sup, "
            ":seq, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
        ),
        {"id": id_, "key": key, "rev": revision, "month": month, "seq": seq, "sup": superseded_by},
    )


def test_0014_keeps_every_revision_and_equals_the_schema(fresh):  # noqa: F811
    db = fresh
    _upgrade(db, "0013")
    with db.engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO recipients (id, payer_number, recipient_number, name, name_kana, sex, birthdate, "
                "qualification_date, version, created_at, updated_at) VALUES (1, '12130019', '1010008', "
                "'生保一郎', 'ｾｲﾎ', '1', '1990-01-15', '2020-04-01', 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
        _insert(c, 1, "k1", 1, "202407", 1, 3)  # amended into August: revision 2 is id 3
        _insert(c, 2, "k2", 1, "202407", 2, None)
        _insert(c, 3, "k1", 2, "202408", 3, None)
        if db.engine.dialect.name == "postgresql":
            c.execute(text("SELECT setval('tickets_id_seq', 3)"))
    before = _tickets(db)
    _upgrade(db, "head")
    assert _tickets(db) == before
    assert differences(db, compare_server_default=True) == []
    postgresql = db.engine.dialect.name == "postgresql"
    if postgresql:
        assert _where(db) == {"tickets_y2024m07": 2, "tickets_y2024m08": 1}
    with db.engine.begin() as c:  # the next ticket gets the next id, in its month
        c.execute(
            text(
                "INSERT INTO tickets (ticket_key, revision, recipient_id, status, ticket_type, treatment_month, "
                "valid_from, valid_to, designated_facility_code, designated_facility_name, treatment_type, "
                "single_or_combined, seq, registered_at, changed_at) VALUES ('k3', 1, 1, 'active', '01', "
                "'202408', '2024-08-01', '2024-08-31', '1311234569', '●●医療機関', '02', '01', 4, "
                "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
    after = _tickets(db)
    assert after[:3] == before and after[3][0] == 4
    cfg = alembic_config(db)
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0013")
    assert _tickets(db) == after
    if postgresql:
        assert _where(db) == {"tickets": 4}  # one table again
    _upgrade(db, "head")
    assert _tickets(db) == after
    assert differences(db, compare_server_default=True) == []
