"""Migration 0002 (issue 7) on a database holding data from before it, on SQLite and PostgreSQL:
the new insurance columns arrive empty, the old InsuredCardClassification 02/03 (read then as
国保/後期高齢) become 01 被保険者証（一般）, and check_log.consent takes the 5th/6th consent bits."""

from __future__ import annotations

import datetime as dt
import os
import uuid

import pytest
from alembic import command
from sqlalchemy import create_engine, text

from fujo.db.database import Database
from fujo.db.migrate import alembic_config

PG_ADMIN_URL = os.environ.get("FUJO_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh(request, tmp_path):
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'm.db'}")
        yield db
        db.dispose()
        return
    name = f"fujo_m0002_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    db = Database(f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}")
    yield db
    db.dispose()
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _upgrade(db: Database, to: str) -> None:
    cfg = alembic_config(db)
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, to)


def test_0002_keeps_old_rows_and_maps_the_old_insurer_kind_codes(fresh):
    _upgrade(fresh, "0001")
    now = dt.datetime(2024, 7, 1, tzinfo=dt.UTC)
    with fresh.engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO organisations (id, kind, code, name, medical_assistance_enabled, created_at) "
                "VALUES (1, 'insurer', '06139992', 'x', true, :now)"
            ),
            {"now": now},
        )
        for i, cls in enumerate(("01", "02", "03"), start=1):
            c.execute(
                text(
                    "INSERT INTO insurance_qualifications (id, registered_by, insurer_number, insurer_name, "
                    "insured_card_classification, card_number, name, name_kana, sex, birthdate, "
                    "qualification_date, created_at, updated_at) VALUES (:id, 1, '06139992', 'x', :cls, :n, "
                    "'a', 'ｱ', '1', '1990-01-15', '2019-04-01', :now, :now)"
                ),
                {"id": i, "cls": cls, "n": str(i), "now": now},
            )
    _upgrade(fresh, "0002")
    with fresh.engine.begin() as c:
        rows = c.execute(
            text(
                "SELECT insured_card_classification, contribution_ratio, card_valid_from, "
                "limit_classification, specific_disease_self_pay FROM insurance_qualifications "
                "ORDER BY id"
            )
        ).all()
        c.execute(
            text(
                "INSERT INTO check_log (at, organisation_id, method, outcome, consent) "
                "VALUES (:now, 1, 'card', '1', '100011')"
            ),
            {"now": now},
        )
        assert c.execute(text("SELECT consent FROM check_log")).scalar_one() == "100011"
    assert [tuple(r) for r in rows] == [("01", None, None, None, None)] * 3
