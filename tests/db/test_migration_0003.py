"""Migration 0003 (issue 8) on a database holding data from before it, on SQLite and PostgreSQL:
facility organisations become registered facilities, existing 「医療扶助」 settings stay while new ones
start off, old tokens and users keep their full rights (manager), reason_of_loss becomes 廃止 with
the old reason as text, and the schema then equals fujo.db.schema (also after a downgrade and again
an upgrade)."""

from __future__ import annotations

from alembic import command
from sqlalchemy import text

from fujo.db.migrate import alembic_config, differences
from tests.db.test_migration_0002 import _upgrade, fresh  # noqa: F401  (the fixture)


def _diff(db):
    return differences(db, compare_server_default=True)


def test_0003_keeps_old_rows_and_equals_the_schema(fresh):  # noqa: F811
    db = fresh
    _upgrade(db, "0002")
    with db.engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO organisations (kind, code, name, phone, medical_assistance_enabled, created_at) "
                "VALUES ('facility', '1311234569', '●●医療機関', '03-0000-3333', true, CURRENT_TIMESTAMP)"
            )
        )
        c.execute(
            text(
                "INSERT INTO credentials (organisation_id, token_hash, label, created_at) "
                "VALUES (1, 'h', 'old', CURRENT_TIMESTAMP)"
            )
        )
        c.execute(
            text(
                "INSERT INTO users (organisation_id, login, password_hash, display_name, created_at) "
                "VALUES (1, 'old', 'x', 'old', CURRENT_TIMESTAMP)"
            )
        )
        c.execute(
            text(
                "INSERT INTO recipients (payer_number, recipient_number, name, name_kana, sex, birthdate, "
                "qualification_date, disqualification_date, reason_of_loss, created_at, updated_at) VALUES "
                "('12130019', '1010008', '生保一郎', 'ｾｲﾎ', '1', '1990-01-15', '2020-04-01', '2024-07-01', '01', "
                "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
    _upgrade(db, "head")
    with db.engine.begin() as c:
        assert c.execute(text("SELECT code, name, score_table, prefecture, phone FROM facilities")).all() == [
            ("1311234569", "●●医療機関", "1", "13", "03-0000-3333")
        ]
        assert c.execute(text("SELECT medical_assistance_enabled FROM organisations")).scalar() in (True, 1)
        assert c.execute(text("SELECT role FROM credentials")).scalar() == "manager"
        assert c.execute(text("SELECT role FROM users")).scalar() == "manager"
        assert c.execute(text("SELECT disqualification_kind, disqualification_reason FROM recipients")).one() == (
            "2",
            "死亡",
        )
        c.execute(
            text(
                "INSERT INTO organisations (kind, code, name, created_at) "
                "VALUES ('facility', '1341234563', '■■薬局', CURRENT_TIMESTAMP)"
            )
        )
        assert c.execute(
            text("SELECT medical_assistance_enabled FROM organisations WHERE code = '1341234563'")
        ).scalar() in (False, 0)
    assert _diff(db) == []
    cfg = alembic_config(db)
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0002")
    _upgrade(db, "head")
    assert _diff(db) == []
